//! All pairs of 64-bit hashes within a Hamming distance, by multi-index hashing (Norouzi et al.):
//! the bits are cut into `m` chunks; two codes within distance `d` agree to within `r` bits on at
//! least one chunk whenever `m·(r+1) > d` (pigeonhole). Each chunk is a table sorted by its value;
//! a code probes the buckets within `r` bits of its own chunk and verifies the full distance.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

/// One pair of positions `(a, b)`, `a < b`, and their Hamming distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashPair {
    pub a: u32,
    pub b: u32,
    pub distance: u32,
}

/// Bits within which the budgeted search (`near_pairs_within_budget`) probes each chunk. Probing
/// every bucket within the exact radius (2 bits for 10 of 64 in 4 chunks, 137 buckets a chunk)
/// costs about 8 times the probes within 1 bit (17 a chunk), which still find every pair within
/// 7 bits and most up to 10. On the 60,000 CIFAR-10 images with 500 planted copies, the scan
/// found the same copies either way, with the search 2.4 times faster; on a million blocky
/// images, where the budget limits the radius, the same work searches 8 bits instead of 7.
const PROBE_RADIUS: u32 = 1;

/// Chunk widths above this would need offset tables larger than 4 MiB per chunk.
const MAX_CHUNK_BITS: u32 = 20;

/// Rayon tasks per chunk table: enough to balance uneven buckets over the threads.
const TASKS_PER_CHUNK: usize = 256;

/// How the 64 bits are cut: chunk widths (summing to 64) and the radius probed in each.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    widths: Vec<u32>,
    radius: u32,
}

impl Plan {
    /// The exact cut of the 64 bits into `m` chunks for distance `d` (`m·(radius+1) > d`), when
    /// its chunks fit the offsets table and its radius is narrower than a chunk.
    fn exact(m: u32, d: u32) -> Option<Plan> {
        let radius = d / m;
        let widths = chunk_widths(m);
        (widths[0] <= MAX_CHUNK_BITS && radius < widths[widths.len() - 1])
            .then_some(Plan { widths, radius })
    }

    /// The cheapest cut for `n` codes and distance `d`, by an estimate of probes plus
    /// verifications for uniformly spread codes. Every plan considered is exact.
    fn choose(n: usize, d: u32) -> Plan {
        let mut best: Option<(f64, Plan)> = None;
        for plan in (1..=64u32).filter_map(|m| Plan::exact(m, d)) {
            let cost: f64 = plan
                .widths
                .iter()
                .map(|&b| {
                    let probes = ball_size(b, plan.radius) as f64;
                    // A probe is a look-up in the offsets table (often a cache miss); a verification
                    // is an XOR and a popcount on codes stored side by side.
                    probes * 4.0 + probes / 2.0 * n as f64 / f64::from(1u32 << b)
                })
                .sum();
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, plan));
            }
        }
        // m = 64 (one bit per chunk, radius 0 when d < 64) always qualifies for d < 64.
        best.map(|(_, plan)| plan).unwrap_or(Plan {
            widths: vec![1; 64],
            radius: 0,
        })
    }

    /// The cut of the 64 bits into `m` chunks for distance `d`, each chunk probed within at most
    /// `PROBE_RADIUS` bits: exact up to `m·(PROBE_RADIUS + 1) − 1` bits, and beyond that it finds
    /// the pairs whose differing bits leave some chunk within the radius.
    fn probing(m: u32, d: u32) -> Option<Plan> {
        Plan::exact(m, d).map(|plan| Plan {
            radius: plan.radius.min(PROBE_RADIUS),
            ..plan
        })
    }

    /// The cheapest probing cut (`probing`) for these `codes` and distance `d < 64`, by their
    /// real bucket sizes (clustered codes crowd some buckets far beyond the uniform estimate of
    /// `choose`), with the verifications it makes. Beyond `d + 1` chunks (and 4, the fewest of
    /// at most 20 bits) the radius stays 0 and only the work grows.
    fn fitted(codes: &[u64], d: u32) -> (Plan, u64) {
        let plans: Vec<Plan> = (1..=(d + 1).clamp(4, 64))
            .filter_map(|m| Plan::probing(m, d))
            .collect();
        let work: Vec<(u64, u64)> = plans
            .par_iter()
            .map(|plan| planned_work(codes, plan))
            .collect();
        let mut best: Option<(u64, u64, Plan)> = None;
        for (plan, (checks, probes)) in plans.into_iter().zip(work) {
            // As in `choose`: a probe is often a cache miss, a verification is not.
            let cost = checks + 4 * probes;
            if best.as_ref().is_none_or(|(c, _, _)| cost < *c) {
                best = Some((cost, checks, plan));
            }
        }
        let (_, checks, plan) =
            best.expect("4 or more chunks of at most 20 bits qualify for d < 64");
        (plan, checks)
    }
}

/// `m` chunk widths summing to 64, the wider ones first.
fn chunk_widths(m: u32) -> Vec<u32> {
    (0..m).map(|i| 64 / m + u32::from(i < 64 % m)).collect()
}

/// Number of `b`-bit values within distance `r` of a given one.
fn ball_size(b: u32, r: u32) -> u64 {
    let mut total = 0u64;
    let mut choose = 1u64; // C(b, k)
    for k in 0..=r.min(b) {
        total += choose;
        choose = choose * u64::from(b - k) / u64::from(k + 1);
    }
    total
}

/// Every `b`-bit mask with at most `r` bits set, in order of popcount.
fn flip_masks(b: u32, r: u32) -> Vec<u32> {
    let mut masks = vec![0u32];
    let mut frontier = vec![0u32];
    for _ in 0..r.min(b) {
        let mut next = Vec::new();
        for &mask in &frontier {
            // Only add bits above the highest set one, so each mask is made once.
            let from = if mask == 0 {
                0
            } else {
                32 - mask.leading_zeros()
            };
            for bit in from..b {
                next.push(mask | (1 << bit));
            }
        }
        masks.extend_from_slice(&next);
        frontier = next;
    }
    masks
}

