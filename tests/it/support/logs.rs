//! Log records, captured per thread.
//!
//! A process has one logger, and every test of the binary shares the process. So
//! one logger is installed, once, for all: it keeps the records made on a thread
//! that asked for them ([`capture`]), at every level, and drops the others. The
//! client logs on its caller's thread, so a test captures what its own requests log
//! and nothing of the tests running next to it.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Once;

thread_local! {
    /// The records of this thread while it captures (`Some`).
    static RECORDS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

struct PerThread;

impl log::Log for PerThread {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        RECORDS.try_with(|r| r.borrow().is_some()).unwrap_or(false)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !RECORDS.try_with(|r| r.borrow().is_some()).unwrap_or(false) {
            return;
        }
        // Formatted outside the borrow: an argument's `Display` may log too.
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        let _ = RECORDS.try_with(|r| r.borrow_mut().as_mut().map(|v| v.push(line)));
    }

    fn flush(&self) {}
}

/// Captures the log records of the calling thread, every level, until dropped.
pub fn capture() -> Capture {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&PerThread).expect("the only logger of the test binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
    RECORDS.with(|r| *r.borrow_mut() = Some(Vec::new()));
    Capture {
        _thread: PhantomData,
    }
}

/// The capture of one thread's log records; stops when dropped.
pub struct Capture {
    /// Bound to the thread that captures (`*const` is not `Send`).
    _thread: PhantomData<*const ()>,
}

impl Capture {
    /// The records so far, as "LEVEL target: message".
    pub fn records(&self) -> Vec<String> {
        RECORDS.with(|r| r.borrow().clone().unwrap_or_default())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        RECORDS.with(|r| *r.borrow_mut() = None);
    }
}
