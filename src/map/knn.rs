//! Exact nearest neighbours of every row, for t-SNE's affinities and the label disagreement: all
//! pairwise distances, a block of rows at a time, as one matrix product in LibTorch (its BLAS
//! makes 60,000 × 60,000 × 50 a few seconds on two cores, where a tree search in 50 dimensions
//! is slower than brute force).

use tch::{Kind, TchError, Tensor};

use super::MapError;
use crate::jobs::Progress;

/// Rows whose distances to all others are held at once: 512 × 60,000 floats is 123 MB.
const BLOCK_ROWS: usize = 512;

/// The `k` nearest other rows of every row, nearest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    /// `n × k` row indices.
    pub indices: Vec<u32>,
    /// `n × k` Euclidean distances, ascending per row.
    pub distances: Vec<f32>,
}

/// The `k` nearest neighbours (Euclidean, a row never its own) of each row of `values`
/// (`n × dim`, row-major). Advances `progress` once per row; cancellable between blocks.
pub fn nearest_neighbours(
    values: &[f32],
    dim: usize,
    k: usize,
    progress: &Progress,
) -> Result<Neighbours, MapError> {
    search(values, dim, k, progress).map_err(|e| match e {
        Search::Cancelled => MapError::Cancelled,
        Search::Torch(e) => MapError::Torch {
            stage: "finding neighbours",
            message: crate::model::torch_message(&e.to_string()),
        },
    })
}

enum Search {
    Cancelled,
    Torch(TchError),
}

impl From<TchError> for Search {
    fn from(e: TchError) -> Self {
        Search::Torch(e)
    }
}

fn search(values: &[f32], dim: usize, k: usize, progress: &Progress) -> Result<Neighbours, Search> {
    let dim = dim.max(1);
    let n = values.len() / dim;
    let k = k.min(n.saturating_sub(1));
    let mut out = Neighbours {
        k,
        indices: Vec::with_capacity(n * k),
        distances: Vec::with_capacity(n * k),
    };
    if k == 0 {
        return Ok(out);
    }
    let x = Tensor::from_slice(values).f_view([n as i64, dim as i64])?;
    let squares = x.f_mul(&x)?.f_sum_dim_intlist(1i64, false, Kind::Float)?;
    let all_squares = squares.f_unsqueeze(0)?;
    let xt = x.f_tr()?.f_contiguous()?;
    for start in (0..n).step_by(BLOCK_ROWS) {
        if progress.is_cancelled() {
            return Err(Search::Cancelled);
        }
        let rows = BLOCK_ROWS.min(n - start);
        let (start_i, rows_i) = (start as i64, rows as i64);
        // |a - b|² = |a|² + |b|² - 2 a·b, built in place to hold one block-sized matrix (the
        // in-place calls also return the tensor they changed, which is not needed).
        let mut d2 = x.f_narrow(0, start_i, rows_i)?.f_matmul(&xt)?;
        let _ = d2.f_mul_scalar_(-2.0)?;
        let _ = d2.f_add_(&all_squares)?;
        let _ = d2.f_add_(&squares.f_narrow(0, start_i, rows_i)?.f_unsqueeze(1)?)?;
        // A row is not its own neighbour (an exact copy elsewhere still is).
        let _ = d2
            .f_narrow(1, start_i, rows_i)?
            .f_diagonal(0, 0, 1)?
            .f_fill_(f64::INFINITY)?;
        let (nearest, indices) = d2.f_topk(k as i64, 1, false, true)?;
        let distances = nearest.f_clamp_min(0.0)?.f_sqrt()?.f_flatten(0, -1)?;
        out.distances.extend(Vec::<f32>::try_from(distances)?);
        let indices = Vec::<i64>::try_from(indices.f_flatten(0, -1)?)?;
        out.indices.extend(indices.into_iter().map(|i| i as u32));
        progress.advance(rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_neighbours_are_the_exact_nearest_other_rows_in_order() {
        // More rows than one block, so blocks after the first are checked too.
        let (n, dim, k) = (BLOCK_ROWS + 77, 6, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let values: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let found = nearest_neighbours(&values, dim, k, &Progress::default()).unwrap();
        assert_eq!(found.k, k);
        for i in [0, 5, BLOCK_ROWS - 1, BLOCK_ROWS, n - 1] {
            let row = |j: usize| &values[j * dim..(j + 1) * dim];
            let mut all: Vec<(f32, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let d: f32 = row(i).iter().zip(row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d.sqrt(), j)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            let expected: Vec<u32> = all[..k].iter().map(|&(_, j)| j as u32).collect();
            assert_eq!(&found.indices[i * k..(i + 1) * k], expected.as_slice(), "row {i}");
            for (got, (want, _)) in found.distances[i * k..(i + 1) * k].iter().zip(&all) {
                assert!((got - want).abs() < 1e-3, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn a_cancelled_search_stops() {
        let progress = Progress::default();
        progress.cancel();
        let values = vec![0.5f32; 40];
        assert!(matches!(
            nearest_neighbours(&values, 2, 3, &progress),
            Err(MapError::Cancelled)
        ));
    }
}