/// Every pair of `codes` within Hamming distance `max_distance`, each once, sorted by `(a, b)`.
/// Stops adding pairs after `max_pairs` (then returns `true` as the second value) so that a
/// degenerate input (thousands of equal codes) cannot exhaust memory.
///
/// Time grows about linearly with `codes.len()` for spread-out codes; memory is the input, one
/// sorted copy of it per chunk table (two at a time: the next is sorted during a search), a 4 MiB
/// offsets table each, and the pairs found.
pub fn near_pairs(codes: &[u64], max_distance: u32, max_pairs: usize) -> (Vec<HashPair>, bool) {
    let n = codes.len();
    if n < 2 {
        return (Vec::new(), false);
    }
    if max_distance >= 64 {
        // Everything is within 64 bits of everything: no index can help.
        return brute_force(codes, max_distance, max_pairs);
    }
    let (parts, truncated) = near_pairs_planned(
        codes,
        max_distance,
        &Plan::choose(n, max_distance),
        max_pairs,
    );
    let mut pairs = parts.concat();
    pairs.truncate(max_pairs);
    pairs.par_sort_unstable();
    (pairs, truncated)
}

/// `near_pairs` by `plan`, in no particular order, in parts (one per search task). Tasks stop
/// early once more than `max_pairs` are found in all; then the second value is `true`, and the
/// parts hold what was found by then.
fn near_pairs_planned(
    codes: &[u64],
    max_distance: u32,
    plan: &Plan,
    max_pairs: usize,
) -> (Vec<Vec<HashPair>>, bool) {
    let found_so_far = AtomicUsize::new(0);
    let masks = flip_masks(plan.widths[0], plan.radius);
    let mut shift = 0u32;
    let chunk_masks: Vec<u64> = plan
        .widths
        .iter()
        .map(|&b| {
            let mask = low_bits(b) << shift;
            shift += b;
            mask
        })
        .collect();
    let mut parts: Vec<Vec<HashPair>> = Vec::new();
    let table_of =
        |c: usize| ChunkTable::new(codes, chunk_masks[c].trailing_zeros(), plan.widths[c]);
    let mut next_table = Some(table_of(0));
    for (c, &b) in plan.widths.iter().enumerate() {
        let table = next_table.take().expect("one table per chunk");
        let earlier = &chunk_masks[..c];
        let keys = 1usize << b;
        let per_task = (keys / TASKS_PER_CHUNK).max(1);
        // The next chunk's table is sorted meanwhile: that sort is one task.
        let search = || -> Vec<Vec<HashPair>> {
            (0..keys.div_ceil(per_task))
                .into_par_iter()
                .map(|task| {
                    if found_so_far.load(Ordering::Relaxed) > max_pairs {
                        return Vec::new();
                    }
                    let start = task * per_task;
                    let end = (start + per_task).min(keys);
                    let part = bucket_pairs(
                        &BucketSearch {
                            table: &table,
                            masks: &masks,
                            max_distance,
                            radius: plan.radius,
                            earlier_chunks: earlier,
                        },
                        start..end,
                    );
                    found_so_far.fetch_add(part.len(), Ordering::Relaxed);
                    part
                })
                .collect()
        };
        let next = || (c + 1 < plan.widths.len()).then(|| table_of(c + 1));
        let found;
        (found, next_table) = rayon::join(search, next);
        parts.extend(found.into_iter().filter(|part| !part.is_empty()));
        if found_so_far.load(Ordering::Relaxed) > max_pairs {
            return (parts, true);
        }
    }
    (parts, false)
}

fn low_bits(b: u32) -> u64 {
    if b >= 64 { u64::MAX } else { (1u64 << b) - 1 }
}

/// Codes sorted by one chunk's value, with the start of each value's bucket.
struct ChunkTable {
    bits: u32,
    /// `offsets[k]..offsets[k + 1]` are the sorted positions whose chunk value is `k`.
    offsets: Vec<u32>,
    /// Original positions, in chunk order.
    order: Vec<u32>,
    /// The codes in chunk order, so a bucket is scanned without jumping around memory.
    sorted: Vec<u64>,
}

impl ChunkTable {
    /// Counting sort of `codes` by bits `shift..shift + bits`.
    fn new(codes: &[u64], shift: u32, bits: u32) -> ChunkTable {
        let key = |code: u64| ((code >> shift) & low_bits(bits)) as usize;
        let mut offsets = vec![0u32; (1usize << bits) + 1];
        for &code in codes {
            offsets[key(code) + 1] += 1;
        }
        for k in 1..offsets.len() {
            offsets[k] += offsets[k - 1];
        }
        let mut next = offsets.clone();
        let mut order = crate::memory::vec_on_huge_pages(codes.len(), 0u32);
        let mut sorted = crate::memory::vec_on_huge_pages(codes.len(), 0u64);
        for (i, &code) in codes.iter().enumerate() {
            let slot = &mut next[key(code)];
            order[*slot as usize] = i as u32;
            sorted[*slot as usize] = code;
            *slot += 1;
        }
        ChunkTable {
            bits,
            offsets,
            order,
            sorted,
        }
    }
}

/// What a search of one chunk table compares: its buckets, the masks of the buckets within
/// `radius` bits, the distance, and the chunks searched before this one.
struct BucketSearch<'a> {
    table: &'a ChunkTable,
    masks: &'a [u32],
    max_distance: u32,
    radius: u32,
    earlier_chunks: &'a [u64],
}

/// The pairs of `search.table` whose first member has a chunk value in `keys`. A pair is
/// reported from the bucket with the smaller chunk value (or, within one bucket, once), and only
/// by the first chunk within `radius`, so each pair comes out once over all chunks. Going bucket
/// against bucket keeps both in cache and looks each offset up once. The verifications are most
/// of a search: where the CPU counts the bits of 8 codes at once (AVX-512 `VPOPCNTDQ`) it checks
/// 8 codes an instruction, else one at a time with its popcount instruction; both report the
/// same pairs in the same order.
fn bucket_pairs(search: &BucketSearch, keys: std::ops::Range<usize>) -> Vec<HashPair> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
    {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { bucket_pairs_avx512(search, keys) };
    }
    bucket_pairs_scalar(search, keys)
}

