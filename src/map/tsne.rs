//! The 2D layout: FIt-SNE (FFT-accelerated t-SNE) from the `bhtsne` crate, on neighbours found
//! beforehand, with progress per iteration and cancellation.
//!
//! Why `bhtsne`: pure Rust (rayon, rustfft), MIT, maintained, and it has FIt-SNE, whose cost per
//! iteration barely grows with the number of points. `annembed` (UMAP-like) needs ndarray-linalg
//! and a system LAPACK/BLAS, which eyeball's single binary avoids.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use bhtsne::{Neighbor, tSNE};

use super::knn::Neighbours;
use super::{MapError, MapSettings};
use crate::jobs::Progress;

/// The payload of the unwind that stops a cancelled fit (see `fit`).
struct Cancelled;

/// Lays out the points of `neighbours` in 2D by FIt-SNE at `perplexity`, starting from `init`
/// (`n × 2`), for `settings.epochs` iterations. Advances `progress` once per iteration.
pub fn fit(
    neighbours: Neighbours,
    perplexity: f32,
    init: Vec<f32>,
    settings: &MapSettings,
    progress: &Progress,
) -> Result<Vec<[f32; 2]>, MapError> {
    let (n, k) = (init.len() / 2, neighbours.k.max(1));
    let rows: Vec<Vec<Neighbor<f32>>> = neighbours
        .indices
        .chunks_exact(k)
        .zip(neighbours.distances.chunks_exact(k))
        .map(|(indices, distances)| {
            indices
                .iter()
                .zip(distances)
                .map(|(&index, &distance)| Neighbor {
                    index: index as usize,
                    distance,
                })
                .collect()
        })
        .collect();
    // The crate copies the rows into its own affinity graph.
    drop(neighbours);
    if rows.len() != n {
        return Err(MapError::Projection(format!(
            "{} rows of neighbours for {n} points",
            rows.len()
        )));
    }
    // The crate reads only the number of samples when given neighbours.
    let samples = vec![(); n];
    let run = AssertUnwindSafe(|| {
        let mut tsne: tSNE<f32, ()> = tSNE::new(&samples);
        tsne.perplexity(perplexity)
            .epochs(settings.epochs)
            .stop_lying_epoch(settings.exaggeration_epochs.min(settings.epochs))
            .momentum_switch_epoch(settings.exaggeration_epochs.min(settings.epochs))
            .initial_embedding(init)
            // The crate's loop has no way to stop early; the callback is where a cancel is
            // seen, and unwinding out of it (caught below) is the only exit. `resume_unwind`
            // skips the panic hook, so nothing is printed.
            .epoch_callback(|_, _| {
                if progress.is_cancelled() {
                    resume_unwind(Box::new(Cancelled));
                }
                progress.advance(1);
            })
            .fit_sne_with_neighbors(&rows);
        tsne.embedding()
    });
    let embedding = catch_unwind(run).map_err(|payload| {
        if payload.is::<Cancelled>() {
            MapError::Cancelled
        } else {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            MapError::Projection(message.trim().to_string())
        }
    })?;
    if embedding.iter().any(|v| !v.is_finite()) {
        return Err(MapError::Projection(
            "the layout diverged (NaN or infinite coordinates)".into(),
        ));
    }
    Ok(embedding.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
}
