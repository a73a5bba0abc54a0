//! Name resolution: IP literals, fixed addresses (`--resolve`), a resolver of the
//! caller's, or the system's `getaddrinfo` bounded by the connect time limit.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Arc};

use crate::deadline::Deadline;
use crate::error::{Error, Phase, Result};
use crate::netloc::Netloc;

/// Stack of the thread that runs a blocking `getaddrinfo` so that its time can be
/// bounded: glibc's resolver needs some tens of KiB; 256 KiB is ample and only
/// touched pages cost memory.
const RESOLVER_STACK: usize = 256 * 1024;

/// A name resolver of your own, for [`ClientBuilder::resolver`](crate::ClientBuilder::resolver):
/// a fixed address table, a cache, a service-discovery lookup.
///
/// It runs on the calling thread, inside the connect time limit's accounting but
/// without a way to interrupt it: keep it quick.
///
/// ```
/// use std::net::SocketAddr;
/// struct Table;
/// impl tinyhttps::Resolve for Table {
///     fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
///         match host {
///             "backend.lan" => Ok(vec![SocketAddr::from(([10, 0, 0, 5], port))]),
///             _ => Err(std::io::ErrorKind::NotFound.into()),
///         }
///     }
/// }
/// let client = tinyhttps::Client::builder().resolver(Table).build()?;
/// # let _ = client; Ok::<(), tinyhttps::Error>(())
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (never an IP literal: those are used as they are), in
    /// the order to try them. `port` is the one to connect to.
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// How a client finds addresses.
#[derive(Default, Clone)]
pub(crate) struct Resolver {
    /// Fixed addresses for `host:port` pairs, like curl's `--resolve`.
    pub fixed: HashMap<(String, u16), Vec<SocketAddr>>,
    pub custom: Option<Arc<dyn Resolve>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("fixed", &self.fixed)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

impl Resolver {
    /// The addresses of a netloc: an IP literal as is, a fixed entry, the custom
    /// resolver, or the system's.
    pub fn resolve(
        &self,
        netloc: &Netloc,
        deadline: &Deadline,
        host: &str,
    ) -> Result<Vec<SocketAddr>> {
        if let Ok(ip) = netloc.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, netloc.port)]);
        }
        if let Some(addrs) = self.fixed.get(&(netloc.host.to_string(), netloc.port)) {
            return Ok(addrs.clone());
        }
        let addrs = match &self.custom {
            Some(custom) => {
                custom
                    .resolve(&netloc.host, netloc.port)
                    .map_err(|e| Error::Resolve {
                        host: (*netloc.host).into(),
                        source: e,
                    })?
            }
            None => system_resolve(netloc, deadline, host)?,
        };
        if addrs.is_empty() {
            return Err(Error::Resolve {
                host: (*netloc.host).into(),
                source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
            });
        }
        Ok(addrs)
    }
}

/// DNS bounded by the connect time limit: getaddrinfo runs on a helper thread that is
/// left to finish on its own if it overruns.
fn system_resolve(netloc: &Netloc, deadline: &Deadline, host: &str) -> Result<Vec<SocketAddr>> {
    let (limit, phase) = deadline.limit_for(Phase::Connect, host)?;
    let (tx, rx) = mpsc::channel();
    let name = (netloc.host.to_string(), netloc.port);
    std::thread::Builder::new()
        .name("tinyhttps-resolve".into())
        .stack_size(RESOLVER_STACK)
        .spawn(move || {
            let _ = tx.send(name.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
        })
        .map_err(|e| Error::Resolve {
            host: host.into(),
            source: e,
        })?;
    match rx.recv_timeout(limit) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Error::Resolve {
            host: (*netloc.host).into(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        }),
        Ok(Err(e)) => Err(Error::Resolve {
            host: (*netloc.host).into(),
            source: e,
        }),
        Err(_) => Err(Error::Timeout {
            phase,
            host: host.into(),
        }),
    }
}
