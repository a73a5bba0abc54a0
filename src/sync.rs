//! Locking that survives a panic elsewhere.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, even if a thread panicked while holding it. Every mutex of this
/// crate guards a cache or a list that a panicking holder cannot leave
/// half-updated (each change is one insert, remove or replace), so the data is
/// sound and the client keeps working: a poisoned lock must not turn one panic
/// into a failure of every later request.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
