//! gzip content decoding (feature `gzip`): requests say `Accept-Encoding: gzip`,
//! and a `Content-Encoding: gzip` body is inflated as it streams through
//! [`Body`]'s `Read`.
//!
//! The gzip framing (RFC 1952: header, CRC-32 and length trailer, several members
//! one after another) is read here; the deflate data is inflated by miniz_oxide.
//! Memory: [`Decoder`] is allocated when a gzip body starts and freed at its end
//! (or when the body is dropped); about 47 KiB while it lives: miniz_oxide's
//! `InflateState` (42 KiB: the 32 KiB window and the Huffman tables) and the 4 KiB
//! [`INPUT_BUFFER`]. Nothing when the feature is off, nothing for a response that
//! is not gzip.
//!
//! Decoded bytes are counted against a limit: the client's
//! [`body_limit`](crate::ClientBuilder::body_limit), or the limit given to
//! `into_string_limited`/`into_vec_limited`. A decompression bomb (a few KiB that
//! inflate to gigabytes) ends in [`Error::BodyTooLarge`] at that limit. A corrupt
//! stream, a wrong checksum or a stream cut short is an error, never a short body.

use std::io::{self, Read};

use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, RANGE};
use http::HeaderMap;
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use crate::error::Error;
use crate::head::Head;
use crate::response::Body;

/// Compressed bytes taken from the connection at a time: half the connection's
/// receive buffer, so one read of the body usually drains what one TLS record
/// brought. Allocated with the decoder, only while a gzip body is read.
pub(crate) const INPUT_BUFFER: usize = 4 * 1024;

/// Bytes of a gzip member header before its optional fields (RFC 1952 §2.3).
const FIXED_HEADER: u32 = 10;
/// Bytes of a gzip member trailer: CRC-32, then the length modulo 2^32.
const TRAILER: usize = 8;
/// The first two bytes of every gzip member.
const MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Compression method 8, deflate: the only one RFC 1952 defines.
const METHOD_DEFLATE: u8 = 8;
/// Header flag: a CRC-16 of the header follows the optional fields.
const FLAG_HEADER_CRC: u8 = 0x02;
/// Header flag: an "extra" field (2-byte length, then that many bytes).
const FLAG_EXTRA: u8 = 0x04;
/// Header flag: a zero-terminated file name.
const FLAG_NAME: u8 = 0x08;
/// Header flag: a zero-terminated comment.
const FLAG_COMMENT: u8 = 0x10;
/// Header flags RFC 1952 reserves; a decoder must refuse a member that sets them.
const FLAGS_RESERVED: u8 = 0xe0;
/// The CRC-32 polynomial of gzip (IEEE 802.3), bit-reversed.
const CRC32_POLYNOMIAL: u32 = 0xedb8_8320;

/// The request value of `Accept-Encoding` this client sends.
pub(crate) const ACCEPT: &str = "gzip";

/// Whether this client should ask for and decode gzip for a request with these
/// headers: not when the caller set `Accept-Encoding` (then the body is theirs to
/// decode, as without the feature), nor with `Range` (a range of a gzip body is
/// not a gzip stream).
pub(crate) fn wanted(request: &HeaderMap) -> bool {
    !request.contains_key(ACCEPT_ENCODING) && !request.contains_key(RANGE)
}

/// Whether a response with these headers is gzip, and only gzip, encoded.
pub(crate) fn is_gzip(response: &HeaderMap) -> bool {
    let mut values = response.get_all(CONTENT_ENCODING).iter();
    let single = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().map(str::trim),
        _ => None,
    };
    single.is_some_and(|v| v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip"))
}

/// A response to a request with `request` headers, decoded if the request let
/// this client ask for gzip ([`wanted`]), the response is gzip and has a body.
/// The headers of a decoded response lose `Content-Encoding` and
/// `Content-Length`: they described the bytes on the wire, not the decoded ones.
pub(crate) fn decode(mut head: Head, mut body: Body, request: &HeaderMap) -> (Head, Body) {
    if wanted(request) && is_gzip(head.headers()) && body.decode_gzip() {
        let mut headers = head.take_headers();
        headers.remove(CONTENT_ENCODING);
        headers.remove(CONTENT_LENGTH);
        head.set_headers(headers);
    }
    (head, body)
}

/// The CRC-32 table, computed at compile time (1 KiB, in the binary only with the
/// feature).
static CRC_TABLE: [u32; 256] = crc_table();

// Built at compile time: i < 256, k < 8.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                CRC32_POLYNOMIAL ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// `crc` (of the bytes before) extended over `bytes`.
// A u8 indexes a 256-entry table.
#[allow(clippy::indexing_slicing)]
fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!crc, |c, &b| {
        CRC_TABLE[usize::from((c as u8) ^ b)] ^ (c >> 8)
    })
}

