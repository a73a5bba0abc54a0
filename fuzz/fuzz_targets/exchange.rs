//! Feeds arbitrary bytes, as a server's answer, to the request/response exchange.
//! The first byte chooses the method and the read size (see `tinyhttps::fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tinyhttps::fuzz::exchange(data);
});
