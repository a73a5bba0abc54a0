//! TCP connect: Happy Eyeballs (RFC 8305) within one connect budget, and the socket
//! options a device on a cellular or multi-homed link needs.
//!
//! No thread and no async runtime: non-blocking sockets and `poll(2)`. The first
//! attempt starts at once; while none has connected, the next address (families
//! interleaved, the first address's family first) starts [`ATTEMPT_DELAY`] after
//! the previous one, or at once when one fails. The first to connect wins; the
//! others are closed. DNS and every attempt share the connect budget.
//!
//! The common case, a first address that answers, costs what a plain
//! `TcpStream::connect_timeout` did: `socket` (non-blocking from the start),
//! `connect`, one `poll`, `getsockopt(SO_ERROR)`, back to blocking, `TCP_NODELAY`.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::deadline::Budget;
use crate::error::{Error, Result};

/// RFC 8305 §5 "Connection Attempt Delay": the recommended 250 ms. Long enough for
/// a LAN or LTE handshake to finish first (so a working first address is the only
/// one tried), short enough that a dead IPv6 path costs a quarter second.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects in flight at once, at most: each holds a socket and a file descriptor.
/// A name rarely has more than four addresses; a resolver of the caller's may give
/// many, and past this the next one starts only when one of these fails.
const MAX_IN_FLIGHT: usize = 8;

/// TCP keepalive probes: after `idle` without traffic, a probe every `interval`,
/// and the connection is dropped after `count` unanswered ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive {
    pub idle: Duration,
    pub interval: Duration,
    pub count: u32,
}

/// Socket options set on every new connection before it connects.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketOptions {
    /// Off by default: a probe wakes a cellular radio.
    pub keepalive: Option<Keepalive>,
    /// `TCP_USER_TIMEOUT`: longest time sent data may stay unacknowledged.
    pub user_timeout: Option<Duration>,
    /// `SO_BINDTODEVICE`: the interface (`eth0`, `wwan0`) to send through.
    pub interface: Option<Box<str>>,
    /// The local address to connect from (its family only is tried).
    pub local_address: Option<IpAddr>,
}

impl SocketOptions {
    /// Sets the options on a socket about to connect; errors say which one failed.
    fn apply(&self, socket: &Socket) -> io::Result<()> {
        let context = |what: &str| {
            let what = what.to_string();
            move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"))
        };
        if let Some(k) = self.keepalive {
            let params = TcpKeepalive::new()
                .with_time(k.idle)
                .with_interval(k.interval)
                .with_retries(k.count);
            socket
                .set_tcp_keepalive(&params)
                .map_err(context("setting TCP keepalive"))?;
        }
        if let Some(timeout) = self.user_timeout {
            socket
                .set_tcp_user_timeout(Some(timeout))
                .map_err(context("setting TCP_USER_TIMEOUT"))?;
        }
        if let Some(name) = &self.interface {
            socket
                .bind_device(Some(name.as_bytes()))
                .map_err(context(&format!("binding to interface {name}")))?;
        }
        if let Some(ip) = self.local_address {
            socket
                .bind(&SocketAddr::new(ip, 0).into())
                .map_err(context(&format!("binding to local address {ip}")))?;
        }
        Ok(())
    }
}

/// One connect in flight.
struct Attempt {
    socket: Socket,
    addr: SocketAddr,
}

impl Attempt {
    /// Starts a non-blocking connect; `Ok(true)` if it connected at once.
    fn start(addr: SocketAddr, options: &SocketOptions) -> io::Result<(Attempt, bool)> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )?;
        options.apply(&socket)?;
        let connected = match socket.connect(&addr.into()) {
            Ok(()) => true,
            // EINTR: the connect goes on in the background, like EINPROGRESS.
            Err(e)
                if e.raw_os_error() == Some(Errno::INPROGRESS.raw_os_error())
                    || matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
            {
                false
            }
            Err(e) => return Err(e),
        };
        Ok((Attempt { socket, addr }, connected))
    }

    /// The connected socket as a blocking stream with `TCP_NODELAY`. Through std:
    /// its `set_nonblocking` is one `ioctl`, socket2's two `fcntl`s.
    fn finish(self, host: &str) -> Result<(TcpStream, SocketAddr)> {
        let fail = |e| Error::Connect {
            host: host.into(),
            source: e,
        };
        let tcp = TcpStream::from(self.socket);
        tcp.set_nonblocking(false).map_err(fail)?;
        tcp.set_nodelay(true).map_err(fail)?;
        Ok((tcp, self.addr))
    }
}

