//! A policy's client identity (mTLS): given in memory, or read from files and read
//! again when they change, its key in a PEM file or held in hardware behind the
//! caller's [`SigningKey`].
//!
//! Files are stamped (size, mtime, inode) like root files and re-checked with them
//! (at most every [`TRUST_RECHECK_INTERVAL`](crate::TRUST_RECHECK_INTERVAL), and
//! whenever a config is built). A change that loads is a new identity: the policy
//! is reset (sessions, configs, idle connections). A change that does not load (a
//! half-written file, a certificate whose key has not arrived yet) keeps the last
//! good identity: it is logged once at `warn`, and the TLS errors of the policy's
//! connections say so until the files change again.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SigningKey};

use super::roots::{stamp, Stamp};
use super::x509;
use crate::error::{Error, Result};

use super::lock;

/// Where a client identity comes from.
#[derive(Clone)]
pub(crate) enum IdentitySource {
    /// Given in memory, for the life of the client.
    Fixed(Arc<CertifiedKey>),
    /// The chain (leaf first) from a PEM file; the key as `key` says. Read again
    /// when a file changes.
    Files { cert: PathBuf, key: KeySource },
}

/// Where the key of an identity read from files comes from.
#[derive(Clone)]
pub(crate) enum KeySource {
    /// A PEM file: PKCS#8, PKCS#1 or SEC1.
    PemFile(PathBuf),
    /// The caller's code: a TPM, a secure element, PKCS#11.
    Signer(Arc<dyn SigningKey>),
}

impl fmt::Debug for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Paths only: never the key.
        match self {
            IdentitySource::Fixed(_) => f.write_str("in memory"),
            IdentitySource::Files { cert, key } => {
                let key = match key {
                    KeySource::PemFile(path) => path.display().to_string(),
                    KeySource::Signer(_) => "signing key".to_string(),
                };
                write!(f, "files {} + {key}", cert.display())
            }
        }
    }
}

/// A policy's client identity and, for files, what was last read from them.
pub(crate) struct Identity {
    source: Option<IdentitySource>,
    loaded: Mutex<Option<Loaded>>,
}

struct Loaded {
    /// The stamp of the files the identity was read from.
    stamp: Stamp,
    key: Arc<CertifiedKey>,
    /// The stamp of a later change that did not load, and why: logged once per
    /// change, shown in TLS errors while the last good identity stands in.
    refused: Option<(Stamp, Arc<str>)>,
}

impl Identity {
    pub fn new(source: Option<IdentitySource>) -> Identity {
        Identity {
            source,
            loaded: Mutex::new(None),
        }
    }

    /// Whether the identity comes from files that may change.
    pub fn watches_files(&self) -> bool {
        matches!(self.source, Some(IdentitySource::Files { .. }))
    }

    /// The identity to show: the one in memory, or the files' (read again if their
    /// stamp changed: one `stat` per file). A change that does not load keeps the
    /// last good identity; with none loaded yet it is an error naming the file.
    pub fn current(&self) -> Result<Option<Arc<CertifiedKey>>> {
        let (cert, key) = match &self.source {
            None => return Ok(None),
            Some(IdentitySource::Fixed(key)) => return Ok(Some(key.clone())),
            Some(IdentitySource::Files { cert, key }) => (cert, key),
        };
        let files = match key {
            KeySource::PemFile(key) => vec![cert.clone(), key.clone()],
            KeySource::Signer(_) => vec![cert.clone()],
        };
        let stamp = stamp(&files);
        if let Some(held) = lock(&self.loaded).as_ref() {
            let refused = held.refused.as_ref().is_some_and(|(s, _)| *s == stamp);
            if held.stamp == stamp || refused {
                return Ok(Some(held.key.clone()));
            }
        }
        // Read outside the lock; two threads may both read, the first stored wins.
        let result = load(cert, key);
        let mut loaded = lock(&self.loaded);
        match (result, loaded.as_mut()) {
            (_, Some(held)) if held.stamp == stamp => Ok(Some(held.key.clone())),
            (Ok(new), _) => {
                debug!("loaded client identity from {}", cert.display());
                *loaded = Some(Loaded {
                    stamp,
                    key: new.clone(),
                    refused: None,
                });
                Ok(Some(new))
            }
            (Err(why), Some(held)) => {
                if held.refused.as_ref().is_none_or(|(s, _)| *s != stamp) {
                    warn!(
                        "client identity {} changed but cannot be used: {why}; \
                         keeping the last good identity",
                        cert.display()
                    );
                    held.refused = Some((stamp, why.into()));
                }
                Ok(Some(held.key.clone()))
            }
            (Err(why), None) => Err(Error::config(format_args!("client identity: {why}"))),
        }
    }

    /// The notAfter of the identity's certificate (loading it if needed), in
    /// seconds since the epoch.
    pub fn not_after(&self) -> Option<i64> {
        let key = self.current().ok().flatten()?;
        let leaf = key.end_entity_cert().ok()?;
        x509::validity(leaf).map(|v| v.not_after)
    }

    /// `e` with, for a TLS error while a changed identity file is refused, why the
    /// last good identity was shown instead: a server refusing it is the likely
    /// cause.
    pub fn explain(&self, e: Error) -> Error {
        let why = lock(&self.loaded)
            .as_ref()
            .and_then(|held| held.refused.as_ref().map(|(_, why)| why.clone()));
        match (e, why) {
            (Error::Tls { host, source }, Some(why)) => Error::Tls {
                host,
                source: Box::new(Refused { error: source, why }),
            },
            (e, _) => e,
        }
    }
}

/// Reads an identity: the chain from `cert`, the key from its file or the signer;
/// the key must be the certificate's.
fn load(cert: &Path, key: &KeySource) -> Result<Arc<CertifiedKey>, String> {
    let pem = std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: bad PEM: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", cert.display()));
    }
    let (signer, key_name) = match key {
        KeySource::PemFile(path) => {
            let der = PrivateKeyDer::from_pem_file(path)
                .map_err(|e| format!("key {}: {e}", path.display()))?;
            let signer = rustls::crypto::ring::sign::any_supported_type(&der)
                .map_err(|e| format!("key {}: {e}", path.display()))?;
            (signer, format!("the key in {}", path.display()))
        }
        KeySource::Signer(signer) => (signer.clone(), "the signing key".to_string()),
    };
    let identity = CertifiedKey::new(chain, signer);
    match identity.keys_match() {
        // A signer that does not tell its public key cannot be checked here.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(identity))
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err(format!(
            "the certificate in {} is not for {key_name}",
            cert.display()
        )),
        Err(e) => Err(format!("{}: {e}", cert.display())),
    }
}

/// A TLS error while a changed client identity was refused: says so after it.
#[derive(Debug)]
struct Refused {
    error: Box<dyn StdError + Send + Sync>,
    why: Arc<str>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (the client identity files changed but cannot be used: {}; \
             the last good identity was shown)",
            self.error, self.why
        )
    }
}

impl StdError for Refused {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.error.as_ref())
    }
}