/// Which part of a member header is being read.
#[derive(Clone, Copy)]
enum Field {
    Fixed,
    ExtraLen,
    Extra,
    Name,
    Comment,
    HeaderCrc,
}

/// A member header being read, a byte at a time (it may span reads).
struct Header {
    field: Field,
    /// Optional fields still to come (header flags).
    pending: u8,
    /// Bytes of `field` seen.
    seen: u32,
    /// Length of the extra field.
    extra: u32,
}

impl Header {
    fn new() -> Header {
        Header {
            field: Field::Fixed,
            pending: 0,
            seen: 0,
            extra: 0,
        }
    }

    /// Takes one byte of the header; true when the header is complete.
    // `seen` is at least 1 after the increment, and 1 or 2 in ExtraLen: the shifts are
    // 0 or 8.
    #[allow(clippy::arithmetic_side_effects)]
    fn take(&mut self, b: u8) -> Result<bool, &'static str> {
        self.seen = self.seen.saturating_add(1);
        let field_done = match self.field {
            Field::Fixed => {
                match self.seen {
                    1 | 2 if MAGIC.get(self.seen as usize - 1) != Some(&b) => {
                        return Err("not a gzip stream")
                    }
                    3 if b != METHOD_DEFLATE => return Err("unknown gzip compression method"),
                    4 if b & FLAGS_RESERVED != 0 => return Err("reserved gzip header flags set"),
                    4 => self.pending = b,
                    _ => {}
                }
                self.seen == FIXED_HEADER
            }
            Field::ExtraLen => {
                // Little-endian, low byte first.
                self.extra |= u32::from(b) << (8 * (self.seen - 1));
                if self.seen == 2 && self.extra > 0 {
                    self.field = Field::Extra;
                    self.seen = 0;
                    return Ok(false);
                }
                self.seen == 2
            }
            Field::Extra => self.seen == self.extra,
            Field::Name | Field::Comment => b == 0,
            Field::HeaderCrc => self.seen == 2,
        };
        Ok(field_done && self.next_field())
    }

    /// Moves to the next optional field the flags announce; true when none is left.
    fn next_field(&mut self) -> bool {
        const ORDER: [(u8, Field); 4] = [
            (FLAG_EXTRA, Field::ExtraLen),
            (FLAG_NAME, Field::Name),
            (FLAG_COMMENT, Field::Comment),
            (FLAG_HEADER_CRC, Field::HeaderCrc),
        ];
        self.seen = 0;
        for (flag, field) in ORDER {
            if self.pending & flag != 0 {
                self.pending &= !flag;
                self.field = field;
                return false;
            }
        }
        true
    }
}

/// Where in the gzip stream the decoder is.
enum Part {
    Header(Header),
    Deflate,
    Trailer {
        seen: usize,
        bytes: [u8; TRAILER],
    },
    /// After a member's trailer: the end, or another member if bytes follow.
    End,
}

/// Inflates a gzip body read from another reader (the raw body), counting the
/// decoded bytes against a limit.
pub(crate) struct Decoder {
    inflate: Box<InflateState>,
    input: Box<[u8; INPUT_BUFFER]>,
    /// `input[start..end]` is not yet decoded.
    start: usize,
    end: usize,
    part: Part,
    /// CRC-32 and length (mod 2^32) of the current member's decoded bytes.
    crc: u32,
    size: u32,
    /// Decoded bytes in all, and their limit.
    decoded: u64,
    limit: u64,
    /// Whether the raw body had any byte: an empty one reads as an empty body.
    started: bool,
    /// `host:port`, for errors.
    host: Box<str>,
}

impl Decoder {
    /// A decoder for a body from `host`, refusing to decode more than `limit` bytes.
    pub(crate) fn new(host: &str, limit: u64) -> Decoder {
        Decoder {
            inflate: InflateState::new_boxed(DataFormat::Raw),
            input: Box::new([0; INPUT_BUFFER]),
            start: 0,
            end: 0,
            part: Part::Header(Header::new()),
            crc: 0,
            size: 0,
            decoded: 0,
            limit,
            started: false,
            host: host.into(),
        }
    }

    /// Sets the most decoded bytes allowed.
    pub(crate) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Reads decoded bytes into `dst` (not empty), compressed ones from `raw`. 0 at
    /// the end of the gzip stream, which is also the end of `raw`.
    pub(crate) fn read(&mut self, dst: &mut [u8], raw: &mut impl Read) -> io::Result<usize> {
        loop {
            let needs_input = match self.part {
                Part::Deflate => match self.inflate_into(dst)? {
                    0 => self.start == self.end,
                    n => return Ok(n),
                },
                Part::Header(_) | Part::Trailer { .. } => {
                    self.frame()?;
                    self.start == self.end
                }
                Part::End if self.start < self.end => {
                    // Another member follows (RFC 1952 §2.2).
                    self.part = Part::Header(Header::new());
                    false
                }
                Part::End => true,
            };
            if needs_input {
                let n = raw.read(&mut self.input[..])?;
                if n == 0 {
                    return match self.part {
                        Part::End => Ok(0),
                        Part::Header(_) if !self.started => Ok(0),
                        _ => Err(self.corrupt("the body ended before its gzip stream (truncated)")),
                    };
                }
                (self.start, self.end, self.started) = (0, n, true);
            }
        }
    }

