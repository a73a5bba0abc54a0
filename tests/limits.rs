//! Limits: `build()` checks every builder setting, request heads grow up to their
//! limit, response heads stop at theirs, and a forged length reserves no memory.

mod support;

use support::{Reply, Server};
use tinyhttps::{Client, Error};

#[test]
fn forged_huge_content_length_reserves_no_memory_and_is_truncated() {
    // 9,999,999,999,999 bytes promised, 5 sent: reserving the promise aborts the
    // process (and is cut to 1.3 GB by `as usize` on 32-bit targets).
    let server = Server::http(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 9999999999999\r\n\r\nshort").then_close()
    });
    let resp = Client::new().get(&server.url("/")).call().unwrap();
    let err = resp.into_vec_limited(u64::MAX).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
}
