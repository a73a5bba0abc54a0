//! The partial file of a download (`PATH.part`) and its sidecar (`PATH.part.meta`):
//! what they hold, and the order of writes and `fsync`s that keeps them consistent
//! across a power loss.
//!
//! The part's length is not trusted after a restart: file systems that write data
//! after metadata (UBIFS, JFFS2, ext4 `data=writeback`) may leave zeros or garbage
//! at its tail after a power loss. The part is synced every [`DURABLE_STEP`] and
//! the sidecar records that durable length; [`Part::open`] cuts the part back to
//! it. Within one process the in-memory length is used, with no extra `fsync`.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ring::digest::Context;

use crate::error::{Error, Result};
use crate::response::Response;

/// Largest sidecar read back: a URL (a presigned one is ~2 KiB), a validator and a
/// length fit many times over; a larger file is not ours and is not read.
const SIDECAR_LIMIT: u64 = 16 * 1024;

/// First line of a sidecar, naming its format (2: with the durable length; a
/// sidecar of format 1 promised no synced byte and is not used).
const SIDECAR_MAGIC: &str = "tinyhttps-download 2";

/// Last line of a sidecar: a sidecar cut by a power loss lacks it and is not used.
const SIDECAR_END: &str = "end";

/// The partial file: `PATH.part`.
const PART_SUFFIX: &str = ".part";

/// The sidecar of the partial file: `PATH.part.meta`.
const SIDECAR_SUFFIX: &str = ".part.meta";

/// Appended to the sidecar's name while it is written (`PATH.part.meta.tmp`),
/// renamed over the sidecar once synced.
const TEMP_SUFFIX: &str = ".tmp";

/// The part is synced (`fdatasync`) each time its length reaches a multiple of
/// this, and the length recorded in the sidecar (written to a temporary file,
/// synced, renamed): two small `fsync`s per MiB written, a few ms each on NAND
/// flash, against losing at most 1 MiB of progress to a power cut.
pub(super) const DURABLE_STEP: u64 = 1024 * 1024;

/// The partial file and what its sidecar says about it.
pub(super) struct Part {
    pub path: PathBuf,
    sidecar: PathBuf,
    /// The URL (password left out) the part is of, for the sidecar.
    url: String,
    pub file: File,
    /// Bytes in the file (where the next byte goes).
    pub len: u64,
    /// Bytes of the file known to be on disk, as the sidecar records.
    durable: u64,
    pub validator: Option<Validator>,
    /// The file's length, when the server said it.
    pub total: Option<u64>,
}

