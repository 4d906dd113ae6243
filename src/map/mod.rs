//! Embedding maps: every example placed in 2D (PCA to ~50 dimensions, then t-SNE) from its small
//! colour thumbnail or a checkpoint's penultimate layer, cached on disk; and kNN label
//! disagreement, the share of each example's nearest neighbours that carry another label.

mod cache;
mod features;
mod knn;
mod pca;
mod tsne;

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::jobs::Progress;
use crate::model::label_issues::Ranked;
use crate::model::{CheckpointFile, ModelError, Preprocess};

pub use cache::default_map_cache_dir;
pub use features::{THUMB_SIDE, thumbnail_features};
pub use knn::nearest_neighbours;
pub use pca::principal_components;

/// Neighbours kept per point (in the embedding, nearest first) for the label disagreement.
pub const LABEL_NEIGHBOURS: usize = 10;
/// Disagreement above which a point is marked: most of its neighbours carry another label.
pub const DISAGREEMENT_MARK: f32 = 0.5;

/// What the map is made of.
// One value per map made: the size of the large variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum MapSource {
    /// Each image's 16×16 colour thumbnail, standardised (its own mean and contrast removed), so
    /// the map groups by layout and colour rather than by exposure.
    Thumbnails,
    /// A checkpoint's penultimate layer (a weights-only `file` is applied to `template`).
    Checkpoint {
        file: CheckpointFile,
        template: Option<CheckpointFile>,
        preprocess: Preprocess,
    },
}

impl MapSource {
    /// What the map shows, for titles and the CLI: "thumbnails" or the checkpoint's file name.
    pub fn name(&self) -> String {
        match self {
            MapSource::Thumbnails => "thumbnails".into(),
            MapSource::Checkpoint { file, .. } => file.name.clone(),
        }
    }
}

/// How the map is computed. The defaults follow openTSNE (perplexity 30, 250 exaggerated
/// iterations) with 500 iterations after them instead of 750: FIt-SNE from a PCA start has
/// settled by then, and it keeps 60,000 images within a minute on two cores.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSettings {
    /// Effective number of neighbours each point keeps close; lowered for small datasets.
    pub perplexity: f32,
    /// Gradient-descent iterations, the first `exaggeration_epochs` of them exaggerated.
    pub epochs: usize,
    pub exaggeration_epochs: usize,
    /// Dimensions PCA keeps before the neighbour search.
    pub pca_dims: usize,
}

impl Default for MapSettings {
    fn default() -> Self {
        MapSettings {
            perplexity: 30.0,
            epochs: 750,
            exaggeration_epochs: 250,
            pca_dims: 50,
        }
    }
}

/// Why a map could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("the map was cancelled")]
    Cancelled,
    #[error("a map needs at least {MIN_POINTS} readable examples; {count} could be read")]
    TooFew { count: usize },
    #[error("{0}")]
    Model(ModelError),
    /// LibTorch failed in the PCA or the neighbour search (out of memory, most likely).
    #[error("{stage}: {message}")]
    Torch {
        stage: &'static str,
        message: String,
    },
    /// The t-SNE crate failed.
    #[error("t-SNE failed: {0}")]
    Projection(String),
}

impl From<ModelError> for MapError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Cancelled => MapError::Cancelled,
            other => MapError::Model(other),
        }
    }
}

/// Fewest points a map is made of: t-SNE needs a few neighbours per point.
pub const MIN_POINTS: usize = 5;

/// Vectors of the examples to place, one row each, before PCA.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    /// Indices into `Dataset::examples`; examples that could not be read are missing.
    pub examples: Vec<usize>,
    pub dim: usize,
    /// `examples.len() × dim`, row-major.
    pub values: Vec<f32>,
}

/// Every example placed in 2D, with its nearest neighbours in the embedding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmbeddingMap {
    /// What the map was made of (`MapSource::name`).
    pub source: String,
    /// Indices into `Dataset::examples`, ascending; unreadable examples are missing.
    pub examples: Vec<usize>,
    /// Map coordinates, aligned with `examples`.
    pub xy: Vec<[f32; 2]>,
    /// `LABEL_NEIGHBOURS` per point (fewer for tiny maps, see `neighbours_per_point`): positions
    /// in `examples`, nearest first, measured in the PCA-reduced embedding rather than on the
    /// map, whose t-SNE distances are not metric.
    pub neighbours: Vec<u32>,
    /// True when read from the disk cache.
    pub from_cache: bool,
    /// Problems that did not stop the map (a cache that could not be written).
    pub warnings: Vec<String>,
}

