//! Exact duplicates (equal pixel hashes), near duplicates (hash candidates verified by structure
//! similarity), and the groups they form, with label conflicts and split leakage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::embedding::Neighbourhood;
use super::hamming;
use super::signature::{self, Gradients, HOG_LEN, Signature};
use super::{DuplicateGroup, Embedding, Finding, IssueKind, MAX_CANDIDATE_PAIRS, ScanSettings};
use crate::dataset::Dataset;
use crate::index::{Index, relative_path_text};

/// Random-hyperplane hash tables of the gradient histogram. Each table finds a different share
/// of the recoloured, shifted and rescaled pairs: on CIFAR-10's test set, against a brute-force
/// search, one table finds about half of the pairs verified at 0.8, twelve find 97%. At 60,000
/// images a table costs a fraction of a second.
const HOG_HASH_TABLES: usize = 12;
/// Seed of the hyperplanes, fixed so scans are reproducible.
const HOG_HASH_SEED: u64 = 0x5EED_0FE7_EBA1_1000;
/// Cosine of the (mean-centred) gradient histograms below which a candidate is dropped before the
/// costlier structure similarity. Of the pairs verified on CIFAR-10 (60,000 images), 1% were
/// below 0.65 and none below 0.5.
const HOG_COSINE_GATE: f32 = 0.5;

/// What the duplicate checks found.
pub struct Duplicates {
    pub findings: Vec<Finding>,
    pub groups: Vec<DuplicateGroup>,
    pub near_pairs: usize,
    /// Of those, the pairs only the model embedding found.
    pub embedding_pairs: usize,
    /// Structure similarity the near pairs were verified at (see `min_similarity_for`).
    pub near_duplicate_threshold: f32,
    /// Why the threshold is above the setting, when it is.
    pub threshold_note: Option<String>,
}

/// A verified near-duplicate pair of examples.
#[derive(Clone, Copy, Debug)]
pub struct NearPair {
    pub a: usize,
    pub b: usize,
    pub similarity: f32,
    /// pHash Hamming distance.
    pub distance: u32,
}

/// What verified a near-duplicate pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Structure similarity of the gray thumbnails.
    Structure,
    /// Cosine similarity of the model embedding.
    Embedding,
}

/// Runs both duplicate checks (the near-duplicate one also on `embedding` when given) and groups
/// the results.
pub fn find(
    dataset: &Dataset,
    index: &Index,
    signatures: &[Option<Signature>],
    embedding: Option<(&Embedding, &Neighbourhood)>,
    settings: &ScanSettings,
    warnings: &mut Vec<String>,
) -> Duplicates {
    let exact = exact_sets(index);
    // One representative per set of identical images: copies add nothing to the search but pairs.
    let mut is_copy = vec![false; index.records.len()];
    for set in &exact {
        for &i in &set[1..] {
            is_copy[i] = true;
        }
    }
    let candidates: Vec<usize> = (0..index.records.len())
        .filter(|&i| !is_copy[i] && signatures[i].as_ref().is_some_and(|s| s.has_structure))
        .collect();
    let (structure_pairs, threshold, threshold_note) =
        near_pairs(index, signatures, &candidates, settings, warnings);
    let mut pairs: Vec<(NearPair, Measure)> = structure_pairs
        .into_iter()
        .map(|p| (p, Measure::Structure))
        .collect();
    if let Some((embedding, neighbourhood)) = embedding {
        let known: std::collections::HashSet<(usize, usize)> =
            pairs.iter().map(|(p, _)| (p.a, p.b)).collect();
        let by_model = super::embedding::near_pairs(
            embedding,
            neighbourhood,
            |i| index.records[i].phash,
            settings,
            |i| is_copy[i],
            warnings,
        );
        pairs.extend(
            by_model
                .into_iter()
                .filter(|p| !known.contains(&(p.a, p.b)))
                .map(|p| (p, Measure::Embedding)),
        );
        // Strongest first within each measure; structure-verified pairs join groups first.
        pairs.sort_by(|x, y| {
            (x.1 as u8)
                .cmp(&(y.1 as u8))
                .then(y.0.similarity.total_cmp(&x.0.similarity))
        });
    }
    let near_count = pairs.len();
    let (groups, findings) = group(dataset, index, &exact, &pairs, settings);
    Duplicates {
        findings,
        groups,
        near_pairs: near_count,
        embedding_pairs: pairs
            .iter()
            .filter(|(_, m)| *m == Measure::Embedding)
            .count(),
        near_duplicate_threshold: threshold,
        threshold_note,
    }
}