impl Part {
    /// Opens `PATH.part` beside `path` (made if missing). With `resume`, keeps what
    /// it holds if the sidecar describes it for `url` and it may be resumed (see
    /// [`resumable`](Self::resumable)), up to the durable length the sidecar
    /// records (the rest is cut off); else empties it.
    pub fn open(path: &Path, url: &str, resume: bool, digest: bool) -> Result<Part> {
        let part_path = suffixed(path, PART_SUFFIX);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part_path)
            .map_err(|e| file_error(&part_path, e))?;
        let len = file
            .metadata()
            .map_err(|e| file_error(&part_path, e))?
            .len();
        let mut part = Part {
            path: part_path,
            sidecar: suffixed(path, SIDECAR_SUFFIX),
            url: url.to_string(),
            file,
            len,
            durable: 0,
            validator: None,
            total: None,
        };
        let sidecar = (resume && len > 0)
            .then(|| Sidecar::read(&part.sidecar))
            .flatten()
            .filter(|s| s.url == url && s.total.is_none_or(|total| len.min(s.durable) <= total));
        match sidecar {
            Some(s) => {
                part.validator = s.validator;
                part.total = s.total;
                // What a power loss may have left past the synced bytes goes.
                part.durable = len.min(s.durable);
                if part.durable < len {
                    part.file
                        .set_len(part.durable)
                        .map_err(|e| file_error(&part.path, e))?;
                    part.len = part.durable;
                }
                if !part.resumable(digest) {
                    part.truncate()?;
                }
            }
            None => part.truncate()?,
        }
        Ok(part)
    }

    /// Whether the bytes held may be resumed: a validator tells a changed file
    /// from the same one, else the `digest` catches a splice at the end.
    pub fn resumable(&self, digest: bool) -> bool {
        self.validator.is_some() || digest
    }

    /// Hashes what the part holds (before resuming it).
    pub fn hash_prefix(&mut self, ctx: &mut Context, buf: &mut [u8]) -> Result<()> {
        let path = &self.path;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| file_error(path, e))?;
        let mut held = 0u64;
        let mut reader = (&self.file).take(self.len);
        loop {
            let n = match reader.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(file_error(path, e)),
            };
            #[allow(clippy::indexing_slicing)] // `n` is what `File::read` put into `buf`.
            ctx.update(&buf[..n]);
            held = held.saturating_add(n as u64);
        }
        // Shorter than its length said (changed under us): resume from what was hashed.
        self.len = held;
        Ok(())
    }

    /// Empties the part, keeping no sidecar (nothing to resume).
    pub fn truncate(&mut self) -> Result<()> {
        remove_if_present(&self.sidecar)?;
        self.file
            .set_len(0)
            .map_err(|e| file_error(&self.path, e))?;
        self.len = 0;
        self.durable = 0;
        self.validator = None;
        self.total = None;
        Ok(())
    }

    /// Empties the part for a new body, described by `validator` and `total`.
    /// The old sidecar goes first and the emptied part is made durable before the
    /// new sidecar is written: after a power loss at any point, a sidecar never
    /// describes bytes of another file.
    pub fn start_over(&mut self, validator: Option<Validator>, total: Option<u64>) -> Result<()> {
        let had_bytes = self.len > 0;
        self.truncate()?;
        if had_bytes {
            self.file
                .sync_all()
                .map_err(|e| file_error(&self.path, e))?;
        }
        self.validator = validator;
        self.total = total;
        self.sidecar().write(&self.sidecar)
    }

    /// Syncs the bytes written and records their length in the sidecar: a later
    /// [`open`](Self::open) keeps them.
    pub fn make_durable(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| file_error(&self.path, e))?;
        self.durable = self.len;
        self.sidecar().write(&self.sidecar)
    }

    /// When a download gives up: makes what the file holds durable for the next
    /// run, so that it resumes exactly there. What the file holds beyond `len` (a
    /// write cut by a full disk or a file size limit) is ours too. Errors are
    /// logged: the download's own error is the one to report.
    pub fn keep(&mut self) {
        match self.file.metadata() {
            Ok(meta) if meta.len() > self.durable => self.len = meta.len(),
            _ => return,
        }
        if let Err(e) = self.make_durable() {
            debug!("download given up, part not synced: {e}");
        }
    }

    /// The sidecar describing the part as it stands.
    fn sidecar(&self) -> Sidecar {
        Sidecar {
            url: self.url.clone(),
            validator: self.validator.clone(),
            total: self.total,
            durable: self.durable,
        }
    }

    /// Deletes the part and its sidecar (the file is not the one expected).
    pub fn discard(self) {
        drop(self.file);
        let temp = suffixed(&self.sidecar, TEMP_SUFFIX);
        for path in [&self.path, &self.sidecar, &temp] {
            if let Err(e) = remove_if_present(path) {
                debug!("discarding a download: {e}");
            }
        }
    }

    /// Puts the whole file in place durably: `fsync`, rename to `dest`, sidecar
    /// removed, `fsync` of the directory.
    pub fn commit(self, dest: &Path) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| file_error(&self.path, e))?;
        drop(self.file);
        fs::rename(&self.path, dest).map_err(|e| file_error(dest, e))?;
        // A sidecar left behind describes no part: harmless, replaced next time.
        let temp = suffixed(&self.sidecar, TEMP_SUFFIX);
        for path in [&self.sidecar, &temp] {
            if let Err(e) = remove_if_present(path) {
                debug!("download finished, sidecar left: {e}");
            }
        }
        let dir = match dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| file_error(dir, e))
    }
}

/// What tells one version of a file from another: a strong `ETag`, else
/// `Last-Modified` (RFC 9110 §13.1.5: `If-Range` takes no weak tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Validator {
    ETag(String),
    LastModified(String),
}

impl Validator {
    /// The validator of `response`, if it has one `If-Range` may carry.
    pub fn of(response: &Response) -> Option<Validator> {
        let etag = response
            .header("etag")
            .filter(|tag| tag.starts_with('"'))
            .map(|tag| Validator::ETag(tag.to_string()));
        etag.or_else(|| {
            response
                .header("last-modified")
                .map(|date| Validator::LastModified(date.to_string()))
        })
    }

    /// The header value, for `If-Range`.
    pub fn value(&self) -> &str {
        match self {
            Validator::ETag(v) | Validator::LastModified(v) => v,
        }
    }

    /// False when `response` names another version than this one (a server that
    /// ignored `If-Range` but sends the new file's tag with its 206).
    pub fn agrees(&self, response: &Response) -> bool {
        let (name, ours) = match self {
            Validator::ETag(v) => ("etag", v),
            Validator::LastModified(v) => ("last-modified", v),
        };
        response.header(name).is_none_or(|theirs| theirs == ours)
    }
}