#[multiversion::multiversion(targets("x86_64+popcnt"))]
fn bucket_pairs_scalar(search: &BucketSearch, keys: std::ops::Range<usize>) -> Vec<HashPair> {
    bucket_pairs_with(search, keys, each_within_scalar)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
fn bucket_pairs_avx512(search: &BucketSearch, keys: std::ops::Range<usize>) -> Vec<HashPair> {
    bucket_pairs_with(search, keys, |code, others, max_distance, found| {
        each_within_avx512(code, others, max_distance, found)
    })
}

/// `bucket_pairs` with `each_within` finding the codes within `max_distance` bits of a code.
#[inline(always)]
fn bucket_pairs_with(
    search: &BucketSearch,
    keys: std::ops::Range<usize>,
    each_within: impl Fn(u64, &[u64], u32, &mut dyn FnMut(usize, u64)),
) -> Vec<HashPair> {
    let BucketSearch {
        table,
        masks,
        max_distance,
        radius,
        earlier_chunks,
    } = *search;
    let mut out = Vec::new();
    let mut check = |p: usize, q: usize, diff: u64| {
        if !earlier_chunks
            .iter()
            .any(|&m| (diff & m).count_ones() <= radius)
        {
            let (i, j) = (table.order[p], table.order[q]);
            out.push(HashPair {
                a: i.min(j),
                b: i.max(j),
                distance: diff.count_ones(),
            });
        }
    };
    for key in keys {
        let (start, end) = (table.offsets[key] as usize, table.offsets[key + 1] as usize);
        if start == end {
            continue;
        }
        for p in start..end {
            let others = &table.sorted[p + 1..end];
            each_within(table.sorted[p], others, max_distance, &mut |k, diff| {
                check(p, p + 1 + k, diff)
            });
        }
        for &mask in &masks[1..] {
            let other = key ^ mask as usize;
            // Narrower chunks skip the masks of the widest chunk's extra bit.
            if other <= key || other >> table.bits != 0 {
                continue;
            }
            let (other_start, other_end) = (
                table.offsets[other] as usize,
                table.offsets[other + 1] as usize,
            );
            let others = &table.sorted[other_start..other_end];
            for p in start..end {
                each_within(table.sorted[p], others, max_distance, &mut |k, diff| {
                    check(p, other_start + k, diff)
                });
            }
        }
    }
    out
}

/// Calls `found(k, code ^ others[k])` for each `k`, in order, whose code is within
/// `max_distance` bits of `code`.
#[inline(always)]
fn each_within_scalar(
    code: u64,
    others: &[u64],
    max_distance: u32,
    found: &mut dyn FnMut(usize, u64),
) {
    for (k, &other) in others.iter().enumerate() {
        let diff = code ^ other;
        if diff.count_ones() <= max_distance {
            found(k, diff);
        }
    }
}

/// `each_within_scalar`, 8 codes at a time, and 32 a branch: hits are rare.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn each_within_avx512(
    code: u64,
    others: &[u64],
    max_distance: u32,
    found: &mut dyn FnMut(usize, u64),
) {
    use std::arch::x86_64::*;
    let broadcast = _mm512_set1_epi64(code as i64);
    let limit = _mm512_set1_epi64(i64::from(max_distance));
    // Lanes of the 8 codes at `at` within `max_distance` bits (of the first `lanes` of them).
    let within = |at: usize, lanes: __mmask8| -> __mmask8 {
        // SAFETY: the mask loads only codes of `others`, from `at` on.
        let codes = unsafe { _mm512_maskz_loadu_epi64(lanes, others.as_ptr().add(at).cast()) };
        let bits = _mm512_popcnt_epi64(_mm512_xor_si512(codes, broadcast));
        _mm512_mask_cmple_epu64_mask(lanes, bits, limit)
    };
    let mut report = |at: usize, mut hits: __mmask8| {
        while hits != 0 {
            let k = at + hits.trailing_zeros() as usize;
            found(k, code ^ others[k]);
            hits &= hits - 1;
        }
    };
    let mut at = 0;
    while at + 32 <= others.len() {
        let hits = [0, 8, 16, 24].map(|offset| within(at + offset, 0xFF));
        if hits.iter().any(|&h| h != 0) {
            for (offset, h) in [0, 8, 16, 24].into_iter().zip(hits) {
                report(at + offset, h);
            }
        }
        at += 32;
    }
    while at < others.len() {
        let lanes = (others.len() - at).min(8);
        report(at, within(at, u8::MAX >> (8 - lanes)));
        at += 8;
    }
}

/// The O(n²) reference: every pair within `max_distance`. For tests and tiny inputs.
pub fn brute_force(codes: &[u64], max_distance: u32, max_pairs: usize) -> (Vec<HashPair>, bool) {
    let mut pairs = Vec::new();
    for (a, &x) in codes.iter().enumerate() {
        for (b, &y) in codes.iter().enumerate().skip(a + 1) {
            let distance = (x ^ y).count_ones();
            if distance <= max_distance {
                if pairs.len() == max_pairs {
                    return (pairs, true);
                }
                pairs.push(HashPair {
                    a: a as u32,
                    b: b as u32,
                    distance,
                });
            }
        }
    }
    (pairs, false)
}

/// Verifications (an XOR and a popcount) one search may make per code, and pairs it may return
/// per code: the search's time and memory stay linear in the number of codes, whatever the
/// images look like. On CIFAR-10's 60,000 photos at 10 bits the tables cost 400-2,000
/// verifications and 0.1-17 pairs per code; MNIST digits with mirrors up to 26 pairs per code.
pub const CHECKS_PER_CODE: u64 = 4096;
pub const PAIRS_PER_CODE: usize = 48;

