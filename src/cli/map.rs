//! `eyeball map`: the embedding map of a dataset as a table (path, x, y, neighbour_disagreement).

use std::path::Path;
use std::time::Instant;

use super::{runnable_checkpoint, with_progress};
use crate::map::{
    DISAGREEMENT_MARK, LABEL_NEIGHBOURS, MapSettings, MapSource, build_map, cache_dir_or_default,
    dataset_labels, ranked_by_disagreement, write_map,
};

/// Runs `eyeball map`: places the examples of `split` (all when `None`) from their thumbnails, or
/// from `checkpoint`'s penultimate layer, writes the table to `out` and a summary on stderr.
pub fn run_map(
    path: &Path,
    checkpoint: Option<&Path>,
    split: Option<&str>,
    out: &Path,
    preprocess: Option<&Path>,
    no_cache: bool,
) -> anyhow::Result<()> {
    // Refuse bad arguments before minutes of work.
    crate::index::TableFormat::for_path(out)?;
    let source = match checkpoint {
        Some(checkpoint) => {
            let (file, preprocess) = runnable_checkpoint(checkpoint, preprocess)?;
            MapSource::Checkpoint {
                file,
                template: None,
                preprocess,
            }
        }
        None => MapSource::Thumbnails,
    };
    let dataset = super::open_dataset(path)?;
    let examples: Vec<usize> = match split {
        Some(name) => {
            let index = dataset
                .splits
                .iter()
                .position(|s| s == name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: no split named {name:?} (splits: {})",
                        path.display(),
                        if dataset.splits.is_empty() {
                            "none".to_string()
                        } else {
                            dataset.splits.join(", ")
                        }
                    )
                })?;
            (0..dataset.examples.len())
                .filter(|&i| dataset.examples[i].split == Some(index))
                .collect()
        }
        None => (0..dataset.examples.len()).collect(),
    };
    let started = Instant::now();
    let cache_dir = cache_dir_or_default(no_cache);
    let models = crate::model::ModelStore::new(crate::model::default_device());
    let map = with_progress("mapping", |progress| {
        build_map(
            &dataset,
            &examples,
            &source,
            &MapSettings::default(),
            cache_dir.as_deref(),
            &models,
            progress,
        )
    })??;
    for warning in &map.warnings {
        eprintln!("eyeball: warning: {warning}");
    }
    let labels = dataset_labels(&dataset);
    write_map(&map, &dataset, &labels, out)?;
    let unreadable = examples.len() - map.len();
    let marked = ranked_by_disagreement(&map, &labels, f32::EPSILON)
        .iter()
        .filter(|r| r.score > f64::from(DISAGREEMENT_MARK))
        .count();
    eprintln!(
        "mapped {} examples from {} in {:.1} s{}{}; {marked} disagree with most of their \
         {LABEL_NEIGHBOURS} nearest neighbours; wrote {}",
        map.len(),
        source.name(),
        started.elapsed().as_secs_f64(),
        if map.from_cache {
            " (from the cache)"
        } else {
            ""
        },
        if unreadable > 0 {
            format!(" ({unreadable} could not be read and are left out)")
        } else {
            String::new()
        },
        out.display()
    );
    Ok(())
}