/// The sidecar of a part: which URL and which version of the file it holds, and
/// how many of its bytes were synced.
#[derive(Debug, PartialEq, Eq)]
struct Sidecar {
    url: String,
    validator: Option<Validator>,
    total: Option<u64>,
    durable: u64,
}

impl Sidecar {
    fn encode(&self) -> String {
        let mut text = format!("{SIDECAR_MAGIC}\nurl {}\n", self.url);
        match &self.validator {
            Some(Validator::ETag(v)) => text.push_str(&format!("etag {v}\n")),
            Some(Validator::LastModified(v)) => text.push_str(&format!("last-modified {v}\n")),
            None => {}
        }
        if let Some(total) = self.total {
            text.push_str(&format!("length {total}\n"));
        }
        text.push_str(&format!("durable {}\n", self.durable));
        text.push_str(SIDECAR_END);
        text.push('\n');
        text
    }

    /// `None` for anything but a whole sidecar of this format.
    fn decode(text: &str) -> Option<Sidecar> {
        let mut lines = text.lines();
        if lines.next()? != SIDECAR_MAGIC {
            return None;
        }
        let mut sidecar = Sidecar {
            url: String::new(),
            validator: None,
            total: None,
            durable: 0,
        };
        let mut durable = None;
        for line in lines {
            if line == SIDECAR_END {
                sidecar.durable = durable?;
                return (!sidecar.url.is_empty()).then_some(sidecar);
            }
            let (key, value) = line.split_once(' ')?;
            match key {
                "url" => sidecar.url = value.to_string(),
                "etag" => sidecar.validator = Some(Validator::ETag(value.to_string())),
                "last-modified" => {
                    sidecar.validator = Some(Validator::LastModified(value.to_string()))
                }
                "length" => sidecar.total = Some(value.parse().ok()?),
                "durable" => durable = Some(value.parse().ok()?),
                _ => return None,
            }
        }
        None
    }

    /// The sidecar at `path`, if there is a whole one.
    fn read(path: &Path) -> Option<Sidecar> {
        let mut text = String::new();
        File::open(path)
            .ok()?
            .take(SIDECAR_LIMIT)
            .read_to_string(&mut text)
            .ok()?;
        Sidecar::decode(&text)
    }

    /// Writes the sidecar durably: to `PATH.part.meta.tmp`, synced, renamed over
    /// `path`. A power loss leaves the old sidecar or the new one, never a cut one
    /// (which would throw the part away); no directory `fsync`, since either
    /// describes bytes that are on disk.
    fn write(&self, path: &Path) -> Result<()> {
        let temp = suffixed(path, TEMP_SUFFIX);
        let mut file = File::create(&temp).map_err(|e| file_error(&temp, e))?;
        file.write_all(self.encode().as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| file_error(&temp, e))?;
        drop(file);
        fs::rename(&temp, path).map_err(|e| file_error(path, e))
    }
}

/// `path` with `suffix` appended to its file name: `fw.bin` -> `fw.bin.part`.
pub(super) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// [`Error::File`] naming `path`.
pub(super) fn file_error(path: &Path, source: io::Error) -> Error {
    Error::File {
        path: path.into(),
        source,
    }
}

/// Removes a file; one that is not there is fine.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(file_error(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trips_and_refuses_a_cut_one() {
        let sidecar = Sidecar {
            url: "https://h/fw.bin?v=2".into(),
            validator: Some(Validator::ETag("\"abc\"".into())),
            total: Some(123),
            durable: 100,
        };
        let text = sidecar.encode();
        assert_eq!(Sidecar::decode(&text), Some(sidecar));
        let cut = &text[..text.len() - 4];
        assert_eq!(Sidecar::decode(cut), None, "{cut:?}");
        let dated = Sidecar {
            url: "http://h/x".into(),
            validator: Some(Validator::LastModified(
                "Wed, 21 Oct 2015 07:28:00 GMT".into(),
            )),
            total: None,
            durable: 0,
        };
        assert_eq!(Sidecar::decode(&dated.encode()), Some(dated));
        assert_eq!(Sidecar::decode("something else\nend\n"), None);
        // Format 1 recorded no durable length: nothing in its part is trusted.
        let old = "tinyhttps-download 1\nurl http://h/x\nend\n";
        assert_eq!(Sidecar::decode(old), None);
        let undated = format!("{SIDECAR_MAGIC}\nurl http://h/x\nend\n");
        assert_eq!(Sidecar::decode(&undated), None);
    }

    #[test]
    fn part_and_sidecar_sit_beside_the_file() {
        assert_eq!(
            suffixed(Path::new("/data/fw.bin"), PART_SUFFIX),
            Path::new("/data/fw.bin.part")
        );
        assert_eq!(
            suffixed(Path::new("fw"), SIDECAR_SUFFIX),
            Path::new("fw.part.meta")
        );
    }
}
