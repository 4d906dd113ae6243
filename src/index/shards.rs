//! Index shards for more than one machine: `eyeball index PATH --shard i/n` indexes the examples
//! whose relative path hashes to shard i of n and writes one Parquet file in the cache's schema
//! (README, "Index shards"); a folder of such files opens as one index (`--index-shards DIR`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::cache::{self, CACHE_VERSION};
use super::{ImageRecord, IndexError};

/// Shard `index` of `count` (`0 <= index < count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether the example at this relative path (as `relative_path_text` writes it) belongs
    /// here: xxh3 of the path modulo the shard count, so a shard never depends on the listing.
    pub fn holds(&self, relative_path: &str) -> bool {
        (xxhash_rust::xxh3::xxh3_64(relative_path.as_bytes()) % self.count as u64) as usize
            == self.index
    }

    /// `index-v2-00003-of-00016.parquet`: the schema version, then the shard.
    pub fn file_name(&self) -> String {
        format!(
            "index-v{CACHE_VERSION}-{:05}-of-{:05}.parquet",
            self.index, self.count
        )
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `"i/n"`, for example `3/16`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?}: a shard is I/N with 0 <= I < N, for example 3/16");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Writes one shard's `(relative path, record)` rows into `dir` (created if missing); returns the
/// file written.
pub fn write_shard<'a>(
    dir: &Path,
    shard: Shard,
    rows: impl Iterator<Item = (String, &'a ImageRecord)>,
) -> Result<PathBuf, IndexError> {
    std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let file = dir.join(shard.file_name());
    cache::write(&file, rows).map_err(|message| IndexError::Shards {
        path: file.clone(),
        message,
    })?;
    Ok(file)
}

/// Every row of the shard files in `dir`, by relative path, and warnings for shards that are
/// missing, unreadable or of another schema version. An error when `dir` holds no shard of this
/// version at all.
pub fn read_shards(dir: &Path) -> Result<(HashMap<String, ImageRecord>, Vec<String>), IndexError> {
    let entries = std::fs::read_dir(dir).map_err(|source| IndexError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("index-v") && name.ends_with(".parquet"))
        .collect();
    names.sort();
    let prefix = format!("index-v{CACHE_VERSION}-");
    let mut warnings = Vec::new();
    let mut rows = HashMap::new();
    let mut seen: Vec<Shard> = Vec::new();
    for name in &names {
        let path = dir.join(name);
        let Some(shard) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".parquet"))
            .and_then(|rest| rest.replace("-of-", "/").parse::<Shard>().ok())
        else {
            warnings.push(format!(
                "{}: skipped: not a shard of index schema v{CACHE_VERSION}; index it again with this eyeball",
                path.display()
            ));
            continue;
        };
        match cache::read(&path) {
            Ok(shard_rows) => {
                rows.extend(shard_rows);
                seen.push(shard);
            }
            Err(message) => warnings.push(format!("{}: skipped: {message}", path.display())),
        }
    }
    if seen.is_empty() {
        return Err(IndexError::Shards {
            path: dir.to_path_buf(),
            message: format!(
                "no readable index shard (index-v{CACHE_VERSION}-IIIII-of-NNNNN.parquet) in this folder; \
                 write them with `eyeball index PATH --shard I/N --out {}`",
                dir.display()
            ),
        });
    }
    for count in seen
        .iter()
        .map(|s| s.count)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let missing: Vec<String> = (0..count)
            .filter(|&i| !seen.contains(&Shard { index: i, count }))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "{}: shards {} of {count} are missing; their images are decoded here",
                dir.display(),
                missing.join(", ")
            ));
        }
    }
    Ok((rows, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_paths_among_themselves() {
        assert_eq!(
            "3/16".parse::<Shard>(),
            Ok(Shard {
                index: 3,
                count: 16
            })
        );
        for bad in ["16/16", "3", "a/4", "-1/4", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let paths: Vec<String> = (0..1000)
            .map(|i| format!("train/c{}/{i}.png", i % 7))
            .collect();
        let shards: Vec<Shard> = (0..4).map(|index| Shard { index, count: 4 }).collect();
        for path in &paths {
            assert_eq!(shards.iter().filter(|s| s.holds(path)).count(), 1, "{path}");
        }
        for shard in &shards {
            let held = paths.iter().filter(|p| shard.holds(p)).count();
            assert!((150..350).contains(&held), "{shard:?} holds {held} of 1000");
        }
    }
}
