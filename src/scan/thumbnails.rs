//! The scan's thumbnails (gray and colour): in each signature, or (for scans too large to hold
//! them within the memory budget) read back from the signature cache file when a stage needs them.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::signature::{EMBED_LEN, Signature, THUMB_SIDE};
use super::signature_cache::ThumbnailFile;

/// Stands in for a thumbnail the cache file could not give back: flat, so it has no structure
/// and is never the same shot as anything.
static FLAT: [u8; GRAY_LEN] = [0; GRAY_LEN];
static FLAT_EMBED: [u8; EMBED_LEN] = [0; EMBED_LEN];
const GRAY_LEN: usize = THUMB_SIDE * THUMB_SIDE;

/// Every example's signature, and where its gray thumbnail is.
pub struct Thumbnails<'a> {
    pub signatures: &'a [Option<Signature>],
    /// Where signatures without their thumbnails have them.
    rows: Option<&'a ThumbnailFile>,
    /// Thumbnails the file could not give back.
    unreadable: AtomicUsize,
}

impl<'a> Thumbnails<'a> {
    pub fn new(signatures: &'a [Option<Signature>], rows: Option<&'a ThumbnailFile>) -> Self {
        Thumbnails {
            signatures,
            rows,
            unreadable: AtomicUsize::new(0),
        }
    }

    /// The signature of example `i`, which has one.
    pub fn signature(&self, i: usize) -> &'a Signature {
        self.signatures[i]
            .as_ref()
            .expect("only examples with a signature are asked for")
    }

    /// The gray thumbnail of example `i` (which has a signature), `THUMB_SIDE²`.
    pub fn gray(&self, i: usize) -> Cow<'a, [u8]> {
        let signature = self.signature(i);
        self.in_memory_or_read(&signature.gray, || self.rows?.gray(i).ok()?, &FLAT)
    }

    /// The colour thumbnail of example `i` (which has a signature), `EMBED_LEN` long.
    pub fn embed(&self, i: usize) -> Cow<'a, [u8]> {
        let signature = self.signature(i);
        self.in_memory_or_read(&signature.embed, || self.rows?.embed(i).ok()?, &FLAT_EMBED)
    }

    /// `in_memory` unless empty, else what `read` gives back from the file, else `flat` (counted).
    fn in_memory_or_read(
        &self,
        in_memory: &'a [u8],
        read: impl FnOnce() -> Option<Vec<u8>>,
        flat: &'static [u8],
    ) -> Cow<'a, [u8]> {
        if !in_memory.is_empty() {
            return Cow::Borrowed(in_memory);
        }
        read().map(Cow::Owned).unwrap_or_else(|| {
            self.unreadable.fetch_add(1, Ordering::Relaxed);
            Cow::Borrowed(flat)
        })
    }

    /// The thumbnails of the examples `wanted` held in memory together, for a stage that reads
    /// them at random: those not in memory are read back into one buffer.
    pub fn hold(&self, wanted: &[bool]) -> Held<'_, 'a> {
        let mut slot_of = Vec::new();
        let mut read = Vec::new();
        if self.rows.is_some() {
            let mut slots = 0u32;
            slot_of = wanted
                .iter()
                .enumerate()
                .map(|(i, &wanted)| {
                    let in_file = self.signatures[i]
                        .as_ref()
                        .is_some_and(|s| s.gray.is_empty());
                    (wanted && in_file).then(|| {
                        slots += 1;
                        slots - 1
                    })
                })
                .collect();
            read = vec![0u8; slots as usize * GRAY_LEN];
            let mut slices: Vec<&mut [u8]> = read.chunks_exact_mut(GRAY_LEN).collect();
            let examples: Vec<usize> = (0..slot_of.len())
                .filter(|&i| slot_of[i].is_some())
                .collect();
            slices
                .par_iter_mut()
                .zip(&examples)
                .for_each(|(slice, &i)| slice.copy_from_slice(&self.gray(i)));
        }
        Held {
            thumbnails: self,
            slot_of,
            read,
        }
    }

    /// How many thumbnails the cache file could not give back.
    pub fn unreadable(&self) -> usize {
        self.unreadable.load(Ordering::Relaxed)
    }
}

/// Thumbnails held in memory for a stage (`Thumbnails::hold`).
pub struct Held<'t, 'a> {
    thumbnails: &'t Thumbnails<'a>,
    /// Per example, its slot in `read`, where its thumbnail was read back from the file.
    slot_of: Vec<Option<u32>>,
    read: Vec<u8>,
}

impl Held<'_, '_> {
    /// The gray thumbnail of a wanted example.
    pub fn gray(&self, i: usize) -> &[u8] {
        match self.slot_of.get(i) {
            Some(&Some(slot)) => &self.read[slot as usize * GRAY_LEN..][..GRAY_LEN],
            _ => &self.thumbnails.signature(i).gray,
        }
    }
}