/// Verifications and probes `near_pairs` makes for `codes` by `plan`: each pair of codes that
/// share a chunk's bucket, or lie in buckets within the plan's radius, is checked once per chunk;
/// each non-empty bucket probes its neighbours once.
fn planned_work(codes: &[u64], plan: &Plan) -> (u64, u64) {
    let mut shift = 0u32;
    let mut total = 0u64;
    let mut probes = 0u64;
    for &b in &plan.widths {
        let mut counts = vec![0u32; 1usize << b];
        for &code in codes {
            counts[((code >> shift) & low_bits(b)) as usize] += 1;
        }
        let masks = flip_masks(b, plan.radius);
        let (mut same, mut filled) = (0u64, 0u64);
        for &count in &counts {
            same += u64::from(count) * u64::from(count.saturating_sub(1)) / 2;
            filled += u64::from(count > 0);
        }
        total += same;
        probes += filled * masks.len() as u64;
        // Each pair of buckets `key`, `key ^ mask` once: from the one whose bit `high` (the
        // mask's highest) is clear. Blocks of `high` such keys alternate with blocks of others.
        let product = |x: u32, y: u32| u64::from(x) * u64::from(y);
        for &mask in &masks[1..] {
            let high = 1usize << (31 - mask.leading_zeros());
            let mask = mask as usize;
            for block in counts.chunks_exact(2 * high) {
                let (low, upper) = block.split_at(high);
                // A single bit (radius 1, the usual plan) pairs the block's two halves in order,
                // which vectorises; other masks look their partner up.
                total += if mask == high {
                    low.iter()
                        .zip(upper)
                        .map(|(&x, &y)| product(x, y))
                        .sum::<u64>()
                } else {
                    let others = low
                        .iter()
                        .enumerate()
                        .map(|(k, &x)| product(x, block[k ^ mask]));
                    others.sum::<u64>()
                };
            }
        }
        shift += b;
    }
    (total, probes)
}

/// Pairs of equal codes, each code paired with at most `per_code` of its equals (the next ones
/// around a ring of them, by position): a crowd of equal codes costs linear time.
fn equal_code_pairs(codes: &[u64], per_code: usize) -> Vec<HashPair> {
    let mut order: Vec<u32> = (0..codes.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| (codes[i as usize], i));
    let mut pairs = Vec::new();
    for run in order.chunk_by(|&x, &y| codes[x as usize] == codes[y as usize]) {
        let s = run.len();
        let all_pairs = s <= per_code + 1;
        for (p, &i) in run.iter().enumerate() {
            // A small run: all pairs once; around a larger ring, each code with the next ones.
            let ahead = if all_pairs { s - 1 - p } else { per_code / 2 };
            for step in 1..=ahead {
                let j = run[(p + step) % s];
                pairs.push(HashPair {
                    a: i.min(j),
                    b: i.max(j),
                    distance: 0,
                });
            }
        }
    }
    pairs.par_sort_unstable();
    pairs
}

/// Pairs of `codes` within `max_distance` bits, by a probing cut (`Plan::probing`: every pair
/// within 7 bits, most beyond), searched within fewer bits when that many would
/// cost more than `CHECKS_PER_CODE` verifications or `pairs_per_code` pairs per code (at most
/// `PAIRS_PER_CODE`, fewer when memory is short); at 0 bits,
/// equal codes only (`equal_code_pairs`). Returns the pairs, in no particular order and in parts
/// (the caller sorts what it keeps), and the distance searched.
pub fn near_pairs_within_budget(
    codes: &[u64],
    max_distance: u32,
    pairs_per_code: usize,
) -> (Vec<Vec<HashPair>>, u32) {
    let n = codes.len();
    if n < 2 {
        return (Vec::new(), max_distance);
    }
    let mut d = max_distance.min(63);
    // Start where a sample says the pairs fit the budget, so a crowded table is not searched
    // again and again on the way down.
    let estimated = estimated_pairs_within(codes, d);
    while d > 0 && estimated[d as usize] > (pairs_per_code * n) as f64 {
        d -= 1;
    }
    while d > 0 {
        let (plan, checks) = Plan::fitted(codes, d);
        if checks <= CHECKS_PER_CODE * n as u64 {
            let (parts, truncated) = near_pairs_planned(codes, d, &plan, pairs_per_code * n);
            if !truncated {
                return (parts, d);
            }
        }
        d -= 1;
    }
    (vec![equal_code_pairs(codes, pairs_per_code)], 0)
}

/// Bytes a candidate pair takes while one hash table is searched: the pair, its key, the key's
/// sorted copy and its score.
const BYTES_PER_SEARCHED_PAIR: u64 =
    (size_of::<HashPair>() + 2 * size_of::<u64>() + size_of::<(u64, f32)>()) as u64;
/// Fewest candidate pairs per image and table however short memory is: below, the search would
/// miss most duplicates, so the budget is exceeded instead (and the report says so).
const MIN_PAIRS_PER_CODE: usize = 8;

/// Candidate pairs per code one hash table of `codes` codes may propose: what the budget
/// leaves after `held`, the memory the scan holds (`scan::held_by_data`: an estimate, so the same
/// folder always gets the same room), at most `PAIRS_PER_CODE`. Fewer than that is said in
/// `warnings`.
pub fn pairs_per_code_within(
    budget: u64,
    held: u64,
    codes: usize,
    search: &str,
    warnings: &mut Vec<String>,
) -> usize {
    let room = budget.saturating_sub(held) / (BYTES_PER_SEARCHED_PAIR * codes.max(1) as u64);
    let pairs = (room as usize).min(PAIRS_PER_CODE);
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    if pairs < MIN_PAIRS_PER_CODE {
        warnings.push(format!(
            "{search}: the scan already holds about {:.2} GiB of its {:.2} GiB memory budget \
             (--memory-budget); it searches with {MIN_PAIRS_PER_CODE} candidate pairs per image and \
             hash table anyway, so it may exceed the budget",
            gib(held),
            gib(budget)
        ));
        MIN_PAIRS_PER_CODE
    } else {
        if pairs < PAIRS_PER_CODE {
            warnings.push(format!(
                "{search}: to stay within the {:.2} GiB memory budget (--memory-budget), \
                 each hash table proposed at most {pairs} candidate pairs per image instead of {}",
                gib(budget),
                PAIRS_PER_CODE
            ));
        }
        pairs
    }
}

/// Codes in the sample that `estimated_pairs_within` measures distances among.
const SAMPLE_CODES: usize = 4096;

/// For each distance 0..=`max_distance`, about how many pairs of `codes` lie within it: the share
/// of pairs of an evenly spaced sample of `SAMPLE_CODES` codes, times all pairs.
fn estimated_pairs_within(codes: &[u64], max_distance: u32) -> Vec<f64> {
    let n = codes.len();
    let s = n.min(SAMPLE_CODES);
    let sample: Vec<u64> = (0..s).map(|k| codes[k * n / s]).collect();
    let histogram = || vec![0u64; max_distance as usize + 1];
    let counts = sample
        .par_iter()
        .enumerate()
        .fold(histogram, |mut counts, (i, &x)| {
            count_distances(x, &sample[i + 1..], &mut counts);
            counts
        })
        .reduce(histogram, |mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        });
    let scale = (n as f64 * (n as f64 - 1.0)) / (s as f64 * (s as f64 - 1.0)).max(1.0);
    let mut total = 0u64;
    counts
        .iter()
        .map(|count| {
            total += count;
            total as f64 * scale
        })
        .collect()
}

