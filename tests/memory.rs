//! Heap held by an idle pooled TLS connection, measured with a counting allocator.
//!
//! Each thread counts the bytes it allocates minus those it frees; the client does
//! all its work on the test thread, the test server on its own threads, so the test
//! thread's count is the client's heap.

#![allow(unsafe_code)] // `unsafe impl GlobalAlloc`: it only forwards to `System`.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use support::{pki_and_https, Reply};
use tinyhttps::{Client, TlsSettings};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

fn live() -> isize {
    LIVE.with(|live| live.get())
}

// SAFETY: every method forwards to the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The budget of one idle pooled TLS connection (rustls' buffers plus ours).
const IDLE_CONNECTION_BUDGET: isize = 64 * 1024;

#[test]
fn idle_pooled_tls_connection_after_a_20k_response_stays_within_budget() {
    let body = vec![b'x'; 20 * 1024];
    let (pki, server) = pki_and_https(move |_| Reply::ok(&body));
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()))
        .build()
        .unwrap();
    let url = server.url("/20k");
    let fetch = |client: &Client| client.get(&url).call().unwrap().into_vec().unwrap().len();
    // One idle connection, config and session store warm.
    assert_eq!(fetch(&client), 20 * 1024);
    assert_eq!(fetch(&client), 20 * 1024);
    let one_idle = live();
    // A second connection, opened while the first is busy; then both go idle.
    let busy = client.get(&url).call().unwrap();
    let second = client.get(&url).call().unwrap();
    assert_eq!(second.into_vec().unwrap().len(), 20 * 1024);
    assert_eq!(busy.into_vec().unwrap().len(), 20 * 1024);
    assert_eq!(client.stats().idle_connections, 2);
    let per_connection = live() - one_idle;
    println!("heap held by one idle pooled TLS connection after a 20 KiB response: {per_connection} bytes");
    assert!(
        per_connection > 1024,
        "the measurement must see the connection at all: {per_connection}"
    );
    assert!(
        per_connection <= IDLE_CONNECTION_BUDGET,
        "{per_connection} bytes > {IDLE_CONNECTION_BUDGET}"
    );
}
