//! `ureq-get URL CA_PEM`: one GET trusting only the roots in CA_PEM; prints the number
//! of body bytes. Only for measuring binary size (see Cargo.toml).

use std::io;
use std::process::ExitCode;

use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};

fn get(url: &str, ca: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let pem = std::fs::read(ca)?;
    let mut roots = Vec::new();
    for item in parse_pem(&pem) {
        if let PemItem::Certificate(cert) = item? {
            roots.push(cert);
        }
    }
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .build();
    let agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .build()
        .new_agent();
    // ureq's default http_status_as_error makes a non-2xx status an Err here.
    let response = agent.get(url).call()?;
    Ok(io::copy(
        &mut response.into_body().into_reader(),
        &mut io::sink(),
    )?)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, ca] = &args[..] else {
        eprintln!("usage: ureq-get URL CA_PEM");
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
