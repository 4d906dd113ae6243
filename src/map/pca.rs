//! PCA before the neighbour search: the top principal components of a map's features, found from
//! the covariance of an even sample of rows. LibTorch does the linear algebra: it is linked for
//! the models already, with an optimised BLAS and LAPACK, so no system BLAS library is needed.

use tch::{Kind, TchError, Tensor};

use super::{Features, MapError};

/// Rows the covariance is estimated from: plenty for 50 components of a few hundred
/// dimensions, and it bounds the memory and time of this step whatever the dataset's size.
const COVARIANCE_SAMPLE: usize = 10_000;
/// Rows projected at a time, to bound the memory of the projection.
const PROJECT_CHUNK: usize = 8192;

/// Features reduced to their top principal components, one row per example.
#[derive(Clone, Debug, PartialEq)]
pub struct Reduced {
    /// Components kept: at most the features' length.
    pub dim: usize,
    /// `n × dim`, row-major: each row's coordinates along the components, largest variance first.
    pub values: Vec<f32>,
}

impl Reduced {
    /// Where t-SNE starts: the first two components, scaled so that the first has a standard
    /// deviation of 1e-4 (openTSNE's PCA initialisation: global layout kept, and small enough
    /// that the early iterations are not disturbed). A second axis of zeros for 1-D features.
    pub fn start_layout(&self) -> Vec<f32> {
        let n = self.values.len() / self.dim.max(1);
        let first = |r: usize| self.values[r * self.dim];
        let second = |r: usize| {
            if self.dim > 1 {
                self.values[r * self.dim + 1]
            } else {
                0.0
            }
        };
        let mean = (0..n).map(first).sum::<f32>() / n.max(1) as f32;
        let variance = (0..n).map(|r| (first(r) - mean).powi(2)).sum::<f32>() / n.max(1) as f32;
        let scale = if variance > 0.0 {
            1e-4 / variance.sqrt()
        } else {
            0.0
        };
        (0..n)
            .flat_map(|r| [first(r) * scale, second(r) * scale])
            .collect()
    }
}

/// The top `dims` principal components of `features` (fewer when the features are shorter);
/// the mean and covariance come from up to `COVARIANCE_SAMPLE` evenly spaced rows.
pub fn principal_components(features: &Features, dims: usize) -> Result<Reduced, MapError> {
    pca(features, dims).map_err(|e| MapError::Torch {
        stage: "PCA",
        message: crate::model::torch_message(&e.to_string()),
    })
}

fn pca(features: &Features, dims: usize) -> Result<Reduced, TchError> {
    let d = features.dim.max(1);
    let n = features.values.len() / d;
    let k = dims.clamp(1, d);
    let step = n.div_ceil(COVARIANCE_SAMPLE).max(1);
    let sample: Vec<f32> = features
        .values
        .chunks_exact(d)
        .step_by(step)
        .flatten()
        .copied()
        .collect();
    let m = (sample.len() / d) as i64;
    let xs = Tensor::from_slice(&sample).f_view([m, d as i64])?;
    let mean = xs.f_mean_dim(0i64, true, Kind::Float)?;
    let centred = xs.f_sub(&mean)?;
    let covariance = centred
        .f_tr()?
        .f_matmul(&centred)?
        .f_div_scalar((m - 1).max(1))?;
    // Eigenvalues come in ascending order: the last k columns, reversed, are the top components.
    let (_, vectors) = covariance.f_linalg_eigh("L")?;
    let top = vectors
        .f_narrow(1, (d - k) as i64, k as i64)?
        .f_flip([1i64])?;
    let mut values = Vec::with_capacity(n * k);
    for chunk in features.values.chunks(PROJECT_CHUNK * d) {
        let rows = (chunk.len() / d) as i64;
        let projected = Tensor::from_slice(chunk)
            .f_view([rows, d as i64])?
            .f_sub(&mean)?
            .f_matmul(&top)?
            .f_contiguous()?;
        values.extend(Vec::<f32>::try_from(projected.f_flatten(0, -1)?)?);
    }
    Ok(Reduced { dim: k, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    #[test]
    fn the_first_component_follows_the_direction_of_largest_spread() {
        // Points spread 10x more along (1, 1, 0, 0)/√2 than along anything else.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut normal = move || rng.sample::<f32, _>(StandardNormal);
        let dim = 4;
        let n = 500;
        let mut values = Vec::new();
        let mut along = Vec::new();
        for _ in 0..n {
            let t = 10.0 * normal();
            along.push(t);
            let s = std::f32::consts::FRAC_1_SQRT_2;
            values.extend([t * s + normal(), t * s + normal(), normal(), normal() + 5.0]);
        }
        let features = Features {
            examples: (0..n).collect(),
            dim,
            values,
        };
        let reduced = principal_components(&features, 2).unwrap();
        assert_eq!(reduced.dim, 2);
        assert_eq!(reduced.values.len(), n * 2);
        // The first coordinate is the position along the long axis (up to sign).
        let first: Vec<f32> = reduced.values.chunks(2).map(|r| r[0]).collect();
        let dot: f32 = first.iter().zip(&along).map(|(a, b)| a * b).sum();
        let norms = first.iter().map(|a| a * a).sum::<f32>().sqrt()
            * along.iter().map(|b| b * b).sum::<f32>().sqrt();
        assert!((dot / norms).abs() > 0.99, "correlation {}", dot / norms);
        // Asking for more components than dimensions keeps them all.
        assert_eq!(principal_components(&features, 50).unwrap().dim, 4);
        let layout = reduced.start_layout();
        let std = (layout.chunks(2).map(|p| p[0] * p[0]).sum::<f32>() / n as f32).sqrt();
        assert!((std - 1e-4).abs() < 1e-6, "{std}");
    }
}
