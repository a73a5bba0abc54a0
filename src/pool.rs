//! Idle connections, kept for reuse.
//!
//! A short `Vec` under a mutex: with at most [`DEFAULT_MAX_IDLE`](crate::DEFAULT_MAX_IDLE)-ish entries a linear
//! scan is cheaper than hashing. The lock is held only to take or put a connection;
//! liveness checks and closes happen outside it. Expired connections are purged
//! lazily on access, with no reaper thread.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::deadline;
use crate::exchange::RecvBuf;
use crate::netloc::Netloc;
use crate::proxy::Proxy;
use crate::stats::Counters;
use crate::sync::lock;
use crate::tls::{PolicyId, Trust};
use crate::transport::{ConnectionKind, TimedStream};

/// Where a connection goes: the netloc, the trust a TLS connection was verified
/// under, and the proxy, so a connection is never handed to a request that would
/// be made under another policy, or under the same one after its root files
/// changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolKey {
    pub netloc: Netloc,
    /// `None` for plain http.
    pub trust: Option<Trust>,
    /// The proxy the connection goes through (a tunnel for https).
    pub proxy: Option<Arc<Proxy>>,
}

/// An open connection as a request uses it and the pool keeps it: the stream, the
/// bytes received past the last response, and where it may be reused. Boxed from
/// its start to its close, so that a request moves a pointer, not the whole
/// connection, between the pool, the exchange and the response body.
pub(crate) struct Connection {
    pub stream: TimedStream,
    pub buf: RecvBuf,
    pub key: PoolKey,
    /// The `Host` header of requests on this connection, made once (a cheap clone).
    pub host_header: http::HeaderValue,
    /// How this connection came to serve the current request.
    pub kind: ConnectionKind,
    idle_since: Instant,
}

impl Connection {
    pub fn new(stream: TimedStream, key: PoolKey, kind: ConnectionKind) -> Connection {
        Connection {
            stream,
            buf: RecvBuf::new(),
            host_header: key.netloc.host_header(),
            key,
            kind,
            idle_since: deadline::now(),
        }
    }

    pub fn close(self) {
        self.stream.close();
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    pub max_idle_per_host: usize,
    pub max_idle: usize,
    pub idle_timeout: Duration,
}

pub(crate) struct Pool {
    /// Oldest first.
    // Boxed: connections move in and out as pointers (see `Connection`).
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Connection>>>,
    limits: PoolLimits,
    counters: Arc<Counters>,
}

impl Pool {
    pub fn new(limits: PoolLimits, counters: Arc<Counters>) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            limits,
            counters,
        }
    }

    /// The most recently used live connection for `key`, if any, at `now`
    /// ([`Deadline::now`](crate::deadline::Deadline::now)).
    pub fn checkout(&self, key: &PoolKey, now: Instant) -> Option<Box<Connection>> {
        let counters = &*self.counters;
        loop {
            let (found, expired) = {
                let mut idle = lock(&self.idle);
                let expired = self.take_expired(&mut idle, now);
                let found = idle
                    .iter()
                    .rposition(|c| c.key == *key)
                    .map(|i| idle.remove(i));
                let taken = expired.len().saturating_add(usize::from(found.is_some()));
                Counters::sub(&counters.idle_connections, taken as u64);
                (found, expired)
            };
            for c in expired {
                Counters::add(&counters.pool_idle_expired, 1);
                debug!("closing {} idle past the idle timeout", c.stream.host());
                c.close();
            }
            let mut conn = found?;
            if conn.stream.is_reusable() {
                conn.kind = ConnectionKind::Reused;
                Counters::add(&counters.pool_reuses, 1);
                debug!("reusing pooled connection to {}", conn.stream.host());
                return Some(conn);
            }
            Counters::add(&counters.pool_stale_discards, 1);
            debug!(
                "discarding stale pooled connection to {}",
                conn.stream.host()
            );
            conn.close();
        }
    }

    /// Keeps a connection whose last response ended cleanly, within the limits.
    /// A connection holding bytes nobody asked for (in its receive buffer, or inside
    /// rustls: plaintext, a `close_notify`, part of a record) is closed instead: the
    /// next request on it would read them as its answer.
    pub fn checkin(&self, mut conn: Box<Connection>) {
        if self.limits.max_idle == 0 || self.limits.max_idle_per_host == 0 {
            conn.close();
            return;
        }
        if !conn.buf.is_empty() || conn.stream.holds_unread() {
            debug!(
                "not pooling the connection to {}: it holds bytes after the response",
                conn.stream.host()
            );
            conn.close();
            return;
        }
        conn.buf.shrink();
        conn.idle_since = deadline::now();
        let mut evicted = Vec::new();
        {
            let mut idle = lock(&self.idle);
            let key = conn.key.clone();
            idle.push(conn);
            let same = idle.iter().filter(|c| c.key == key).count();
            if same > self.limits.max_idle_per_host {
                if let Some(oldest) = idle.iter().position(|c| c.key == key) {
                    evicted.push(idle.remove(oldest));
                }
            }
            if idle.len() > self.limits.max_idle {
                evicted.push(idle.remove(0));
            }
            // One in, zero to two out.
            match evicted.len() {
                0 => Counters::add(&self.counters.idle_connections, 1),
                1 => {}
                _ => Counters::sub(&self.counters.idle_connections, 1),
            }
        }
        for c in evicted {
            debug!("pool full: closing idle connection to {}", c.stream.host());
            c.close();
        }
    }

    /// Closes every idle connection (after a network change, their peers may be
    /// unreachable or the addresses stale). Returns how many were closed.
    pub fn close_idle(&self) -> usize {
        let all = {
            let mut idle = lock(&self.idle);
            let all = std::mem::take(&mut *idle);
            Counters::sub(&self.counters.idle_connections, all.len() as u64);
            all
        };
        let closed = all.len();
        for c in all {
            debug!("closing idle connection to {} as asked", c.stream.host());
            c.close();
        }
        closed
    }

    /// Closes every idle connection made under `policy` (its trust changed).
    pub fn drop_policy(&self, policy: PolicyId) {
        let dropped: Vec<Box<Connection>> = {
            let mut idle = lock(&self.idle);
            let (dropped, kept) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|c| c.key.trust.is_some_and(|t| t.policy == policy));
            *idle = kept;
            Counters::sub(&self.counters.idle_connections, dropped.len() as u64);
            dropped
        };
        for c in dropped {
            debug!(
                "trust changed: closing idle connection to {}",
                c.stream.host()
            );
            c.close();
        }
    }

    #[allow(clippy::vec_box)] // the pool's boxes, moved out as they are
    fn take_expired(&self, idle: &mut Vec<Box<Connection>>, now: Instant) -> Vec<Box<Connection>> {
        let timeout = self.limits.idle_timeout;
        // Oldest first: the expired ones are a prefix.
        let n = idle
            .iter()
            .take_while(|c| now.duration_since(c.idle_since) >= timeout)
            .count();
        idle.drain(..n).collect()
    }
}
