//! Counters of what a client did, and the [`Stats`] snapshot that shows them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A snapshot of a client's counters, from [`Client::stats`](crate::Client::stats).
        ///
        /// Counters only grow (but `idle_connections`, a gauge); take two snapshots
        /// and subtract to see what a piece of work cost.
        ///
        /// ```no_run
        /// # fn main() -> Result<(), tinyhttps::Error> {
        /// let client = tinyhttps::Client::new();
        /// let before = client.stats();
        /// client.get("https://device-api.example.com/v1/status").call()?.into_vec()?;
        /// let after = client.stats();
        /// let full = after.handshakes_full - before.handshakes_full;
        /// println!("{full} full handshakes; now {}", after.to_json());
        /// # Ok(()) }
        /// ```
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        /// The live counters: one relaxed atomic add per event.
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub $name: AtomicU64,)*
        }

        impl Counters {
            pub fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Relaxed),)* }
            }
        }

        impl Stats {
            /// The counters as `(name, value)` pairs, in a fixed order (for printing).
            pub fn fields(&self) -> [(&'static str, u64); counters!(@count $($name)*)] {
                [$((stringify!($name), self.$name),)*]
            }
        }
    };
    (@count $($name:ident)*) => { 0 $(+ counters!(@one $name))* };
    (@one $name:ident) => { 1 };
}

counters! {
    /// HTTP requests sent (each redirect hop and each retry counts).
    requests,
    /// TCP connections opened.
    connections_opened,
    /// TLS handshakes that were full (no session resumed).
    handshakes_full,
    /// TLS handshakes that resumed an earlier session.
    handshakes_resumed,
    /// `rustls::ClientConfig`s built.
    tls_config_builds,
    /// Lookups answered by the TLS config cache.
    tls_config_cache_hits,
    /// TLS configs evicted from the cache to make room.
    tls_config_evictions,
    /// Root certificate stores parsed (webpki-roots or PEM).
    root_store_parses,
    /// Requests that went out on a pooled connection.
    pool_reuses,
    /// Pooled connections found closed or unusable when taken out, and dropped.
    pool_stale_discards,
    /// Pooled connections closed because they sat idle past the idle timeout.
    pool_idle_expired,
    /// Requests retried on a fresh connection after a reused one failed.
    retries,
    /// Bytes written to sockets (TLS records included).
    bytes_sent,
    /// Bytes read from sockets (TLS records included).
    bytes_received,
    /// Connections idle in the pool now (a gauge, not a counter).
    idle_connections,
    /// Requests written as TLS 1.3 early data (0-RTT) in a new connection's first
    /// flight ([`ClientBuilder::early_data`](crate::ClientBuilder::early_data)).
    early_data_sent,
    /// Of those, the ones the server's TLS took as early data (it may still answer
    /// `425 Too Early`: that counts in `early_data_rejected` too).
    early_data_accepted,
    /// Early requests that had to be sent again, normally: the server's TLS refused
    /// the early data (resent on the same connection, after the handshake), or the
    /// server answered `425 Too Early`. `early_data_sent - early_data_accepted` is
    /// the first kind.
    early_data_rejected,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Relaxed);
    }
}

impl Stats {
    /// The counters as one JSON object, e.g. `{"requests":3,...}`.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        for (i, (name, value)) in self.fields().iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!("\"{name}\":{value}"));
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reflects_adds_and_prints_as_json() {
        let c = Counters::default();
        Counters::add(&c.requests, 2);
        Counters::add(&c.bytes_sent, 40);
        let s = c.snapshot();
        assert_eq!((s.requests, s.bytes_sent, s.retries), (2, 40, 0));
        let json = s.to_json();
        assert!(json.starts_with("{\"requests\":2,"), "{json}");
        assert!(json.contains("\"bytes_sent\":40"), "{json}");
        assert_eq!(s.fields().len(), 18);
    }
}