/// Sets (of two or more, ascending) of readable examples with equal pixel hashes.
pub fn exact_sets(index: &Index) -> Vec<Vec<usize>> {
    let mut by_hash: HashMap<u128, Vec<usize>> = HashMap::new();
    for (i, record) in index.records.iter().enumerate() {
        if record.is_readable() {
            by_hash.entry(record.content_hash).or_default().push(i);
        }
    }
    let mut sets: Vec<Vec<usize>> = by_hash.into_values().filter(|v| v.len() > 1).collect();
    sets.sort();
    sets
}

/// Candidate pairs from the Hamming index (pHash, and each HOG hash table), verified by gradient
/// histogram cosine and then structure similarity, at the setting or, where unrelated images are
/// alike, at the higher bar of `min_similarity_for` (returned, with a note that explains it).
fn near_pairs(
    index: &Index,
    signatures: &[Option<Signature>],
    candidates: &[usize],
    settings: &ScanSettings,
    warnings: &mut Vec<String>,
) -> (Vec<NearPair>, f32, Option<String>) {
    if candidates.len() < 2 {
        return (Vec::new(), settings.near_duplicate_min_similarity, None);
    }
    let sig = |i: usize| signatures[i].as_ref().expect("candidates have signatures");
    // Centre the histograms on the dataset's mean: raw histograms are all positive, so every pair
    // would look somewhat alike and random hyperplanes would split them poorly.
    let mut mean = vec![0f32; HOG_LEN];
    for &i in candidates {
        for (m, v) in mean.iter_mut().zip(&sig(i).hog) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= candidates.len() as f32;
    }
    let centred: Vec<Vec<f32>> = candidates
        .par_iter()
        .map(|&i| {
            let mut v: Vec<f32> = sig(i).hog.iter().zip(&mean).map(|(x, m)| x - m).collect();
            signature::normalise(&mut v);
            v
        })
        .collect();

    let d = settings.near_duplicate_max_distance;
    let mut code_sets: Vec<Vec<u64>> =
        vec![candidates.iter().map(|&i| index.records[i].phash).collect()];
    let views: Vec<&[f32]> = centred.iter().map(Vec::as_slice).collect();
    code_sets.extend(signature::simhashes(
        &views,
        HOG_LEN,
        HOG_HASH_TABLES,
        HOG_HASH_SEED,
    ));
    let keys = hamming::candidate_keys(
        &code_sets,
        d,
        MAX_CANDIDATE_PAIRS,
        "near-duplicate search",
        warnings,
    );
    let setting = settings.near_duplicate_min_similarity;
    // Each searched image's two highest similarities to its candidates (see `keep_top_two`).
    let top_two: Vec<AtomicU64> = (0..candidates.len()).map(|_| AtomicU64::new(0)).collect();
    // Keys are sorted, so pairs sharing their first image come together: its gradients are
    // computed once per run.
    let runs: Vec<&[u64]> = keys.chunk_by(|x, y| x >> 32 == y >> 32).collect();
    let (centred, sig, top_two) = (&centred, &sig, &top_two);
    let mut pairs: Vec<NearPair> = runs
        .par_iter()
        .flat_map_iter(|run| {
            let pa = (run[0] >> 32) as usize;
            let a = candidates[pa];
            let mut gradients_a: Option<Gradients> = None;
            run.iter()
                .filter_map(move |&key| {
                    let pb = (key & 0xFFFF_FFFF) as usize;
                    if signature::dot(&centred[pa], &centred[pb]) < HOG_COSINE_GATE {
                        return None;
                    }
                    let b = candidates[pb];
                    let ga = gradients_a.get_or_insert_with(|| Gradients::of(&sig(a).gray));
                    // Pairs clearly below the setting are only estimated: close enough for the
                    // look-alike level.
                    let measured = signature::similarity_or_estimate(
                        ga,
                        &Gradients::of(&sig(b).gray),
                        setting,
                    );
                    let estimate = measured.unwrap_or_else(|estimate| estimate);
                    for p in [pa, pb] {
                        keep_top_two(&top_two[p], estimate);
                    }
                    let similarity = measured.ok()?;
                    (similarity >= setting).then(|| NearPair {
                        a,
                        b,
                        similarity,
                        distance: (index.records[a].phash ^ index.records[b].phash).count_ones(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let (threshold, note) = match look_alike_level(top_two) {
        Some(level) if min_similarity_for(setting, level) > setting => {
            let threshold = min_similarity_for(setting, level);
            let note = format!(
                "near duplicates need similarity {threshold:.3} in this dataset, not {setting:.2}: \
                 half of its images have a second look-alike at {level:.3} or more, so a lower \
                 bar would flag look-alikes rather than copies"
            );
            pairs.retain(|p| p.similarity >= threshold);
            (threshold, Some(note))
        }
        _ => (setting, None),
    };
    pairs.sort_by(|x, y| {
        y.similarity
            .total_cmp(&x.similarity)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    (pairs, threshold, note)
}

/// Fewest searched images from which the look-alike level is taken; in a smaller set, a few
/// pictures with several copies would make up half of it.
const MIN_LOOK_ALIKE_IMAGES: usize = 50;

/// Adds `similarity` to an image's two highest, packed as the bits of (similarity + 1), which
/// order like the values (0: none), the highest in the upper half.
fn keep_top_two(top_two: &AtomicU64, similarity: f32) {
    let bits = (similarity + 1.0).max(0.0).to_bits();
    let _ = top_two.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |packed| {
        let (first, second) = ((packed >> 32) as u32, packed as u32);
        let (first, second) = if bits > first {
            (bits, first)
        } else {
            (first, second.max(bits))
        };
        Some((u64::from(first) << 32) | u64::from(second))
    });
}

/// How alike unrelated images of the dataset are: the median, over searched images, of the
/// similarity to their second most similar candidate (-1 without one). The second, because the
/// most similar may be a copy, and few pictures have two. `None` for too few images.
fn look_alike_level(top_two: &[AtomicU64]) -> Option<f32> {
    if top_two.len() < MIN_LOOK_ALIKE_IMAGES {
        return None;
    }
    let mut second: Vec<f32> = top_two
        .iter()
        .map(|t| f32::from_bits(t.load(Ordering::Relaxed) as u32) - 1.0)
        .collect();
    let middle = second.len() / 2;
    Some(*second.select_nth_unstable_by(middle, f32::total_cmp).1)
}

/// The similarity a near duplicate must reach in a dataset whose look-alike level (see
/// `look_alike_level`) is `level`: `setting`, or twice `level` on Fisher's z scale (`atanh`, on
/// which correlations are compared) where that is higher. CIFAR-10's level is below 0.4 and
/// the setting stands; MNIST's digits are at 0.82, and the bar rises to 0.98.
pub(super) fn min_similarity_for(setting: f32, level: f32) -> f32 {
    if level <= 0.0 {
        return setting;
    }
    setting.max((2.0 * level.min(0.9999).atanh()).tanh())
}

/// Union-find with sizes.
struct Components {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl Components {
    fn new(n: usize) -> Components {
        Components {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins the components of `a` and `b` unless the result would exceed `max_size`; true when
    /// they are (now) one component.
    fn join(&mut self, a: usize, b: usize, max_size: usize) -> bool {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return true;
        }
        if self.size[ra] + self.size[rb] > max_size {
            return false;
        }
        let (big, small) = if self.size[ra] >= self.size[rb] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small] = big;
        self.size[big] += self.size[small];
        true
    }
}

/// Groups exact sets and near pairs into connected components (near pairs strongest first, within
/// the size cap), and writes the findings of every duplicate kind.
fn group(
    dataset: &Dataset,
    index: &Index,
    exact: &[Vec<usize>],
    pairs: &[(NearPair, Measure)],
    settings: &ScanSettings,
) -> (Vec<DuplicateGroup>, Vec<Finding>) {
    let (max_group, label_conflict_min_similarity) = (
        settings.near_duplicate_max_group,
        settings.label_conflict_min_similarity,
    );
    let n = index.records.len();
    let mut components = Components::new(n);
    for set in exact {
        for &i in &set[1..] {
            components.join(set[0], i, usize::MAX);
        }
    }
    // The pairs that joined (or already shared) a group, per example:
    // (partner, similarity, distance, measure).
    let mut links: Vec<Vec<(usize, f32, u32, Measure)>> = vec![Vec::new(); n];
    // Near pairs come sorted strongest first.
    for &(pair, measure) in pairs {
        if components.join(pair.a, pair.b, max_group.max(2)) {
            links[pair.a].push((pair.b, pair.similarity, pair.distance, measure));
            links[pair.b].push((pair.a, pair.similarity, pair.distance, measure));
        }
    }
    let mut members_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let root = components.root(i);
        if components.size[root] > 1 {
            members_of.entry(root).or_default().push(i);
        }
    }
    let mut member_lists: Vec<Vec<usize>> = members_of.into_values().collect();
    member_lists.sort();

    let path = |i: usize| relative_path_text(&dataset.examples[i].path);
    let mut groups = Vec::with_capacity(member_lists.len());
    let mut findings = Vec::new();
    for (id, members) in member_lists.into_iter().enumerate() {
        let hash = index.records[members[0]].content_hash;
        let exact_group = members
            .iter()
            .all(|&i| index.records[i].content_hash == hash);
        let group_links = members.iter().flat_map(|&i| links[i].iter());
        let min_similarity = group_links.clone().map(|l| l.1).fold(1.0f32, f32::min);
        let max_distance = group_links.clone().map(|l| l.2).max().unwrap_or(0);
        let by_embedding = group_links.clone().any(|l| l.3 == Measure::Embedding);
        let splits: Vec<Option<usize>> =
            members.iter().map(|&i| dataset.examples[i].split).collect();
        let labels: Vec<Option<usize>> =
            members.iter().map(|&i| dataset.examples[i].label).collect();
        let labels_differ = distinct(&labels) > 1;
        let spans_splits = distinct(&splits) > 1;
        let group_score = f64::from(min_similarity);

        for &i in &members {
            let copies: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&j| {
                    j != i && index.records[j].content_hash == index.records[i].content_hash
                })
                .collect();
            if let Some(&first) = copies.first() {
                findings.push(Finding {
                    example: i,
                    kind: IssueKind::ExactDuplicate,
                    score: 1.0,
                    group: Some(id),
                    partner: Some(first),
                    detail: format!(
                        "identical pixels to {} other file(s), e.g. {}",
                        copies.len(),
                        path(first)
                    ),
                });
            }
            if let Some(&(partner, similarity, distance, measure)) =
                links[i].iter().max_by(|x, y| x.1.total_cmp(&y.1))
            {
                let measured = match measure {
                    Measure::Structure => "similarity",
                    Measure::Embedding => "model embedding cosine",
                };
                findings.push(Finding {
                    example: i,
                    kind: IssueKind::NearDuplicate,
                    score: f64::from(similarity),
                    group: Some(id),
                    partner: Some(partner),
                    detail: format!(
                        "{measured} {similarity:.3}, pHash distance {distance} to {}",
                        path(partner)
                    ),
                });
            }
            // A label conflict is a claim about one picture: it needs an identical copy or a
            // strong direct link, not a chain through look-alikes.
            if labels_differ && let Some(label) = dataset.examples[i].label {
                let differs = |j: usize| dataset.examples[j].label.is_some_and(|l| l != label);
                let identical = copies
                    .iter()
                    .copied()
                    .filter(|&j| differs(j))
                    .map(|j| (j, 1.0f32));
                let linked = links[i]
                    .iter()
                    // Pixel evidence only: a model may embed two different pictures alike.
                    .filter(|l| {
                        l.3 == Measure::Structure
                            && differs(l.0)
                            && l.1 >= label_conflict_min_similarity
                    })
                    .map(|l| (l.0, l.1));
                if let Some((other, similarity)) =
                    identical.chain(linked).max_by(|x, y| x.1.total_cmp(&y.1))
                {
                    let other_label = dataset.examples[other]
                        .label
                        .map_or("?", |l| dataset.classes[l].as_str());
                    findings.push(Finding {
                        example: i,
                        kind: IssueKind::LabelConflict,
                        score: f64::from(similarity),
                        group: Some(id),
                        partner: Some(other),
                        detail: format!(
                            "labelled {}; its duplicate {} (similarity {similarity:.3}) is labelled {other_label}",
                            dataset.classes[label],
                            path(other)
                        ),
                    });
                }
            }
            if spans_splits && let Some(split) = dataset.examples[i].split {
                let other = members
                    .iter()
                    .copied()
                    .find(|&j| dataset.examples[j].split.is_some_and(|s| s != split));
                let names: Vec<String> = distinct_values(&splits)
                    .iter()
                    .map(|&s| dataset.splits[s].clone())
                    .collect();
                findings.push(Finding {
                    example: i,
                    kind: IssueKind::SplitLeakage,
                    score: group_score,
                    group: Some(id),
                    partner: other,
                    detail: format!(
                        "in {}; the same picture is in {}",
                        dataset.splits[split],
                        names.join(", ")
                    ),
                });
            }
        }
        groups.push(DuplicateGroup {
            id,
            members,
            exact: exact_group,
            labels_differ,
            spans_splits,
            max_distance,
            min_similarity,
            by_embedding,
        });
    }
    (groups, findings)
}

/// Distinct known values (None ignored), ascending.
fn distinct_values(values: &[Option<usize>]) -> Vec<usize> {
    let mut known: Vec<usize> = values.iter().flatten().copied().collect();
    known.sort_unstable();
    known.dedup();
    known
}

fn distinct(values: &[Option<usize>]) -> usize {
    distinct_values(values).len()
}
