//! Root certificate sources and the cache of their parsed stores.
//!
//! Parsing a 144-certificate PEM bundle costs ~10 M instructions on a Cortex-A7: each
//! source is parsed once and shared as `Arc<RootCertStore>` by every config that uses
//! it. A PEM file or directory is parsed again only when its size or mtime changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::error::{Error, Result};
use crate::stats::Counters;
use crate::sync::lock;

/// Bundle files that firmware images and distributions ship, tried in order when
/// neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` is set.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Yocto, Buildroot, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/ssl/cert.pem",                  // Alpine, OpenWrt, macOS-style
    "/etc/ssl/ca-bundle.pem",             // openSUSE
];

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RootSource {
    /// Mozilla's set compiled in by `webpki-roots`.
    #[cfg(feature = "webpki-roots")]
    Webpki,
    /// Every certificate in one PEM file.
    PemFile(PathBuf),
    /// Every certificate in the `*.pem`/`*.crt` files of a directory.
    PemDir(PathBuf),
    /// PEM text given in memory.
    PemBytes(Arc<[u8]>),
    /// The system store: `SSL_CERT_FILE`, `SSL_CERT_DIR`, else a known bundle path.
    System,
}

/// What files were read as, to notice changes on disk: size, mtime and inode of
/// each (a file renamed over another is new even within one mtime tick).
pub(crate) type Stamp = Vec<(u64, Option<SystemTime>, u64)>;

struct Parsed {
    stamp: Stamp,
    store: Arc<RootCertStore>,
}

/// The parsed-store cache, shared by all policies of a client.
#[derive(Default)]
pub(crate) struct RootStores {
    parsed: Mutex<HashMap<RootSource, Parsed>>,
}

impl RootStores {
    /// The parsed store of `source`, parsing only if it was never parsed or its files
    /// changed. The lock is not held while parsing.
    pub fn get(&self, source: &RootSource, counters: &Counters) -> Result<Arc<RootCertStore>> {
        let files = source_files(source)?;
        let stamp = stamp(&files);
        if let Some(p) = lock(&self.parsed).get(source) {
            if p.stamp == stamp {
                return Ok(p.store.clone());
            }
        }
        let store = Arc::new(parse(source, &files)?);
        Counters::add(&counters.root_store_parses, 1);
        debug!(
            "parsed root store {source:?}: {} certificates",
            store.roots.len()
        );
        lock(&self.parsed).insert(
            source.clone(),
            Parsed {
                stamp,
                store: store.clone(),
            },
        );
        Ok(store)
    }

    /// Whether `held` is still the store of `source`: its files have the stamps they
    /// were parsed with (a `stat` each; in-memory sources are always current).
    pub fn is_current(&self, source: &RootSource, held: &Arc<RootCertStore>) -> bool {
        let Ok(files) = source_files(source) else {
            return false;
        };
        let stamp = stamp(&files);
        lock(&self.parsed)
            .get(source)
            .is_some_and(|p| p.stamp == stamp && Arc::ptr_eq(&p.store, held))
    }
}

/// The files a source reads, in a stable order (none for in-memory sources).
fn source_files(source: &RootSource) -> Result<Vec<PathBuf>> {
    match source {
        #[cfg(feature = "webpki-roots")]
        RootSource::Webpki => Ok(Vec::new()),
        RootSource::PemBytes(_) => Ok(Vec::new()),
        RootSource::PemFile(path) => Ok(vec![path.clone()]),
        RootSource::PemDir(dir) => pem_files_in(dir),
        RootSource::System => system_files(),
    }
}

fn pem_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::config(format_args!("cannot read {}: {e}", dir.display())))?;
    let found = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(p.extension().and_then(|x| x.to_str()), Some("pem" | "crt")) && p.is_file()
        });
    // Kept sorted as they come: a few hundred names at most, and no sort's code
    // (~3 KiB on armv7). All in `dir`, so the paths' bytes order them by name.
    let mut files: Vec<PathBuf> = Vec::new();
    for file in found {
        let at = files
            .binary_search_by(|p| p.as_os_str().cmp(file.as_os_str()))
            .unwrap_or_else(|at| at);
        files.insert(at, file);
    }
    Ok(files)
}

fn system_files() -> Result<Vec<PathBuf>> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return Ok(vec![PathBuf::from(file)]);
    }
    if let Some(dir) = std::env::var_os("SSL_CERT_DIR") {
        return pem_files_in(Path::new(&dir));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .map(|p| vec![p])
        .ok_or_else(|| {
            Error::config(format_args!(
                "no system root store: SSL_CERT_FILE and SSL_CERT_DIR are unset and none of {SYSTEM_BUNDLES:?} exists"
            ))
        })
}

/// The stamps of `files`: one `stat` each.
pub(crate) fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| match std::fs::metadata(f) {
            Ok(m) => (m.len(), m.modified().ok(), inode(&m)),
            Err(_) => (u64::MAX, None, 0),
        })
        .collect()
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

fn parse(source: &RootSource, files: &[PathBuf]) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match source {
        #[cfg(feature = "webpki-roots")]
        RootSource::Webpki => {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        RootSource::PemBytes(pem) => add_pem(&mut store, pem, "PEM bytes")?,
        _ => {
            for file in files {
                let pem = std::fs::read(file).map_err(|e| {
                    Error::config(format_args!("cannot read {}: {e}", file.display()))
                })?;
                add_pem(&mut store, &pem, &file.display().to_string())?;
            }
        }
    }
    if store.is_empty() {
        return Err(Error::config(format_args!(
            "no usable certificate in {source:?}: refusing an empty trust store"
        )));
    }
    Ok(store)
}

/// Adds every certificate of a PEM text; a malformed one is an error naming where.
fn add_pem(store: &mut RootCertStore, pem: &[u8], origin: &str) -> Result<()> {
    for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| {
            Error::config(format_args!("{origin}: certificate #{index}: bad PEM: {e}"))
        })?;
        store.add(cert).map_err(|e| {
            Error::config(format_args!(
                "{origin}: certificate #{index} is not a usable root: {e}"
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "webpki-roots")]
    fn webpki_roots_are_parsed_once_and_shared() {
        let stores = RootStores::default();
        let counters = Counters::default();
        let a = stores.get(&RootSource::Webpki, &counters).unwrap();
        let b = stores.get(&RootSource::Webpki, &counters).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.len() > 100);
        assert_eq!(counters.snapshot().root_store_parses, 1);
    }

    #[test]
    fn pem_without_certificates_is_an_error_not_an_empty_store() {
        let stores = RootStores::default();
        let source = RootSource::PemBytes(Arc::from(&b"no certificates here\n"[..]));
        let err = stores.get(&source, &Counters::default()).unwrap_err();
        assert!(err.to_string().contains("no usable certificate"), "{err}");
    }

    #[test]
    fn broken_pem_names_the_certificate_index() {
        let pem = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let source = RootSource::PemBytes(Arc::from(&pem[..]));
        let err = RootStores::default()
            .get(&source, &Counters::default())
            .unwrap_err();
        assert!(err.to_string().contains("certificate #0"), "{err}");
    }

    #[test]
    fn missing_file_is_named() {
        let source = RootSource::PemFile("/nonexistent/ca.pem".into());
        let err = RootStores::default()
            .get(&source, &Counters::default())
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