impl EmbeddingMap {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// True for a map of no points.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Neighbours stored per point.
    pub fn neighbours_per_point(&self) -> usize {
        self.neighbours.len().checked_div(self.len()).unwrap_or(0)
    }

    /// The stored neighbours of point `p` (positions in `examples`), nearest first.
    pub fn neighbours_of(&self, p: usize) -> &[u32] {
        let k = self.neighbours_per_point();
        &self.neighbours[p * k..(p + 1) * k]
    }
}

/// Places the examples `examples` of `dataset` on a map made of `source`: features, PCA to
/// `settings.pca_dims`, nearest neighbours (`knn`), FIt-SNE. With `cache_dir`, a map made before
/// from the same source, settings and unchanged files is read back instead (the folder is kept
/// within `files::cache_budget_bytes`). Names each stage on `progress`; cancellable throughout.
pub fn build_map(
    dataset: &Dataset,
    examples: &[usize],
    source: &MapSource,
    settings: &MapSettings,
    cache_dir: Option<&Path>,
    models: &crate::model::ModelStore,
    progress: &Progress,
) -> Result<EmbeddingMap, MapError> {
    let cache = cache_dir.map(cache::MapCache::new);
    let key = cache::key(dataset, examples, source, settings);
    if let Some(mut map) = cache.as_ref().and_then(|c| c.read(&key)) {
        map.from_cache = true;
        return Ok(map);
    }
    let features = match source {
        MapSource::Thumbnails => thumbnail_features(dataset, examples, progress)?,
        MapSource::Checkpoint {
            file,
            template,
            preprocess,
        } => {
            progress.start_stage(examples.len());
            progress.set_stage_name(&format!("embedding with {}", file.name));
            let embedding = crate::model::embedding::embed_examples(
                models,
                file,
                template.as_ref(),
                preprocess,
                dataset,
                examples,
                progress,
            )?;
            // Penultimate activations follow a ReLU: centred unit vectors compare by angle, as
            // the scan's embedding search does.
            Features {
                examples: embedding.examples.clone(),
                dim: embedding.dim,
                values: embedding.centred_unit_vectors().concat(),
            }
        }
    };
    let mut map = project(features, settings, progress)?;
    map.source = source.name();
    if let Some(cache) = &cache
        && let Err(e) = cache.write(&key, &map)
    {
        map.warnings.push(format!(
            "{}: the map could not be cached: {e}",
            cache.dir().display()
        ));
    }
    Ok(map)
}

/// Places `features` in 2D: PCA to `settings.pca_dims`, the nearest neighbours there (exact up
/// to `knn::EXACT_MAX_ROWS` rows), then FIt-SNE started from the first two principal components. Takes the features to free
/// them once reduced.
pub fn project(
    features: Features,
    settings: &MapSettings,
    progress: &Progress,
) -> Result<EmbeddingMap, MapError> {
    let n = features.examples.len();
    if n < MIN_POINTS {
        return Err(MapError::TooFew { count: n });
    }
    crate::model::init_torch();
    progress.start_stage(1);
    progress.set_stage_name("PCA");
    let reduced = principal_components(&features, settings.pca_dims)?;
    let examples = features.examples;
    drop(features.values);
    progress.advance(1);
    if progress.is_cancelled() {
        return Err(MapError::Cancelled);
    }
    // openTSNE's rule: 3 × perplexity neighbours, and a perplexity small datasets can reach.
    let perplexity = settings.perplexity.min((n - 1) as f32 / 3.0).max(1.0);
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    progress.start_stage(n);
    progress.set_stage_name("finding neighbours");
    let neighbours = nearest_neighbours(&reduced.values, reduced.dim, k, progress)?;
    let kept = LABEL_NEIGHBOURS.min(k);
    let mut kept_neighbours = Vec::with_capacity(n * kept);
    for row in neighbours.indices.chunks_exact(k) {
        kept_neighbours.extend_from_slice(&row[..kept]);
    }
    let init = reduced.start_layout();
    drop(reduced);
    progress.start_stage(settings.epochs);
    progress.set_stage_name("t-SNE");
    let xy = tsne::fit(neighbours, perplexity, init, settings, progress)?;
    Ok(EmbeddingMap {
        source: String::new(),
        examples,
        xy,
        neighbours: kept_neighbours,
        from_cache: false,
        warnings: Vec::new(),
    })
}

