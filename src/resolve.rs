//! Name resolution: IP literals, fixed addresses (`--resolve`), a resolver of the
//! caller's, loopback for `localhost`, or the system's `getaddrinfo` bounded by the
//! connect time limit.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use crate::deadline::Budget;
use crate::error::{Error, Result};
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

/// Lookups of the system resolver that a client may leave running. A lookup that
/// overruns the connect limit is left to finish on its helper thread (getaddrinfo
/// cannot be cancelled); while DNS hangs, each new request would leave one more
/// thread behind. Four cover a few threads of a daemon giving up at once; past
/// that, requests fail fast with [`Error::Resolve`] until one of them ends.
/// Lookups that callers still wait for are not counted: there is one per caller.
const MAX_ABANDONED_LOOKUPS: usize = 4;

/// Whether `host` (lower case, as in a netloc) is `localhost` or a name under it:
/// loopback by RFC 6761, whatever DNS or a hosts file would say.
fn is_localhost(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host == "localhost" || host.ends_with(".localhost")
}

/// A blocking lookup of `host:port`, run on a helper thread.
type Lookup = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

/// The system's resolver (`getaddrinfo`).
fn getaddrinfo(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(|a| a.collect())
}

/// How a client finds addresses.
#[derive(Clone)]
pub(crate) struct Resolver {
    /// Fixed addresses for `host:port` pairs, like curl's `--resolve`.
    pub fixed: HashMap<(String, u16), Vec<SocketAddr>>,
    pub custom: Option<Arc<dyn Resolve>>,
    /// The blocking lookup: [`getaddrinfo`], or a stand-in in unit tests.
    lookup: Lookup,
    /// System lookups whose callers gave up and that still run (at most
    /// [`MAX_ABANDONED_LOOKUPS`], give or take callers giving up at the same time).
    abandoned: Arc<AtomicUsize>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver {
            fixed: HashMap::new(),
            custom: None,
            lookup: getaddrinfo,
            abandoned: Arc::default(),
        }
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("fixed", &self.fixed)
            .field("custom", &self.custom.is_some())
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// The addresses of a netloc: an IP literal as is, a fixed entry, the custom
    /// resolver, or the system's, within the connect `budget`.
    pub fn resolve(
        &self,
        netloc: &Netloc,
        budget: &mut Budget,
        host: &str,
    ) -> Result<Vec<SocketAddr>> {
        if let Ok(ip) = netloc.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, netloc.port)]);
        }
        if let Some(addrs) = self.fixed.get(&(netloc.host.to_string(), netloc.port)) {
            return Ok(addrs.clone());
        }
        let addrs = match &self.custom {
            None if is_localhost(&netloc.host) => {
                // RFC 6761 §6.3: loopback, without asking the system (and without a
                // helper thread: nothing to wait for). IPv4 first: what a local
                // service listens on most often; IPv6 if that is refused.
                let v4 = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), netloc.port);
                let v6 = SocketAddr::new(IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1u16]), netloc.port);
                vec![v4, v6]
            }
            Some(custom) => {
                custom
                    .resolve(&netloc.host, netloc.port)
                    .map_err(|e| Error::Resolve {
                        host: (*netloc.host).into(),
                        source: e,
                    })?
            }
            None => self.system_resolve(netloc, budget, host)?,
        };
        if addrs.is_empty() {
            return Err(Error::Resolve {
                host: (*netloc.host).into(),
                source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
            });
        }
        Ok(addrs)
    }

    /// DNS bounded by the connect budget: the lookup runs on a helper thread that is
    /// left to finish on its own if it overruns, counted among the
    /// [`MAX_ABANDONED_LOOKUPS`] until it does.
    fn system_resolve(
        &self,
        netloc: &Netloc,
        budget: &mut Budget,
        host: &str,
    ) -> Result<Vec<SocketAddr>> {
        let (limit, phase) = budget.limit_for(host)?;
        if self.abandoned.load(Ordering::Acquire) >= MAX_ABANDONED_LOOKUPS {
            return Err(Error::Resolve {
                host: (*netloc.host).into(),
                source: io::Error::other(format!(
                    "{MAX_ABANDONED_LOOKUPS} earlier DNS lookups timed out and are still \
                     unanswered; check the network and the resolver (/etc/resolv.conf)"
                )),
            });
        }
        let state = Arc::new(AtomicU8::new(WAITED_FOR));
        let (tx, rx) = mpsc::channel();
        let name = (netloc.host.to_string(), netloc.port);
        let lookup = self.lookup;
        let (thread_state, abandoned) = (state.clone(), self.abandoned.clone());
        std::thread::Builder::new()
            .name("tinyhttps-resolve".into())
            .stack_size(RESOLVER_STACK)
            .spawn(move || {
                let result = lookup(&name.0, name.1);
                if thread_state.swap(ENDED, Ordering::AcqRel) == ABANDONED {
                    abandoned.fetch_sub(1, Ordering::AcqRel);
                }
                let _ = tx.send(result);
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
            Err(_) => {
                // Counted first, so the thread's decrement can never come before it.
                self.abandoned.fetch_add(1, Ordering::AcqRel);
                let left = state.compare_exchange(
                    WAITED_FOR,
                    ABANDONED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                if left.is_err() {
                    // It ended just now: nothing is left running.
                    self.abandoned.fetch_sub(1, Ordering::AcqRel);
                }
                Err(budget.timeout(phase, host))
            }
        }
    }
}

// A lookup's state, shared by its caller and its helper thread.
/// The caller still waits for the answer.
const WAITED_FOR: u8 = 0;
/// The caller gave up; the lookup counts among the abandoned until it ends.
const ABANDONED: u8 = 1;
/// The lookup has its answer.
const ENDED: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::{Deadline, Timeouts};
    use crate::error::Phase;
    use std::sync::{Condvar, Mutex};
    use std::time::{Duration, Instant};

    /// Whether hanging lookups may answer, and how many have started.
    static GATE: Mutex<(bool, usize)> = Mutex::new((false, 0));
    static OPENED: Condvar = Condvar::new();

    /// A lookup that hangs until the gate opens, like a resolver that never answers.
    fn hanging_lookup(_: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let mut gate = GATE.lock().unwrap();
        gate.1 += 1;
        while !gate.0 {
            gate = OPENED.wait(gate).unwrap();
        }
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    }

    fn started() -> usize {
        GATE.lock().unwrap().1
    }

    fn lookup_within(resolver: &Resolver, connect: Duration) -> Result<Vec<SocketAddr>> {
        let timeouts = Timeouts {
            connect,
            ..Timeouts::default()
        };
        let netloc = Netloc::from_uri(&"http://dns.test/".parse().unwrap()).unwrap();
        let mut budget = Deadline::start(timeouts).budget(Phase::Connect);
        resolver.resolve(&netloc, &mut budget, "dns.test:80")
    }

    #[test]
    fn hanging_lookups_are_bounded_and_slots_free_up_when_they_end() {
        let resolver = Resolver {
            lookup: hanging_lookup,
            ..Resolver::default()
        };
        // Each caller gives up after its short connect limit; its lookup stays.
        // (Lookups callers still wait for are not limited: see the pool tests,
        // eight threads resolving at once.)
        for _ in 0..MAX_ABANDONED_LOOKUPS {
            let err = lookup_within(&resolver, Duration::from_millis(20)).unwrap_err();
            assert_eq!(err.timeout_phase(), Some(Phase::Connect), "{err}");
        }
        assert_eq!(
            resolver.abandoned.load(Ordering::SeqCst),
            MAX_ABANDONED_LOOKUPS
        );
        // One more fails at once, without starting a thread, even with time to wait.
        let start = Instant::now();
        let err = lookup_within(&resolver, Duration::from_secs(30)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "failed fast");
        assert!(matches!(err, Error::Resolve { .. }), "{err}");
        assert!(err.to_string().contains("still unanswered"), "{err}");
        let waited = Instant::now();
        while started() < MAX_ABANDONED_LOOKUPS && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(started(), MAX_ABANDONED_LOOKUPS, "no fifth lookup started");
        // The resolver answers again: the hanging lookups end and free their slots.
        GATE.lock().unwrap().0 = true;
        OPENED.notify_all();
        let waited = Instant::now();
        while resolver.abandoned.load(Ordering::SeqCst) > 0
            && waited.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(resolver.abandoned.load(Ordering::SeqCst), 0);
        let addrs = lookup_within(&resolver, Duration::from_secs(10)).unwrap();
        assert_eq!(addrs, vec![SocketAddr::from(([127, 0, 0, 1], 80))]);
    }

    /// A lookup that must not run.
    fn no_lookup(host: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        panic!("the system resolver was asked for {host}");
    }

    #[test]
    fn localhost_is_loopback_without_the_system_resolver() {
        let resolver = Resolver {
            lookup: no_lookup,
            ..Resolver::default()
        };
        for url in [
            "http://localhost:81/",
            "http://LocalHost.:81/",
            "http://api.localhost:81/",
        ] {
            let netloc = Netloc::from_uri(&url.parse().unwrap()).unwrap();
            let mut budget = Deadline::start(Timeouts::default()).budget(Phase::Connect);
            let addrs = resolver
                .resolve(&netloc, &mut budget, "localhost:81")
                .unwrap();
            let want: [SocketAddr; 2] =
                ["127.0.0.1:81".parse().unwrap(), "[::1]:81".parse().unwrap()];
            assert_eq!(addrs, want, "{url}");
        }
        // Not under localhost: the system resolver is asked (and here panics).
        let netloc = Netloc::from_uri(&"http://localhost.example/".parse().unwrap()).unwrap();
        let mut budget = Deadline::start(Timeouts::default()).budget(Phase::Connect);
        assert!(resolver
            .resolve(&netloc, &mut budget, "localhost.example:80")
            .is_err());
    }
}
