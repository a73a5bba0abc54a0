//! An in-memory server for the exchange: it answers with bytes given in advance and
//! records what the client writes. The exchange's unit tests and the fuzz harness
//! (`crate::fuzz`) run the exchange over it.

use std::io::{self, Read, Write};

use super::Transport;
use crate::deadline::ShortWait;

/// A server whose answer is known in advance.
pub(crate) struct Scripted<'a> {
    /// What the server sends, in order.
    input: &'a [u8],
    /// How much of `input` has been read.
    read: usize,
    /// Most bytes one read returns.
    step: usize,
    /// Every write, in order.
    writes: Vec<Vec<u8>>,
    /// Bytes still accepted before writes fail (the server closed); None: no limit.
    accept: Option<usize>,
    /// How much of `input` a read can reach while a read cap is set (see
    /// [`Scripted::silent_while_capped_from`]).
    capped_until: usize,
    /// Whether a read cap is set ([`Transport::set_read_cap`]).
    capped: bool,
}

// The fuzz harness uses only part of it.
#[cfg_attr(not(test), allow(dead_code))]
impl<'a> Scripted<'a> {
    /// A server that sends `input`, as much as the reader asks for at a time.
    pub fn new(input: &'a [u8]) -> Scripted<'a> {
        Scripted {
            input,
            read: 0,
            step: usize::MAX,
            writes: Vec::new(),
            accept: None,
            capped_until: usize::MAX,
            capped: false,
        }
    }

    /// Reads return at most `step` bytes (at least one).
    pub fn in_reads_of(mut self, step: usize) -> Scripted<'a> {
        self.step = step.max(1);
        self
    }

    /// Writes fail (connection reset) once `n` bytes have been accepted: a server
    /// that closed, or answered early and stopped reading.
    pub fn accepting(mut self, n: usize) -> Scripted<'a> {
        self.accept = Some(n);
        self
    }

    /// While a read cap is set, reads stop at `position` of the input and fail like a
    /// spent [`ShortWait`]: a server that says nothing more until the request's end
    /// (it ignores `Expect: 100-continue`).
    pub fn silent_while_capped_from(mut self, position: usize) -> Scripted<'a> {
        self.capped_until = position;
        self
    }

    /// Every write, in order.
    pub fn writes(&self) -> &[Vec<u8>] {
        &self.writes
    }

    /// All bytes written.
    pub fn written(&self) -> Vec<u8> {
        self.writes.concat()
    }
}

impl Read for Scripted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut end = self.input.len();
        if self.capped {
            if self.read >= self.capped_until {
                // A spent wait: a plain WouldBlock, as the socket transport gives.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            end = end.min(self.capped_until);
        }
        let n = buf.len().min(self.step).min(end - self.read);
        buf[..n].copy_from_slice(&self.input[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}

impl Write for Scripted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.accept {
            None => buf.len(),
            Some(0) if !buf.is_empty() => return Err(io::ErrorKind::ConnectionReset.into()),
            Some(left) => {
                let n = buf.len().min(*left);
                *left -= n;
                n
            }
        };
        self.writes.push(buf[..n].to_vec());
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Scripted<'_> {
    fn set_read_cap(&mut self, cap: Option<ShortWait>) {
        self.capped = cap.is_some();
    }
}