/// The label of every dataset example (`None`: unlabelled), as the disagreement reads them.
pub fn dataset_labels(dataset: &Dataset) -> Vec<Option<usize>> {
    dataset.examples.iter().map(|e| e.label).collect()
}

/// For each point of `map`, the fraction of its labelled neighbours whose label differs from
/// its own, and their most common label; `None` for an unlabelled point or one without a
/// labelled neighbour. `labels` is aligned with `Dataset::examples` (so relabels can be applied
/// first).
pub fn neighbour_disagreement(
    map: &EmbeddingMap,
    labels: &[Option<usize>],
) -> Vec<Option<(f32, usize)>> {
    let label_of = |p: usize| {
        map.examples
            .get(p)
            .and_then(|&e| labels.get(e).copied().flatten())
    };
    (0..map.len())
        .map(|p| {
            let own = label_of(p)?;
            let around: Vec<usize> = map
                .neighbours_of(p)
                .iter()
                .filter_map(|&q| label_of(q as usize))
                .collect();
            if around.is_empty() {
                return None;
            }
            let differ = around.iter().filter(|&&l| l != own).count();
            let mut counts: Vec<(usize, usize)> = Vec::new();
            for &l in &around {
                match counts.iter_mut().find(|(c, _)| *c == l) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((l, 1)),
                }
            }
            // Most common first; a tie goes to the lower class index, so the result is stable.
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            Some((differ as f32 / around.len() as f32, counts[0].0))
        })
        .collect()
}

/// The labelled points whose disagreement is at least `min_disagreement`, most disagreeing
/// first (ties in dataset order), as label-review rows: `score` is the disagreement (higher is
/// more suspect) and `predicted` the neighbours' most common label.
pub fn ranked_by_disagreement(
    map: &EmbeddingMap,
    labels: &[Option<usize>],
    min_disagreement: f32,
) -> Vec<Ranked> {
    let mut rows: Vec<Ranked> = neighbour_disagreement(map, labels)
        .into_iter()
        .enumerate()
        .filter_map(|(p, d)| {
            let (share, majority) = d?;
            let example = map.examples[p];
            let given = labels.get(example).copied().flatten()?;
            (share >= min_disagreement).then_some(Ranked {
                example,
                given,
                predicted: majority,
                score: f64::from(share),
                rank: 0,
            })
        })
        .collect();
    rows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.example.cmp(&b.example)));
    for (k, row) in rows.iter_mut().enumerate() {
        row.rank = k + 1;
    }
    rows
}

/// The map as a table: `path`, `x`, `y`, `neighbour_disagreement` (NaN for unlabelled points).
pub fn map_table(
    map: &EmbeddingMap,
    dataset: &Dataset,
    labels: &[Option<usize>],
) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let disagreement: Vec<f32> = neighbour_disagreement(map, labels)
        .iter()
        .map(|d| d.map_or(f32::NAN, |(share, _)| share))
        .collect();
    let paths: Vec<String> = map
        .examples
        .iter()
        .map(|&e| crate::dataset::relative_path_text(&dataset.examples[e].path))
        .collect();
    DataFrame::new(
        map.len(),
        vec![
            Column::new("path".into(), paths),
            Column::new(
                "x".into(),
                map.xy.iter().map(|p| p[0]).collect::<Vec<f32>>(),
            ),
            Column::new(
                "y".into(),
                map.xy.iter().map(|p| p[1]).collect::<Vec<f32>>(),
            ),
            Column::new("neighbour_disagreement".into(), disagreement),
        ],
    )
    .expect("columns of equal length")
}

/// Writes `map` as `.csv` or `.parquet` (by extension), atomically.
pub fn write_map(
    map: &EmbeddingMap,
    dataset: &Dataset,
    labels: &[Option<usize>],
    path: &Path,
) -> Result<(), crate::index::IndexError> {
    let mut df = map_table(map, dataset, labels);
    crate::index::write_table(&mut df, path)
}

/// `cache_dir` for `build_map` when the user asked for none: `None`; else the default folder.
pub fn cache_dir_or_default(no_cache: bool) -> Option<PathBuf> {
    (!no_cache).then(default_map_cache_dir).flatten()
}

#[cfg(test)]
mod tests;
