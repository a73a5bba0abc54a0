//! `tinyhttps-get URL CA_PEM`: one GET trusting only the roots in CA_PEM; prints the
//! number of body bytes. Only for measuring binary size (see Cargo.toml).

use std::io;
use std::process::ExitCode;

use tinyhttps::{Client, TlsSettings};

fn get(url: &str, ca: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem_file(ca))
        .build()?;
    let response = client.get(url).call()?;
    if !response.status().is_success() {
        return Err(format!("HTTP status {}", response.status()).into());
    }
    Ok(io::copy(&mut response.into_reader(), &mut io::sink())?)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, ca] = &args[..] else {
        eprintln!("usage: tinyhttps-get URL CA_PEM");
        return ExitCode::from(2);
    };
    match get(url, ca) {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