/// Adds one to `counts[d]` for each of `others` at distance `d` from `code`, up to the last
/// distance `counts` holds.
#[multiversion::multiversion(targets("x86_64+popcnt"))]
fn count_distances(code: u64, others: &[u64], counts: &mut [u64]) {
    let max_distance = counts.len() as u32 - 1;
    for &other in others {
        let d = (code ^ other).count_ones();
        // Most pairs lie far beyond the distance.
        if d <= max_distance {
            counts[d as usize] += 1;
        }
    }
}

/// Candidate pairs of `images` images from several code sets (one per hash table), as sorted,
/// distinct keys `a << 32 | b` (`a < b`): pairs within `max_distance` bits in some set whose
/// `score` passes (is `Some`) and ranks among the `per_image` highest of `a` or of `b`. A set may
/// hold several codes per image (views of it, such as its mirror image): code `p` is of image
/// `p % images`. Sets are searched one at a time within `near_pairs_within_budget`, and the
/// candidates kept so far trimmed to those that rank once they have grown by an eighth, so memory
/// stays at about `per_image` keys per image (`kept_bytes`, and up to an eighth more) plus one
/// set's pairs. A set searched within fewer bits is named in `warnings`
/// (`search` says which). `searched` is called after each set; when it returns false
/// (cancelled), the search stops with what it has kept. `prefetch(b)` is called a few pairs
/// before `score(_, b)`, to fetch what scoring reads of image `b` (its memory is read in no order
/// the caches can follow).
#[allow(clippy::too_many_arguments)]
pub fn candidate_keys(
    code_sets: &[Vec<u64>],
    images: usize,
    max_distance: u32,
    score: impl Fn(usize, usize) -> Option<f32> + Sync,
    prefetch: impl Fn(usize) + Sync,
    per_image: usize,
    pairs_per_code: usize,
    search: &str,
    warnings: &mut Vec<String>,
    searched: impl Fn() -> bool,
) -> Vec<u64> {
    let mut kept: Vec<(u64, f32)> = Vec::new();
    let mut ranks = Ranks::new(images, per_image);
    let mut tightened: Vec<u32> = Vec::new();
    // Kept pairs once they were last trimmed to those that rank.
    let mut trimmed = 0;
    for codes in code_sets {
        let (found, distance) = near_pairs_within_budget(codes, max_distance, pairs_per_code);
        if distance < max_distance {
            tightened.push(distance);
        }
        let keys = pair_keys(&found, images);
        drop(found);
        // Each task scores its keys in order, fetching the second image of the key a few keys
        // ahead meanwhile, with its bar (at 1M images, waiting on the bars took half the
        // scoring), and walks the kept keys forward beside them. A pair below both its
        // images' bars so far cannot rank once added: adding pairs only raises the bars.
        let fresh: Vec<(u64, f32)> = keys
            .par_chunks(KEYS_PER_TASK)
            .flat_map_iter(|keys| {
                let (score, prefetch, kept, ranks) = (&score, &prefetch, &kept, &ranks);
                let mut kept_at = 0;
                (0..keys.len()).filter_map(move |k| {
                    if let Some(&ahead) = keys.get(k + PREFETCH_AHEAD) {
                        let b = key_images(ahead).1;
                        prefetch(b);
                        ranks.prefetch_bar(b);
                    }
                    let key = keys[k];
                    kept_at = first_at_least(kept, kept_at, key);
                    if kept.get(kept_at).is_some_and(|&(k, _)| k == key) {
                        return None;
                    }
                    let (a, b) = key_images(key);
                    let s = score(a, b)?;
                    ranks.ranks(key, s).then_some((key, s))
                })
            })
            .collect();
        drop(keys);
        ranks.add_all(&fresh);
        merge_into(&mut kept, fresh);
        // Trimming reads the bars of every kept pair, so it waits until the kept pairs have grown
        // by an eighth. Meanwhile a kept pair that no longer ranks is not scored again (it never
        // would rank again), and the next trim drops it.
        if kept.len() > trimmed + trimmed / 8 {
            trim(&mut kept, &ranks);
            trimmed = kept.len();
        }
        if !searched() {
            break;
        }
    }
    // Unchanged since the last trim when nothing was added: then no bar has risen.
    if kept.len() != trimmed {
        trim(&mut kept, &ranks);
    }
    if !tightened.is_empty() {
        let tightest = tightened.iter().min().expect("not empty");
        warnings.push(format!(
            "{search}: {} of {} hash tables were searched within fewer than {max_distance} bits \
             (down to {tightest}) to stay within {CHECKS_PER_CODE} comparisons and \
             {pairs_per_code} pairs per image; pairs further apart there were not proposed",
            tightened.len(),
            code_sets.len()
        ));
    }
    kept.into_iter().map(|(key, _)| key).collect()
}

/// The distinct keys of the pairs of images in `found`, sorted (code `p` is of image
/// `p % images`; pairs of one image's views are left out).
fn pair_keys(found: &[Vec<HashPair>], images: usize) -> Vec<u64> {
    // Each part's keys are written beside the others'; a pair of views of one image, as the
    // largest key there is, sorts last and is dropped.
    let mut keys = vec![0u64; found.iter().map(Vec::len).sum()];
    let mut slots = Vec::with_capacity(found.len());
    let mut rest = keys.as_mut_slice();
    for part in found {
        let (slot, after) = rest.split_at_mut(part.len());
        slots.push(slot);
        rest = after;
    }
    slots.into_par_iter().zip(found).for_each(|(slot, part)| {
        for (key, &HashPair { a, b, .. }) in slot.iter_mut().zip(part) {
            let (a, b) = (a as usize % images, b as usize % images);
            *key = if a == b { u64::MAX } else { pair_key(a, b) };
        }
    });
    keys.par_sort_unstable();
    keys.dedup();
    if keys.last() == Some(&u64::MAX) {
        keys.pop();
    }
    keys
}

