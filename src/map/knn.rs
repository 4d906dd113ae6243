//! Nearest neighbours of every row, for t-SNE's affinities and the label disagreement, as matrix
//! products in LibTorch (a tree search in 50 dimensions is slower than brute force). Up to
//! `EXACT_MAX_ROWS` rows: exact, every pairwise distance a block of rows at a time. Above, the
//! n² cost (at 60,000 rows, half a minute on two cores) is cut by an inverted-file search: k-means
//! cells, each cell's rows compared with the rows of its `PROBED_CELLS` nearest cells only.

use tch::{Kind, TchError, Tensor};

use super::MapError;
use crate::jobs::Progress;

/// Rows whose distances to all others are held at once: 512 × 60,000 floats is 123 MB.
const BLOCK_ROWS: usize = 512;
/// Largest number of rows searched exactly: 20,000² distances take a few seconds.
pub const EXACT_MAX_ROWS: usize = 20_000;
/// Cells searched for each cell's rows, its own included. On CIFAR-10 thumbnails (60,000 rows in
/// 245 cells, PCA to 50) 10, 30 and 60 cells found 62%, 85% and 94% of the exact 90 nearest
/// neighbours (68%, 88%, 96% of the 10 nearest): 30 compares each row with about 7,000 others
/// instead of 60,000.
const PROBED_CELLS: usize = 30;
/// Lloyd iterations of the k-means that makes the cells: cells only need to be compact, not
/// converged.
const KMEANS_ITERATIONS: usize = 8;

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
/// (`n × dim`, row-major): exact up to `EXACT_MAX_ROWS` rows, else from the nearest cells (see
/// the module). Advances `progress` once per row; cancellable between blocks.
pub fn nearest_neighbours(
    values: &[f32],
    dim: usize,
    k: usize,
    progress: &Progress,
) -> Result<Neighbours, MapError> {
    let n = values.len() / dim.max(1);
    let found = if n <= EXACT_MAX_ROWS {
        search(values, dim, k, progress)
    } else {
        // About √n cells of about √n rows: the assignment and the searches cost about the same.
        let cells = ((n as f64).sqrt() as usize).clamp(16, 4096);
        search_cells(values, dim, k, cells, PROBED_CELLS, progress)
    };
    found.map_err(|e| match e {
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

/// The `k` nearest neighbours of each row among the rows of the `probes` cells (of `cells`
/// k-means cells) nearest the row's own cell; more cells are probed where those hold too few rows.
fn search_cells(
    values: &[f32],
    dim: usize,
    k: usize,
    cells: usize,
    probes: usize,
    progress: &Progress,
) -> Result<Neighbours, Search> {
    let dim = dim.max(1);
    let n = values.len() / dim;
    let k = k.min(n.saturating_sub(1));
    let cells = cells.clamp(1, n.max(1));
    let x = Tensor::from_slice(values).f_view([n as i64, dim as i64])?;
    let squares = x.f_mul(&x)?.f_sum_dim_intlist(1i64, false, Kind::Float)?;
    // k-means from evenly spaced rows (deterministic), empty cells keeping their centre.
    let seeds: Vec<i64> = (0..cells).map(|c| (c * n / cells) as i64).collect();
    let mut centres = x.f_index_select(0, &Tensor::from_slice(&seeds))?;
    let mut cell_of = Tensor::zeros([n as i64], (Kind::Int64, tch::Device::Cpu));
    for iteration in 0..=KMEANS_ITERATIONS {
        if progress.is_cancelled() {
            return Err(Search::Cancelled);
        }
        let centre_squares =
            centres
                .f_mul(&centres)?
                .f_sum_dim_intlist(1i64, false, Kind::Float)?;
        let mut d2 = x.f_matmul(&centres.f_tr()?)?;
        let _ = d2.f_mul_scalar_(-2.0)?;
        let _ = d2.f_add_(&centre_squares.f_unsqueeze(0)?)?;
        cell_of = d2.f_argmin(1, false)?;
        if iteration == KMEANS_ITERATIONS {
            break;
        }
        let zeros = Tensor::zeros([cells as i64, dim as i64], (Kind::Float, tch::Device::Cpu));
        let sums = zeros.f_index_add(0, &cell_of, &x)?;
        let counts = Tensor::zeros([cells as i64], (Kind::Float, tch::Device::Cpu))
            .f_index_add(
                0,
                &cell_of,
                &Tensor::ones([n as i64], (Kind::Float, tch::Device::Cpu)),
            )?
            .f_unsqueeze(1)?;
        let means = sums.f_div(&counts.f_clamp_min(1.0)?)?;
        centres = means.f_where_self(&counts.f_gt(0.0)?, &centres)?;
    }
    let cell_of = Vec::<i64>::try_from(cell_of)?;
    let mut members: Vec<Vec<i64>> = vec![Vec::new(); cells];
    for (row, &cell) in cell_of.iter().enumerate() {
        members[cell as usize].push(row as i64);
    }
    let centre_squares = centres
        .f_mul(&centres)?
        .f_sum_dim_intlist(1i64, false, Kind::Float)?;
    let mut between = centres.f_matmul(&centres.f_tr()?)?;
    let _ = between.f_mul_scalar_(-2.0)?;
    let _ = between.f_add_(&centre_squares.f_unsqueeze(0)?)?;
    let _ = between.f_add_(&centre_squares.f_unsqueeze(1)?)?;
    let (_, cell_order) = between.f_sort(1, false)?;
    let cell_order = Vec::<i64>::try_from(cell_order.f_flatten(0, -1)?)?;
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0f32; n * k];
    for (cell, rows) in members.iter().enumerate() {
        if progress.is_cancelled() {
            return Err(Search::Cancelled);
        }
        if rows.is_empty() {
            continue;
        }
        // The cell's own rows first (the nearest cell of a centre is itself), so a row's own
        // column is its position in the cell.
        let mut candidates: Vec<i64> = Vec::new();
        for (probed, &other) in cell_order[cell * cells..(cell + 1) * cells]
            .iter()
            .enumerate()
        {
            if probed >= probes && candidates.len() > k {
                break;
            }
            if other as usize != cell {
                candidates.extend_from_slice(&members[other as usize]);
            }
        }
        let candidates: Vec<i64> = rows.iter().copied().chain(candidates).collect();
        let (q, m) = (rows.len() as i64, candidates.len() as i64);
        let rows_t = Tensor::from_slice(rows);
        let candidates_t = Tensor::from_slice(&candidates);
        let mut d2 = x
            .f_index_select(0, &rows_t)?
            .f_matmul(&x.f_index_select(0, &candidates_t)?.f_tr()?)?;
        let _ = d2.f_mul_scalar_(-2.0)?;
        let _ = d2.f_add_(&squares.f_index_select(0, &candidates_t)?.f_unsqueeze(0)?)?;
        let _ = d2.f_add_(&squares.f_index_select(0, &rows_t)?.f_unsqueeze(1)?)?;
        let _ = d2
            .f_narrow(1, 0, q)?
            .f_diagonal(0, 0, 1)?
            .f_fill_(f64::INFINITY)?;
        let (nearest, at) = d2.f_topk((k as i64).min(m - 1), 1, false, true)?;
        let nearest = Vec::<f32>::try_from(nearest.f_clamp_min(0.0)?.f_sqrt()?.f_flatten(0, -1)?)?;
        let at = Vec::<i64>::try_from(at.f_flatten(0, -1)?)?;
        let found = nearest.len() / rows.len();
        for (j, &row) in rows.iter().enumerate() {
            let row = row as usize;
            for slot in 0..k {
                // Fewer candidates than k happens only when every row is a candidate.
                let i = j * found + slot.min(found.saturating_sub(1));
                indices[row * k + slot] = candidates[at[i] as usize] as u32;
                distances[row * k + slot] = nearest[i];
            }
        }
        progress.advance(rows.len());
    }
    Ok(Neighbours {
        k,
        indices,
        distances,
    })
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
                    let d: f32 = row(i)
                        .iter()
                        .zip(row(j))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    (d.sqrt(), j)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            let expected: Vec<u32> = all[..k].iter().map(|&(_, j)| j as u32).collect();
            assert_eq!(
                &found.indices[i * k..(i + 1) * k],
                expected.as_slice(),
                "row {i}"
            );
            for (got, (want, _)) in found.distances[i * k..(i + 1) * k].iter().zip(&all) {
                assert!((got - want).abs() < 1e-3, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn the_cell_search_finds_most_exact_neighbours_and_never_a_row_itself() {
        // Gaussian clusters with a spread of sizes, like embeddings of classes.
        let (n, dim, k) = (3000, 10, 15);
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let centres: Vec<Vec<f32>> = (0..20)
            .map(|_| (0..dim).map(|_| rng.random_range(-3.0..3.0)).collect())
            .collect();
        let values: Vec<f32> = (0..n)
            .flat_map(|i| {
                let c = &centres[i % centres.len()];
                let spread = 0.3 + (i % 7) as f32 * 0.2;
                c.iter()
                    .map(|v| v + spread * (rng.random::<f32>() - 0.5))
                    .collect::<Vec<f32>>()
            })
            .collect();
        let progress = Progress::default();
        let exact = nearest_neighbours(&values, dim, k, &progress).unwrap();
        let cells = ((n as f64).sqrt() as usize).max(16);
        let Ok(found) = search_cells(&values, dim, k, cells, PROBED_CELLS, &progress) else {
            panic!("the cell search failed");
        };
        let mut shared = 0;
        for i in 0..n {
            let row = &found.indices[i * k..(i + 1) * k];
            assert!(!row.contains(&(i as u32)), "row {i} is its own neighbour");
            let d = &found.distances[i * k..(i + 1) * k];
            assert!(d.windows(2).all(|w| w[0] <= w[1]), "row {i}: {d:?}");
            let truth = &exact.indices[i * k..(i + 1) * k];
            shared += row.iter().filter(|q| truth.contains(q)).count();
        }
        let recall = shared as f64 / (n * k) as f64;
        assert!(recall >= 0.9, "recall {recall}");
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