/// The addresses in the order to try them: families interleaved, the family of
/// the first address first (RFC 8305 §4), skipping those of another family than
/// `local` when one is set. No allocation.
struct Order<'a> {
    addrs: &'a [SocketAddr],
    first_v6: bool,
    only_v6: Option<bool>,
    /// The next index to look at, for the first family and for the other.
    next: [usize; 2],
    /// Which family's turn it is (0: the first address's).
    turn: usize,
}

impl<'a> Order<'a> {
    fn new(addrs: &'a [SocketAddr], local: Option<IpAddr>) -> Order<'a> {
        let only_v6 = local.map(|ip| ip.is_ipv6());
        let first_v6 = addrs
            .iter()
            .find(|a| only_v6.is_none_or(|v6| a.is_ipv6() == v6))
            .is_some_and(|a| a.is_ipv6());
        Order {
            addrs,
            first_v6,
            only_v6,
            next: [0, 0],
            turn: 0,
        }
    }

    fn has_more(&self) -> bool {
        (0..2).any(|family| self.peek(family).is_some())
    }

    /// Index of the next address of `family` (0: the first's, 1: the other).
    fn peek(&self, family: usize) -> Option<usize> {
        let from = *self.next.get(family)?;
        let want_v6 = self.first_v6 == (family == 0);
        if self.only_v6.is_some_and(|v6| v6 != want_v6) {
            return None;
        }
        (from..self.addrs.len())
            .find(|&i| self.addrs.get(i).is_some_and(|a| a.is_ipv6() == want_v6))
    }
}

impl Iterator for Order<'_> {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        for _ in 0..2 {
            let family = self.turn;
            self.turn ^= 1;
            if let Some(i) = self.peek(family) {
                if let Some(slot) = self.next.get_mut(family) {
                    *slot = i.saturating_add(1);
                }
                return self.addrs.get(i).copied();
            }
        }
        None
    }
}

/// Connects to the first of `addrs` that answers (Happy Eyeballs, see the module
/// docs), within the one connect `budget`. Errors: the budget's timeout if it ran
/// out with attempts in flight, else the last connect error.
pub(crate) fn connect(
    addrs: &[SocketAddr],
    budget: &mut Budget,
    host: &str,
    options: &SocketOptions,
) -> Result<(TcpStream, SocketAddr)> {
    let mut order = Order::new(addrs, options.local_address);
    let mut in_flight: Vec<Attempt> = Vec::new();
    let mut last_error: Option<io::Error> = None;
    // When the newest attempt started (time spent of the budget); None: the next
    // one may start at once.
    let mut started: Option<Duration> = None;
    loop {
        let (left, _) = budget.limit_for(host)?;
        let spent = budget.spent();
        let since = started.map(|t| spent.saturating_sub(t));
        let room = in_flight.len() < MAX_IN_FLIGHT;
        if room && since.is_none_or(|s| s >= ATTEMPT_DELAY) {
            if let Some(addr) = order.next() {
                match Attempt::start(addr, options) {
                    Ok((attempt, true)) => return attempt.finish(host),
                    Ok((attempt, false)) => {
                        in_flight.push(attempt);
                        started = Some(spent);
                    }
                    Err(e) => {
                        debug!("connect to {host} via {addr} failed: {e}");
                        last_error = Some(e);
                        started = None;
                    }
                }
                continue;
            }
        }
        if in_flight.is_empty() {
            return Err(Error::Connect {
                host: host.into(),
                source: last_error.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no address to connect to")
                }),
            });
        }
        let wait = match since {
            Some(s) if room && order.has_more() => left.min(ATTEMPT_DELAY.saturating_sub(s)),
            _ => left,
        };
        if let Some(winner) = wait_any(&mut in_flight, wait, host, &mut last_error)? {
            let attempt = in_flight.swap_remove(winner);
            if !in_flight.is_empty() {
                debug!(
                    "connected to {host} via {}; closing the other attempts",
                    attempt.addr
                );
            }
            // The losers close when `in_flight` drops.
            return attempt.finish(host);
        }
        if in_flight.is_empty() {
            // Every attempt failed: the next address starts at once.
            started = None;
        }
    }
}

