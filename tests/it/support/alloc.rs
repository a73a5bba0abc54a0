//! Live heap, counted per [`Meter`] on the threads that opted in.
//!
//! Every test of the binary shares one process and one allocator, and runs next to
//! others: a process-wide count would see their allocations too. So [`Counting`]
//! (the binary's global allocator) counts only on a thread that opted into a meter
//! ([`Meter::count_this_thread`]), into that meter's sum: what those threads
//! allocated minus what they freed. Memory allocated on one of them and freed on a
//! thread that did not opt in (or the other way round) is not seen as freed (or
//! allocated): measure code whose allocations stay on the measuring threads.

#![allow(unsafe_code)] // `unsafe impl GlobalAlloc`: it forwards to `System` and counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Meters that can exist at once (tests measuring in parallel).
const METERS: usize = 8;

/// Per meter: live bytes allocated by its threads. Index 0 is "no meter".
static LIVE: [AtomicIsize; METERS + 1] = [const { AtomicIsize::new(0) }; METERS + 1];
/// Per meter: the most its live bytes reached since [`Meter::reset_peak`].
static PEAK: [AtomicIsize; METERS + 1] = [const { AtomicIsize::new(0) }; METERS + 1];
/// Per meter: whether a [`Meter`] holds it.
static TAKEN: [AtomicBool; METERS + 1] = [const { AtomicBool::new(false) }; METERS + 1];

thread_local! {
    /// The meter this thread counts into; 0: none.
    static METER: Cell<usize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: the thread-local may be gone while a thread exits.
    let meter = METER.try_with(Cell::get).unwrap_or(0);
    if meter != 0 {
        let now = LIVE[meter].fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK[meter].fetch_max(now, Ordering::Relaxed);
    }
}

/// The system allocator, counting the live heap of threads that opted into a meter.
pub struct Counting;

// SAFETY: every method forwards to the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
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

/// A live-heap counter of the threads that opt in; starts at 0.
pub struct Meter {
    index: usize,
}

impl Meter {
    /// A new meter. Panics if [`METERS`] are in use.
    pub fn new() -> Meter {
        let index = (1..=METERS)
            .find(|&i| {
                TAKEN[i]
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            })
            .expect("more meters at once than METERS");
        LIVE[index].store(0, Ordering::SeqCst);
        PEAK[index].store(0, Ordering::SeqCst);
        Meter { index }
    }

    /// The most [`Meter::live`] reached since the meter was made or
    /// [`Meter::reset_peak`] was last called.
    pub fn peak(&self) -> isize {
        PEAK[self.index].load(Ordering::SeqCst)
    }

    /// Starts a new peak at the bytes live now.
    pub fn reset_peak(&self) {
        PEAK[self.index].store(self.live(), Ordering::SeqCst);
    }

    /// Bytes allocated minus bytes freed by the threads counting into this meter.
    pub fn live(&self) -> isize {
        LIVE[self.index].load(Ordering::SeqCst)
    }

    /// Counts what the calling thread allocates and frees into this meter until the
    /// guard drops.
    pub fn count_this_thread(&self) -> CountingThread<'_> {
        let previous = METER.with(|m| m.replace(self.index));
        CountingThread {
            previous,
            _meter: PhantomData,
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        TAKEN[self.index].store(false, Ordering::SeqCst);
    }
}

/// While alive, the thread that made it counts into its meter.
pub struct CountingThread<'a> {
    previous: usize,
    /// Tied to the meter, and to the thread (`*const` is not `Send`).
    _meter: PhantomData<(&'a Meter, *const ())>,
}

impl Drop for CountingThread<'_> {
    fn drop(&mut self) {
        METER.with(|m| m.set(self.previous));
    }
}
