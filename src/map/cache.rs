//! Maps kept on disk, one small binary file per (source, settings, examples and their files),
//! in a folder kept within the cache budget like the index and predictions caches.

use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use super::{EmbeddingMap, MapSettings, MapSource};
use crate::dataset::Dataset;
use crate::files::{DiskCache, cache_budget_bytes};
use crate::model::checkpoints::{hash_file_stamp, hash_str};

/// First bytes of a cache file; a new layout gets a new number, so an old file is never misread.
const MAGIC: &[u8; 8] = b"EYEMAP01";

/// Where maps are cached by default: `<cache dir>/eyeball/maps`.
pub fn default_map_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("eyeball").join("maps"))
}

/// The cache file name of a map: a hash of everything the map depends on.
pub fn key(
    dataset: &Dataset,
    examples: &[usize],
    source: &MapSource,
    settings: &MapSettings,
) -> String {
    let mut hasher = Xxh3::new();
    hash_str(&mut hasher, "eyeball-map/1");
    hash_str(&mut hasher, &format!("{settings:?}"));
    match source {
        MapSource::Thumbnails => hash_str(&mut hasher, "thumbnails/16"),
        MapSource::Checkpoint {
            file,
            template,
            preprocess,
        } => {
            hash_str(&mut hasher, &file.hash);
            hash_str(
                &mut hasher,
                template.as_ref().map_or("", |t| t.hash.as_str()),
            );
            hash_str(
                &mut hasher,
                &serde_json::to_string(preprocess).unwrap_or_default(),
            );
        }
    }
    // Each file's size and modification time: an edited image misses the cache.
    for &i in examples {
        let Some(example) = dataset.examples.get(i) else {
            continue;
        };
        hash_file_stamp(&mut hasher, &dataset.absolute_path(example));
    }
    format!("{:032x}.map", hasher.digest128())
}

/// The folder of cached maps.
pub struct MapCache(DiskCache);

impl MapCache {
    pub fn new(dir: &Path) -> MapCache {
        MapCache(DiskCache::new(dir, cache_budget_bytes()))
    }

    pub fn dir(&self) -> &Path {
        &self.0.dir
    }

    /// The map stored under `key`; `None` when absent, unreadable or malformed.
    pub fn read(&self, key: &str) -> Option<EmbeddingMap> {
        decode(&self.0.read(key)?)
    }

    /// Stores `map` under `key`, atomically, then trims the folder to its budget.
    pub fn write(&self, key: &str, map: &EmbeddingMap) -> std::io::Result<()> {
        self.0.write(key, &encode(map))
    }
}

/// Little-endian: magic, n, k, source length and bytes, then n example indices (u32), n × 2
/// coordinates (f32), n × k neighbours (u32).
fn encode(map: &EmbeddingMap) -> Vec<u8> {
    let (n, k) = (map.len(), map.neighbours_per_point());
    let mut out = Vec::with_capacity(32 + map.source.len() + n * (12 + 4 * k));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(n as u64).to_le_bytes());
    out.extend_from_slice(&(k as u64).to_le_bytes());
    out.extend_from_slice(&(map.source.len() as u64).to_le_bytes());
    out.extend_from_slice(map.source.as_bytes());
    for &e in &map.examples {
        out.extend_from_slice(&(e as u32).to_le_bytes());
    }
    for p in &map.xy {
        out.extend_from_slice(&p[0].to_le_bytes());
        out.extend_from_slice(&p[1].to_le_bytes());
    }
    for &q in &map.neighbours {
        out.extend_from_slice(&q.to_le_bytes());
    }
    out
}

/// Reads a byte slice front to back; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(slice)
    }

    fn word(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.take(8)?.try_into().ok()?)).ok()
    }

    /// `count` little-endian 4-byte values.
    fn u32s(&mut self, count: usize) -> Option<Vec<u32>> {
        let raw = self.take(count.checked_mul(4)?)?;
        Some(
            raw.chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
    }
}

/// Reads what `encode` wrote; `None` for anything short, long or out of range.
fn decode(bytes: &[u8]) -> Option<EmbeddingMap> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return None;
    }
    let (n, k, source_len) = (r.word()?, r.word()?, r.word()?);
    let source = String::from_utf8(r.take(source_len)?.to_vec()).ok()?;
    let examples: Vec<usize> = r.u32s(n)?.into_iter().map(|e| e as usize).collect();
    let xy: Vec<[f32; 2]> = r
        .u32s(n.checked_mul(2)?)?
        .chunks_exact(2)
        .map(|p| [f32::from_bits(p[0]), f32::from_bits(p[1])])
        .collect();
    let neighbours = r.u32s(n.checked_mul(k)?)?;
    if r.at != bytes.len() || neighbours.iter().any(|&q| q as usize >= n) {
        return None;
    }
    Some(EmbeddingMap {
        source,
        examples,
        xy,
        neighbours,
        from_cache: false,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EmbeddingMap {
        EmbeddingMap {
            source: "epoch_3.pt".into(),
            examples: vec![0, 2, 5],
            xy: vec![[0.5, -1.0], [2.0, 3.25], [-7.0, 0.0]],
            neighbours: vec![1, 2, 0, 2, 1, 0],
            from_cache: false,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_map_reads_back_as_written_and_damaged_files_are_refused() {
        let bytes = encode(&sample());
        assert_eq!(decode(&bytes), Some(sample()));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        let mut wrong_neighbour = bytes.clone();
        let last = wrong_neighbour.len() - 4;
        wrong_neighbour[last..].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(decode(&wrong_neighbour), None);
        let mut huge = bytes;
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode(&huge), None);
    }
}