    /// Inflates what input there is into `dst`; the bytes written (0: more input
    /// is needed, or the member's deflate data ended).
    // start <= end <= input.len() (end is what a read put there); `room` <= dst.len();
    // miniz_oxide's counts are within the slices it was given.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    fn inflate_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        // One byte over the limit is enough to know the body is too large.
        let left = self.limit.saturating_sub(self.decoded).saturating_add(1);
        let room = usize::try_from(left).map_or(dst.len(), |left| dst.len().min(left));
        let input = &self.input[self.start..self.end];
        let out = &mut dst[..room];
        let result = inflate(&mut self.inflate, input, out, MZFlush::None);
        let (used, n) = (result.bytes_consumed, result.bytes_written);
        self.start += used;
        let written = &out[..n];
        self.crc = crc32(self.crc, written);
        // ISIZE is the length modulo 2^32: the truncation is the definition.
        self.size = self.size.wrapping_add(n as u32);
        self.decoded = self.decoded.saturating_add(n as u64);
        if self.decoded > self.limit {
            let limit = self.limit;
            return Err(Error::BodyTooLarge { limit }.into_io());
        }
        match result.status {
            Ok(MZStatus::StreamEnd) => {
                self.part = Part::Trailer {
                    seen: 0,
                    bytes: [0; TRAILER],
                }
            }
            // More input needed (all of it was taken), or more room for output.
            Ok(MZStatus::Ok) if used > 0 || n > 0 || input.is_empty() => {}
            Err(MZError::Buf) if input.is_empty() => {}
            _ => return Err(self.corrupt("invalid deflate data in the gzip body")),
        }
        Ok(n)
    }

    /// Reads header or trailer bytes from the input.
    // `start < end <= input.len()` in the loop; `seen < TRAILER` (reset at TRAILER).
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    fn frame(&mut self) -> io::Result<()> {
        while self.start < self.end {
            let b = self.input[self.start];
            self.start += 1;
            match &mut self.part {
                Part::Header(header) => match header.take(b) {
                    Ok(false) => {}
                    Ok(true) => {
                        self.inflate.reset(DataFormat::Raw);
                        (self.crc, self.size) = (0, 0);
                        self.part = Part::Deflate;
                        return Ok(());
                    }
                    Err(what) => return Err(self.corrupt(what)),
                },
                Part::Trailer { seen, bytes } => {
                    bytes[*seen] = b;
                    *seen += 1;
                    if *seen == TRAILER {
                        let [c0, c1, c2, c3, s0, s1, s2, s3] = *bytes;
                        if u32::from_le_bytes([c0, c1, c2, c3]) != self.crc {
                            return Err(self.corrupt("gzip body fails its CRC-32 check"));
                        }
                        if u32::from_le_bytes([s0, s1, s2, s3]) != self.size {
                            return Err(self.corrupt("gzip body has the wrong length"));
                        }
                        self.part = Part::End;
                        return Ok(());
                    }
                }
                Part::Deflate | Part::End => return Ok(()),
            }
        }
        Ok(())
    }

    fn corrupt(&self, what: &'static str) -> io::Error {
        Error::protocol(&self.host, what).into_io()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_the_check_string() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(0, b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(crc32(0, b"1234"), b"56789"), 0xcbf4_3926);
    }

    #[test]
    fn header_with_every_optional_field_is_read() {
        let mut header = Header::new();
        let mut bytes = vec![0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3];
        bytes.extend([3, 0, b'a', b'b', b'c']); // extra
        bytes.extend(b"name\0comment\0");
        bytes.extend([0xaa, 0xbb]); // header CRC
        let (last, rest) = bytes.split_last().unwrap();
        for &b in rest {
            assert_eq!(header.take(b), Ok(false));
        }
        assert_eq!(header.take(*last), Ok(true));
    }

    #[test]
    fn header_errors_name_the_problem() {
        let first_error = |bytes: &[u8]| {
            let mut header = Header::new();
            bytes.iter().find_map(|&b| header.take(b).err())
        };
        assert_eq!(first_error(b"PK\x03\x04"), Some("not a gzip stream"));
        assert_eq!(
            first_error(&[0x1f, 0x8b, 7]),
            Some("unknown gzip compression method")
        );
        assert_eq!(
            first_error(&[0x1f, 0x8b, 8, 0x80]),
            Some("reserved gzip header flags set")
        );
    }

    #[test]
    fn decoder_memory_is_as_documented() {
        let state = std::mem::size_of::<InflateState>();
        assert!(state < 44 * 1024, "InflateState is {state} bytes");
    }
}