/// Drops the pairs of `kept` that no longer rank among their images' highest, and hands the
/// memory back.
fn trim(kept: &mut Vec<(u64, f32)>, ranks: &Ranks) {
    *kept = std::mem::take(kept)
        .into_par_iter()
        .filter(|&(key, s)| ranks.ranks(key, s))
        .collect();
    kept.shrink_to_fit();
    crate::memory::return_freed();
}

/// The first position from `from` on of an entry of `kept` (sorted by key) whose key is at least
/// `key` (`kept.len()` when none is): the step doubles until it passes `key`, so a walk over
/// sorted keys costs the logarithm of each gap, and reads `kept` in order.
fn first_at_least(kept: &[(u64, f32)], from: usize, key: u64) -> usize {
    let rest = &kept[from..];
    let mut step = 1;
    while step <= rest.len() && rest[step - 1].0 < key {
        step *= 2;
    }
    let passed = step / 2;
    from + passed + rest[passed..step.min(rest.len())].partition_point(|&(k, _)| k < key)
}

/// Keys one task of `candidate_keys` scores, in order.
const KEYS_PER_TASK: usize = 4096;
/// How many keys ahead `candidate_keys` fetches the second image's data.
const PREFETCH_AHEAD: usize = 8;

/// Bytes `candidate_keys` holds besides one code set's pairs: the kept candidates (at most about
/// `per_image` per image) and each image's row of highest scores (`Ranks`).
pub fn kept_bytes(images: usize, per_image: usize) -> u64 {
    (images * per_image * (size_of::<(u64, f32)>() + size_of::<f32>())) as u64
}

/// Per image, its `per_image` highest scores so far, descending: which pairs rank among them.
/// Adding scores only raises an image's bar (its `per_image`-th score), so a pair that does not
/// rank now never will, and dropping it changes no row: the rows stay those of the pairs kept.
struct Ranks {
    per_image: usize,
    rows: Vec<f32>,
}

impl Ranks {
    fn new(images: usize, per_image: usize) -> Ranks {
        Ranks {
            per_image,
            rows: crate::memory::vec_on_huge_pages(images * per_image, f32::NEG_INFINITY),
        }
    }

    /// Adds the score of the pair `key` to both its images' rows.
    fn add(&mut self, key: u64, score: f32) {
        let k = self.per_image;
        let (a, b) = key_images(key);
        for image in [a, b] {
            let row = &mut self.rows[image * k..][..k];
            if k > 0 && score > row[k - 1] {
                let at = row.partition_point(|&s| s >= score);
                row.copy_within(at..k - 1, at + 1);
                row[at] = score;
            }
        }
    }

    /// `add` of each scored pair, in order, fetching the rows a few pairs ahead.
    fn add_all(&mut self, scored: &[(u64, f32)]) {
        let k = self.per_image;
        for (at, &(key, score)) in scored.iter().enumerate() {
            if let Some(&(ahead, _)) = scored.get(at + PREFETCH_AHEAD) {
                let b = key_images(ahead).1;
                let row = self.rows.get(b * k..(b + 1) * k).unwrap_or_default();
                row.first()
                    .into_iter()
                    .chain(row.last())
                    .for_each(crate::memory::prefetch);
            }
            self.add(key, score);
        }
    }

    /// Fetches `image`'s bar (its `per_image`-th score) ahead of a `ranks` check.
    fn prefetch_bar(&self, image: usize) {
        let at = ((image + 1) * self.per_image).checked_sub(1);
        if let Some(bar) = at.and_then(|at| self.rows.get(at)) {
            crate::memory::prefetch(bar);
        }
    }

    /// Whether `score` ranks among the `per_image` highest of either image of `key`; ties at the
    /// `per_image`-th score rank.
    fn ranks(&self, key: u64, score: f32) -> bool {
        let k = self.per_image;
        let (a, b) = key_images(key);
        k > 0 && (score >= self.rows[(a + 1) * k - 1] || score >= self.rows[(b + 1) * k - 1])
    }
}

/// `fresh` (sorted by key, no key in `kept`) merged into `kept` (sorted by key): in place from the
/// back, so that no third list is held beside the two.
fn merge_into(kept: &mut Vec<(u64, f32)>, fresh: Vec<(u64, f32)>) {
    debug_assert!(
        kept.is_sorted_by_key(|&(key, _)| key) && fresh.is_sorted_by_key(|&(key, _)| key)
    );
    let mut unmoved = kept.len();
    kept.resize(kept.len() + fresh.len(), (0, 0.0));
    let mut free = kept.len();
    for &entry in fresh.iter().rev() {
        // The kept entries after this one move up first.
        while unmoved > 0 && kept[unmoved - 1].0 > entry.0 {
            (unmoved, free) = (unmoved - 1, free - 1);
            kept[free] = kept[unmoved];
        }
        free -= 1;
        kept[free] = entry;
    }
}

/// The `candidate_keys` key of the pair of images `a` and `b` (`a != b`), in either order.
fn pair_key(a: usize, b: usize) -> u64 {
    ((a.min(b) as u64) << 32) | a.max(b) as u64
}

