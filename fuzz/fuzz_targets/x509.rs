//! Feeds arbitrary bytes, as a server's leaf certificate, to the reader of its
//! validity dates (the expiry report's; see `tinyhttps::fuzz::certificate_validity`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tinyhttps::fuzz::certificate_validity(data);
});