/// Waits up to `wait` for an attempt to end: the index of one that connected, or
/// None (failed attempts are removed, their error kept in `last_error`).
fn wait_any(
    in_flight: &mut Vec<Attempt>,
    wait: Duration,
    host: &str,
    last_error: &mut Option<io::Error>,
) -> Result<Option<usize>> {
    let timeout = Timespec::try_from(wait).ok();
    let mut ready = [PollFlags::empty(); MAX_IN_FLIGHT];
    {
        let events = PollFlags::OUT;
        let mut one;
        let mut many;
        let fds: &mut [PollFd] = if let [only] = in_flight.as_slice() {
            one = [PollFd::new(&only.socket, events)];
            &mut one
        } else {
            many = in_flight
                .iter()
                .map(|a| PollFd::new(&a.socket, events))
                .collect::<Vec<_>>();
            &mut many
        };
        match rustix::event::poll(fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(Errno::INTR) => return Ok(None),
            Err(e) => {
                return Err(Error::Connect {
                    host: host.into(),
                    source: e.into(),
                })
            }
        }
        for (flags, fd) in ready.iter_mut().zip(fds.iter()) {
            *flags = fd.revents();
        }
    }
    let mut winner = None;
    for i in (0..in_flight.len()).rev() {
        if ready.get(i).is_none_or(|f| f.is_empty()) {
            continue;
        }
        let Some(attempt) = in_flight.get(i) else {
            continue;
        };
        let error = match attempt.socket.take_error() {
            Ok(error) => error,
            Err(e) => Some(e),
        };
        match error {
            None if winner.is_none() => winner = Some(i),
            None => {}
            Some(e) => {
                debug!("connect to {host} via {} failed: {e}", attempt.addr);
                *last_error = Some(e);
                in_flight.swap_remove(i);
                // A winner's index moves if it was the last element.
                if winner == Some(in_flight.len()) {
                    winner = Some(i);
                }
            }
        }
    }
    Ok(winner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_interleave_starting_with_the_first_address() {
        let addrs = [
            addr("[::1]:1"),
            addr("[::2]:1"),
            addr("[::3]:1"),
            addr("10.0.0.1:1"),
            addr("10.0.0.2:1"),
        ];
        let order: Vec<_> = Order::new(&addrs, None).collect();
        let expect = ["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"];
        assert_eq!(order, expect.map(addr));
        let v4_first = [addr("10.0.0.1:1"), addr("[::1]:1"), addr("[::2]:1")];
        let order: Vec<_> = Order::new(&v4_first, None).collect();
        assert_eq!(order, ["10.0.0.1:1", "[::1]:1", "[::2]:1"].map(addr));
    }

    #[test]
    fn a_local_address_keeps_only_its_family() {
        let addrs = [addr("[::1]:1"), addr("10.0.0.1:1"), addr("10.0.0.2:1")];
        let local = Some("127.0.0.1".parse().unwrap());
        let order: Vec<_> = Order::new(&addrs, local).collect();
        assert_eq!(order, [addr("10.0.0.1:1"), addr("10.0.0.2:1")]);
        let v6 = Some("::1".parse().unwrap());
        assert_eq!(Order::new(&addrs[1..], v6).count(), 0);
    }

    #[test]
    fn socket_options_reach_the_socket() {
        let options = SocketOptions {
            keepalive: Some(Keepalive {
                idle: Duration::from_secs(61),
                interval: Duration::from_secs(7),
                count: 5,
            }),
            user_timeout: Some(Duration::from_millis(12_500)),
            interface: Some("lo".into()),
            local_address: None,
        };
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        options.apply(&socket).unwrap();
        assert!(socket.keepalive().unwrap());
        assert_eq!(
            socket.tcp_keepalive_time().unwrap(),
            Duration::from_secs(61)
        );
        assert_eq!(
            socket.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(7)
        );
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), 5);
        assert_eq!(
            socket.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(12_500))
        );
        // SO_BINDTODEVICE is not read back: qemu-user does not pass that getsockopt
        // through. tests/links.rs shows it applied (a missing interface fails).
        let plain = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        SocketOptions::default().apply(&plain).unwrap();
        assert!(!plain.keepalive().unwrap(), "keepalive is off by default");
    }

    #[test]
    fn a_missing_interface_fails_naming_it() {
        let options = SocketOptions {
            interface: Some("nosuch0".into()),
            ..SocketOptions::default()
        };
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        let err = options.apply(&socket).unwrap_err();
        assert!(
            err.to_string().contains("binding to interface nosuch0"),
            "{err}"
        );
    }
}
