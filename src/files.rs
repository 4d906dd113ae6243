//! Files eyeball writes itself (written atomically, caches kept within a disk budget), and the
//! one way it reads a file a dataset names (never a pipe or a device).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Runs `write` on a new temporary file beside `path`, flushes it to disk and renames it over
/// `path`. On failure the temporary file is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".eyeball-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

/// Largest file eyeball reads as one image: twice the memory one decode may use, so no image
/// that could decode is refused.
pub const MAX_INPUT_FILE_BYTES: u64 = 2 * crate::index::DECODE_MEMORY_LIMIT_BYTES;

/// Reads a whole file that a dataset names, with its metadata from the same open. Anything but a
/// regular file is refused at once: a FIFO would block forever, `/dev/zero` never ends. So is a
/// file over `MAX_INPUT_FILE_BYTES`.
pub fn read_input_file(path: &Path) -> io::Result<(Vec<u8>, std::fs::Metadata)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading waits for a writer; non-blocking, the open returns and the
        // type check below refuses it. Regular files ignore the flag.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a pipe, socket or device)",
        ));
    }
    if metadata.len() > MAX_INPUT_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} MiB, more than the {} MiB an image file may be",
                metadata.len() >> 20,
                MAX_INPUT_FILE_BYTES >> 20
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok((bytes, metadata))
}

/// The default disk budget of each cache (index, predictions), in bytes: `EYEBALL_CACHE_MB`
/// megabytes when set, else 2 GiB.
pub fn cache_budget_bytes() -> u64 {
    std::env::var("EYEBALL_CACHE_MB")
        .ok()
        .and_then(|mb| mb.trim().parse::<u64>().ok())
        .map_or(2 << 30, |mb| mb << 20)
}

/// A folder of cache files that never grows past a budget: after each write, the files used
/// least recently (reads refresh a file's modification time) are removed until it fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskCache {
    pub dir: PathBuf,
    pub budget_bytes: u64,
}

impl DiskCache {
    pub fn new(dir: impl Into<PathBuf>, budget_bytes: u64) -> DiskCache {
        DiskCache {
            dir: dir.into(),
            budget_bytes,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The bytes of `name`, marking it as just used; `None` when absent or unreadable.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.path(name);
        let bytes = std::fs::read(&path).ok()?;
        mark_used(&path);
        Some(bytes)
    }

    /// Writes `name` atomically, then trims the folder to the budget (never removing `name`).
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(name);
        write_atomically(&path, |file| io::Write::write_all(file, bytes))?;
        self.trim(&[&path])?;
        Ok(())
    }

    /// Removes the least recently used files until the folder fits the budget; the files in `keep`
    /// are never removed. Returns the bytes removed.
    pub fn trim(&self, keep: &[&Path]) -> io::Result<u64> {
        let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                files.push((used, meta.len(), entry.path()));
            }
        }
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort_by_key(|f| f.0);
        let mut removed = 0;
        for (_, len, path) in files {
            if total <= self.budget_bytes {
                break;
            }
            if keep.contains(&path.as_path()) {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                removed += len;
            }
        }
        Ok(removed)
    }
}

/// Refreshes the modification time of a cache file, so that trimming keeps it longest.
pub fn mark_used(path: &Path) {
    if let Ok(file) = File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn reading_a_pipe_or_a_device_is_refused_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe.png");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Without a writer, a blocking open would never return.
        for path in [fifo.as_path(), Path::new("/dev/zero")] {
            let err = read_input_file(path).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let file = tmp.path().join("a.png");
        std::fs::write(&file, b"bytes").unwrap();
        let (bytes, metadata) = read_input_file(&file).unwrap();
        assert_eq!((bytes.as_slice(), metadata.len()), (&b"bytes"[..], 5));
    }

    #[test]
    fn a_cache_over_budget_drops_the_least_recently_used_files_first() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(tmp.path().join("c"), 250);
        let old = SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            cache.write(name, &[0u8; 100]).unwrap();
            let file = File::options().append(true).open(cache.path(name)).unwrap();
            file.set_modified(old + std::time::Duration::from_secs(i as u64))
                .unwrap();
        }
        // Writing "c" went over 250 bytes, so "a" (the oldest) is gone; reading "b" makes "c"
        // the least recently used.
        assert!(!cache.path("a").exists());
        assert!(cache.read("b").is_some());
        cache.write("d", &[0u8; 100]).unwrap();
        assert!(cache.path("b").exists());
        assert!(!cache.path("c").exists());
        assert!(cache.path("d").exists());
        let left: u64 = std::fs::read_dir(&cache.dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(left <= 250, "{left} bytes left over a 250-byte budget");
    }

    #[test]
    fn a_failed_atomic_write_leaves_the_old_file_and_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("table.json");
        std::fs::write(&path, b"old").unwrap();
        let failed = write_atomically(&path, |file| {
            io::Write::write_all(file, b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        write_atomically(&path, |file| io::Write::write_all(file, b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