/// The two images `(a, b)` of a `candidate_keys` key.
pub fn key_images(key: u64) -> (usize, usize) {
    ((key >> 32) as usize, (key & 0xFFFF_FFFF) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_keys_are_the_sorted_distinct_pairs_of_distinct_images() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for images in [1usize, 3, 200, 5_000] {
            // Three views per image, and parts of every size, the empty one among them.
            let found: Vec<Vec<HashPair>> = (0..40)
                .map(|part| {
                    (0..part * 7)
                        .map(|_| {
                            let a = rng.random_range(0..3 * images as u32);
                            let b = rng.random_range(0..3 * images as u32);
                            HashPair {
                                a: a.min(b),
                                b: a.max(b),
                                distance: 0,
                            }
                        })
                        .collect()
                })
                .collect();
            let mut expected: Vec<u64> = found
                .iter()
                .flatten()
                .filter_map(|p| {
                    let (a, b) = (p.a as usize % images, p.b as usize % images);
                    (a != b).then(|| (a.min(b) as u64) << 32 | a.max(b) as u64)
                })
                .collect();
            expected.sort_unstable();
            expected.dedup();
            assert_eq!(pair_keys(&found, images), expected, "{images} images");
        }
    }

    #[test]
    fn a_forward_walk_finds_where_each_sorted_key_belongs() {
        let kept: Vec<(u64, f32)> = [2u64, 3, 3, 8, 20, 21, 22, 40, 41, 100]
            .iter()
            .map(|&k| (k, 0.0))
            .collect();
        for keys in [
            vec![0u64, 1, 2, 3, 4],
            vec![3, 8, 9, 41, 99, 100, 101],
            vec![21, 200],
        ] {
            let mut at = 0;
            for key in keys {
                at = first_at_least(&kept, at, key);
                assert_eq!(at, kept.partition_point(|&(k, _)| k < key), "key {key}");
            }
        }
        assert_eq!(first_at_least(&[], 0, 5), 0);
    }

    #[test]
    fn merging_new_candidates_keeps_every_entry_in_key_order() {
        let entries: Vec<(u64, f32)> = (0..500u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8, i as f32))
            .collect();
        for split in [0, 1, 7, 250, 499, 500] {
            let (mut kept, mut fresh) = (entries[..split].to_vec(), entries[split..].to_vec());
            kept.sort_by_key(|&(key, _)| key);
            fresh.sort_by_key(|&(key, _)| key);
            merge_into(&mut kept, fresh);
            let mut expected = entries.clone();
            expected.sort_by_key(|&(key, _)| key);
            assert_eq!(kept, expected, "split {split}");
        }
    }

    #[test]
    fn the_sampled_pair_estimate_is_exact_for_small_sets_and_close_for_large() {
        let codes: Vec<u64> = (0..300u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let estimated = estimated_pairs_within(&codes, 64);
        for d in [0u32, 20, 28, 32, 64] {
            let (exact, _) = brute_force(&codes, d, usize::MAX);
            assert_eq!(estimated[d as usize], exact.len() as f64, "d = {d}");
        }
        // A crowd of equal codes that is a fifth of the set: about a 25th of all pairs are equal.
        let n = 50_000u64;
        let crowd: Vec<u64> = (0..n)
            .map(|i| {
                if i % 5 == 0 {
                    7
                } else {
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                }
            })
            .collect();
        let equal = estimated_pairs_within(&crowd, 0)[0];
        let truth = (n / 5 * (n / 5 - 1) / 2) as f64;
        assert!((equal / truth - 1.0).abs() < 0.1, "{equal} vs {truth}");
    }
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_codes(n: usize, seed: u64) -> Vec<u64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.next_u64()).collect()
    }

    /// Random codes plus clusters of near copies, so that every radius has pairs to find.
    fn clustered_codes(n: usize, seed: u64) -> Vec<u64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut codes = random_codes(n, seed ^ 0xABCD);
        for i in (0..n).step_by(3) {
            let source = codes[rng.random_range(0..n)];
            let mut code = source;
            for _ in 0..rng.random_range(0..16) {
                code ^= 1 << rng.random_range(0..64);
            }
            codes[i] = code;
        }
        codes
    }

    #[test]
    fn multi_index_hashing_finds_exactly_the_brute_force_pairs() {
        for (n, seed) in [(2_000, 1), (3_000, 2), (500, 3)] {
            let codes = clustered_codes(n, seed);
            for d in [0, 1, 3, 4, 7, 10, 12, 16, 24] {
                let (fast, cut) = near_pairs(&codes, d, usize::MAX);
                let (slow, _) = brute_force(&codes, d, usize::MAX);
                assert!(!cut);
                assert_eq!(fast, slow, "n={n} d={d}");
            }
        }
    }

    #[test]
    fn the_vector_kernel_reports_the_portable_kernels_pairs_in_the_same_order() {
        // Buckets of every size from 0 up, so that full and partial groups of 8 both occur.
        let codes = clustered_codes(20_000, 5);
        for (bits, radius, d) in [(8, 1, 10), (12, 0, 6), (16, 1, 7)] {
            let table = ChunkTable::new(&codes, 0, bits);
            let masks = flip_masks(bits, radius);
            let earlier = [low_bits(16) << 16];
            let keys = 0..1usize << bits;
            let search = BucketSearch {
                table: &table,
                masks: &masks,
                max_distance: d,
                radius,
                earlier_chunks: &earlier,
            };
            let portable = bucket_pairs_scalar(&search, keys.clone());
            assert!(!portable.is_empty());
            assert_eq!(bucket_pairs(&search, keys), portable, "bits={bits}");
        }
    }

    #[test]
    fn equal_codes_pair_up_once_each() {
        let codes = vec![7u64; 50];
        let (pairs, _) = near_pairs(&codes, 3, usize::MAX);
        assert_eq!(pairs.len(), 50 * 49 / 2);
        assert!(pairs.iter().all(|p| p.a < p.b && p.distance == 0));
    }

    #[test]
    fn the_pair_cap_holds() {
        let codes = vec![0u64; 100];
        let (pairs, cut) = near_pairs(&codes, 0, 10);
        assert!(cut);
        assert_eq!(pairs.len(), 10);
    }

    #[test]
    fn plans_are_exact_and_sensible() {
        for n in [10, 10_000, 1_000_000] {
            for d in 0..40 {
                let plan = Plan::choose(n, d);
                assert_eq!(plan.widths.iter().sum::<u32>(), 64);
                assert!(plan.widths.len() as u32 * (plan.radius + 1) > d);
                assert!(plan.widths.iter().all(|&b| b <= MAX_CHUNK_BITS));
            }
        }
        assert_eq!(
            Plan::choose(1_000_000, 10),
            Plan {
                widths: vec![16; 4],
                radius: 2
            }
        );
    }

    #[test]
    fn the_budgeted_search_finds_all_close_pairs_and_only_pairs_within_the_distance() {
        let codes = clustered_codes(3_000, 4);
        let (parts, searched) = near_pairs_within_budget(&codes, 10, PAIRS_PER_CODE);
        assert_eq!(searched, 10);
        let mut budgeted = parts.concat();
        budgeted.sort_unstable();
        let within = |d: u32| brute_force(&codes, d, usize::MAX).0;
        // Every pair found is within 10 bits, reported once.
        let all = within(10);
        assert!(budgeted.iter().all(|p| all.binary_search(p).is_ok()));
        assert!(budgeted.windows(2).all(|w| w[0] < w[1]));
        // At least 4 chunks, each probed within PROBE_RADIUS bits: exact up to 4·2 − 1 bits.
        let exact_up_to = 4 * (PROBE_RADIUS + 1) - 1;
        let close = within(exact_up_to);
        assert!(close.iter().all(|p| budgeted.binary_search(p).is_ok()));
        // And it probes beyond that: some pairs further apart are found too.
        assert!(budgeted.len() > close.len());
    }

    #[test]
    fn planned_work_counts_the_pairs_each_chunk_checks_and_the_buckets_it_probes() {
        let codes = clustered_codes(1_500, 4);
        let plans = (4..=11).filter_map(|m| Plan::probing(m, 10)).chain([Plan {
            widths: chunk_widths(8),
            radius: 2,
        }]);
        for plan in plans {
            let (mut checks, mut probes) = (0u64, 0u64);
            let mut shift = 0;
            for &b in &plan.widths {
                let chunk = |code: u64| (code >> shift) & low_bits(b);
                for (i, &x) in codes.iter().enumerate() {
                    checks += codes[i + 1..]
                        .iter()
                        .filter(|&&y| (chunk(x) ^ chunk(y)).count_ones() <= plan.radius)
                        .count() as u64;
                }
                let mut values: Vec<u64> = codes.iter().map(|&c| chunk(c)).collect();
                values.sort_unstable();
                values.dedup();
                probes += values.len() as u64 * ball_size(b, plan.radius);
                shift += b;
            }
            assert_eq!(planned_work(&codes, &plan), (checks, probes), "{plan:?}");
        }
    }

    #[test]
    fn a_crowd_of_equal_codes_costs_a_bounded_number_of_pairs_per_code() {
        // 20,000 codes, most of them equal: all pairs would be 180 million.
        let mut codes = random_codes(20_000, 5);
        codes[..19_000].fill(0x0123_4567_89AB_CDEF);
        let (parts, searched) = near_pairs_within_budget(&codes, 10, PAIRS_PER_CODE);
        let pairs = parts.concat();
        assert!(searched < 10, "the search was not tightened");
        let mut per_code = vec![0usize; codes.len()];
        for p in &pairs {
            assert!(
                p.a < p.b && (codes[p.a as usize] ^ codes[p.b as usize]).count_ones() <= searched
            );
            per_code[p.a as usize] += 1;
            per_code[p.b as usize] += 1;
        }
        assert!(per_code.iter().all(|&k| k <= PAIRS_PER_CODE));
        // Every member of the crowd still has candidates among its equals.
        assert!(per_code[..19_000].iter().all(|&k| k > 0));
    }

    #[test]
    fn small_groups_of_equal_codes_pair_up_fully() {
        let codes = [5u64, 9, 5, 5, 9, 1];
        let pairs = equal_code_pairs(&codes, PAIRS_PER_CODE);
        let found: Vec<(u32, u32)> = pairs.iter().map(|p| (p.a, p.b)).collect();
        assert_eq!(found, vec![(0, 2), (0, 3), (1, 4), (2, 3)]);
    }

    /// The `(key, score)` entries that rank among the `per_image` highest scores of either of
    /// their images (ties at the `per_image`-th all rank), each image's scores sorted in one pass.
    fn most_alike(entries: Vec<(u64, f32)>, images: usize, per_image: usize) -> Vec<(u64, f32)> {
        let mut scores = vec![Vec::new(); images];
        for &(key, score) in &entries {
            let (a, b) = key_images(key);
            scores[a].push(score);
            scores[b].push(score);
        }
        let bars: Vec<f32> = scores
            .into_iter()
            .map(|mut s| {
                s.sort_by(|x: &f32, y| y.total_cmp(x));
                s.get(per_image.wrapping_sub(1))
                    .copied()
                    .unwrap_or(f32::NEG_INFINITY)
            })
            .collect();
        entries
            .into_iter()
            .filter(|&(key, score)| {
                let (a, b) = key_images(key);
                per_image > 0 && (score >= bars[a] || score >= bars[b])
            })
            .collect()
    }

    #[test]
    fn candidate_keys_keep_what_ranking_every_proposed_pair_at_once_keeps() {
        let images = 600;
        // Sets of one and of two codes per image (a view and its mirror image, say), each code
        // a few bits off one of 30 centres: many candidates per image.
        let mut rng = ChaCha8Rng::seed_from_u64(20);
        let centres = random_codes(30, 21);
        let sets: Vec<Vec<u64>> = (0..4)
            .map(|s| {
                (0..images * (1 + s % 2))
                    .map(|_| {
                        let mut code = centres[rng.random_range(0..centres.len())];
                        for _ in 0..rng.random_range(0..4) {
                            code ^= 1 << rng.random_range(0..64);
                        }
                        code
                    })
                    .collect()
            })
            .collect();
        // Scores with ties, and some pairs gated out.
        let score = |a: usize, b: usize| {
            let h = ((a as u64) << 32 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            (!h.is_multiple_of(10)).then_some((h % 200) as f32 / 200.0)
        };
        let kept = candidate_keys(
            &sets,
            images,
            10,
            score,
            |_| {},
            8,
            PAIRS_PER_CODE,
            "test",
            &mut Vec::new(),
            || true,
        );
        let mut proposed: Vec<u64> = sets
            .iter()
            .flat_map(|codes| {
                near_pairs_within_budget(codes, 10, PAIRS_PER_CODE)
                    .0
                    .concat()
            })
            .filter_map(|p| {
                let (a, b) = (p.a as usize % images, p.b as usize % images);
                (a != b).then(|| pair_key(a, b))
            })
            .collect();
        proposed.sort_unstable();
        proposed.dedup();
        let scored: Vec<(u64, f32)> = proposed
            .iter()
            .filter_map(|&key| {
                let (a, b) = key_images(key);
                score(a, b).map(|s| (key, s))
            })
            .collect();
        let once: Vec<u64> = most_alike(scored.clone(), images, 8)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(kept, once);
        assert!(once.len() < scored.len() / 2, "the ranking kept nearly all");
    }

    #[test]
    fn flip_masks_enumerate_the_ball() {
        let masks = flip_masks(10, 2);
        assert_eq!(masks.len() as u64, ball_size(10, 2));
        let mut sorted = masks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), masks.len());
        assert!(masks.iter().all(|m| m.count_ones() <= 2 && m >> 10 == 0));
    }
}
