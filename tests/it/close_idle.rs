//! `Client::close_idle`: every idle pooled connection closed on request (a daemon
//! after a network change), the next request on a new connection.

use std::sync::mpsc;
use std::time::Duration;

use crate::support::raw::{respond, RawServer};
use crate::support::read_message;
use tinyhttps::{Client, ConnectionKind};

#[test]
fn close_idle_closes_pooled_connections_and_the_next_request_connects_anew() {
    let (events, seen) = mpsc::channel();
    let server = RawServer::start(move |index, mut sock| {
        while read_message(&mut sock).is_ok() {
            respond(&mut sock, b"ok").expect("respond");
        }
        // read_message saw the client close (or the read limit pass).
        events.send(index).expect("test waits");
    });
    let client = Client::new();
    let url = server.url("/");
    let first = client.get(&url).call().unwrap();
    assert_eq!(first.connection(), ConnectionKind::New);
    assert_eq!(first.into_string().unwrap(), "ok");
    assert_eq!(client.stats().idle_connections, 1);

    assert_eq!(client.close_idle(), 1);
    assert_eq!(client.stats().idle_connections, 0);
    let closed = seen.recv_timeout(Duration::from_secs(10));
    assert_eq!(closed, Ok(0), "the server saw the pooled connection close");
    assert_eq!(client.close_idle(), 0, "nothing left to close");

    let second = client.get(&url).call().unwrap();
    assert_eq!(second.connection(), ConnectionKind::New);
    assert_eq!(second.into_string().unwrap(), "ok");
    let stats = client.stats();
    assert_eq!((stats.connections_opened, stats.pool_reuses), (2, 0));
    drop(client);
    assert_eq!(seen.recv_timeout(Duration::from_secs(10)), Ok(1));
}
