//! The embedding map: every example placed in 2D by t-SNE from its thumbnail or a checkpoint's
//! penultimate layer, coloured by label, prediction, correctness, split or a stat. Lasso or box
//! a cluster to see it in the grid; points whose neighbours mostly carry another label are ringed.

use std::sync::Arc;

use egui_plot::{MarkerShape, PlotPoints, Points};

use super::scatter::{Scatter, Series, drag_mode_ui, scatter_ui};
use super::thumbnails::{ThumbState, paint_fitted};
use super::{DatasetCommand, ModelSession, ViewCtx, class_color};
use crate::dataset::Dataset;
use crate::jobs::Job;
use crate::map::{DISAGREEMENT_MARK, EmbeddingMap, LABEL_NEIGHBOURS, MapSource};

/// Colour bins of a stat.
const STAT_BINS: usize = 6;

/// The map on screen, what it is made of, and the job making the next one.
#[derive(Default)]
pub struct MapState {
    pub map: Option<Arc<EmbeddingMap>>,
    /// Per point of `map`: disagreement and the neighbours' most common label (dataset labels).
    pub disagreement: Arc<Vec<Option<(f32, usize)>>>,
    pub job: Option<Job<Result<EmbeddingMap, String>>>,
}

impl MapState {
    /// Takes a finished map in (its disagreement computed with `dataset`'s labels); returns what
    /// the user should read: an error, or warnings.
    pub fn poll(&mut self, dataset: Option<&Dataset>) -> Vec<String> {
        let Some(result) = self.job.as_mut().and_then(|j| j.poll()) else {
            return Vec::new();
        };
        self.job = None;
        match result {
            Ok(map) => {
                let labels = dataset.map(crate::map::dataset_labels).unwrap_or_default();
                self.disagreement = Arc::new(crate::map::neighbour_disagreement(&map, &labels));
                let warnings = map.warnings.clone();
                self.map = Some(Arc::new(map));
                warnings
            }
            Err(message) => vec![format!("Embedding map: {message}")],
        }
    }

    /// Examples whose disagreement is above `DISAGREEMENT_MARK`.
    pub fn marked(&self) -> Vec<usize> {
        let Some(map) = &self.map else {
            return Vec::new();
        };
        self.disagreement
            .iter()
            .zip(&map.examples)
            .filter(|(d, _)| d.is_some_and(|(share, _)| share > DISAGREEMENT_MARK))
            .map(|(_, &e)| e)
            .collect()
    }
}

/// The source `checkpoint` names among the loaded checkpoints (`None`: thumbnails), with the
/// TorchScript file a weights-only one is applied to and the preprocessing.
pub fn map_source(
    checkpoints: &ModelSession,
    checkpoint: Option<&str>,
) -> Result<MapSource, String> {
    let Some(name) = checkpoint else {
        return Ok(MapSource::Thumbnails);
    };
    let file = checkpoints
        .files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| format!("Embedding map: no loaded checkpoint is named {name}"))?;
    let preprocess = checkpoints
        .summary
        .as_ref()
        .and_then(|s| s.preprocess.clone())
        .ok_or("Embedding map: the checkpoints have no preprocess.json")?;
    let template = (!file.is_runnable())
        .then(|| checkpoints.files.iter().find(|f| f.is_runnable()).cloned())
        .flatten();
    Ok(MapSource::Checkpoint {
        file: file.clone(),
        template,
        preprocess,
    })
}

/// How the points are coloured.
#[derive(Clone, Debug, Default, PartialEq)]
enum Colouring {
    #[default]
    Label,
    Prediction,
    Correctness,
    Split,
    Stat(String),
}

/// Draws the embedding map, or what it takes to make one.
pub fn embedmap_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        ui.label("Open a dataset to map it.");
        return;
    };
    source_ui(view, ui);
    if let Some(job) = &view.map.job {
        super::job_progress_ui(ui, job);
    }
    let Some(map) = &view.map.map else {
        return;
    };
    ui.label(format!(
        "{} examples placed by t-SNE from {}{}. Distances in a t-SNE map are not metric: near \
         points are alike, but the sizes of clusters and the gaps between them mean little.",
        map.len(),
        map.source,
        if map.from_cache { " (cached)" } else { "" },
    ));
    let marked = view.map.marked();
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} examples disagree with most of their {LABEL_NEIGHBOURS} nearest neighbours (ringed).",
            marked.len()
        ));
        if !marked.is_empty() && ui.button("Show them in the grid").clicked() {
            view.send(DatasetCommand::ShowOnlyInGrid(marked.clone()));
        }
    });
    let colour_id = ui.scope_id().with("embedmap-colour");
    let mut colouring: Colouring = ui.data(|d| d.get_temp(colour_id)).unwrap_or_default();
    let stat_names: Vec<String> = view
        .dataset
        .stats
        .as_ref()
        .map(|s| s.names.clone())
        .unwrap_or_default();
    let mode = ui
        .horizontal(|ui| {
            let mode = drag_mode_ui(ui, "embedding-map");
            ui.separator();
            ui.label("Colour by:");
            ui.selectable_value(&mut colouring, Colouring::Label, "label");
            ui.selectable_value(&mut colouring, Colouring::Prediction, "prediction");
            ui.selectable_value(&mut colouring, Colouring::Correctness, "correctness");
            ui.selectable_value(&mut colouring, Colouring::Split, "split");
            let stat_text = match &colouring {
                Colouring::Stat(name) => name.clone(),
                _ => "a stat".to_string(),
            };
            egui::ComboBox::from_id_salt("embedmap-stat")
                .selected_text(stat_text)
                .show_ui(ui, |ui| {
                    for name in &stat_names {
                        ui.selectable_value(&mut colouring, Colouring::Stat(name.clone()), name);
                    }
                });
            mode
        })
        .inner;
    ui.data_mut(|d| d.insert_temp(colour_id, colouring.clone()));
    let positions: Vec<[f64; 2]> = map
        .xy
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let predicted = predictions(view, dataset);
    if predicted.is_none() && matches!(colouring, Colouring::Prediction | Colouring::Correctness) {
        ui.weak("Score the dataset with a checkpoint (Label review) to colour by prediction.");
    }
    let series = series(
        view,
        dataset,
        map,
        &positions,
        &colouring,
        predicted.as_deref(),
    );
    let ringed: Vec<[f64; 2]> = view
        .map
        .disagreement
        .iter()
        .zip(&positions)
        .filter(|(d, _)| d.is_some_and(|(share, _)| share > DISAGREEMENT_MARK))
        .map(|(_, &p)| p)
        .collect();
    let scatter = Scatter {
        id: "embedding-map",
        x_label: "",
        y_label: "",
        include: &[],
        series,
        positions: &positions,
        examples: &map.examples,
        point_radius: 1.5,
        height: (ui.available_height() - 90.0).max(200.0),
        data_aspect: Some(1.0),
    };
    let hovered = scatter_ui(view, ui, scatter, mode, |plot| {
        if !ringed.is_empty() {
            plot.points(
                Points::new("disagrees with its neighbours", PlotPoints::new(ringed))
                    .shape(MarkerShape::Circle)
                    .filled(false)
                    .radius(4.0)
                    .color(egui::Color32::from_rgb(240, 60, 60)),
            );
        }
    });
    hover_ui(view, ui, dataset, map, hovered);
}

/// The source picker and the button that makes the map.
fn source_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let files = &view.checkpoints.files;
    let choice_id = ui.scope_id().with("embedmap-source");
    let mut chosen: Option<String> = ui.data(|d| d.get_temp(choice_id)).unwrap_or_default();
    let text = |choice: &Option<String>| match choice {
        Some(name) => format!("{name} penultimate layer"),
        None => "image thumbnails".to_string(),
    };
    ui.horizontal(|ui| {
        let label = ui.label("Map made from:");
        let has_preprocess = view
            .checkpoints
            .summary
            .as_ref()
            .is_some_and(|s| s.preprocess.is_some());
        let combo = egui::ComboBox::from_id_salt("embedmap-source-combo")
            .selected_text(text(&chosen))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, text(&None));
                if has_preprocess {
                    for file in files.iter().filter(|f| {
                        f.is_runnable() || f.kind == crate::model::CheckpointKind::WeightsOnly
                    }) {
                        let choice = Some(file.name.clone());
                        ui.selectable_value(&mut chosen, choice.clone(), text(&choice));
                    }
                }
            });
        combo.response.labelled_by(label.id);
        let busy = view.map.job.is_some();
        if ui
            .add_enabled(!busy, egui::Button::new("Make the map"))
            .clicked()
        {
            view.send(DatasetCommand::ComputeMap(chosen.clone()));
        }
    });
    ui.data_mut(|d| d.insert_temp(choice_id, chosen));
    if view.map.map.is_none() && view.map.job.is_none() {
        ui.label(
            "Places every example in 2D (PCA, then t-SNE) so that alike examples sit together: \
             find sub-populations, a labelling convention that drifted, or a class that is two.",
        );
    }
}

/// The predicted class of every dataset example the label review scored, if it did.
fn predictions(view: &ViewCtx, dataset: &Dataset) -> Option<Vec<Option<usize>>> {
    let scores = view.label_review.scores.as_ref()?;
    let mut predicted = vec![None; dataset.examples.len()];
    for (i, &example) in scores.examples.iter().enumerate() {
        if let Some(slot) = predicted.get_mut(example) {
            *slot = Some(scores.predicted(i));
        }
    }
    Some(predicted)
}

/// The map's points split into legend entries by `colouring`.
fn series(
    view: &ViewCtx,
    dataset: &Dataset,
    map: &EmbeddingMap,
    positions: &[[f64; 2]],
    colouring: &Colouring,
    predicted: Option<&[Option<usize>]>,
) -> Vec<Series> {
    // (legend name, colour) per group; each point goes to one group or none.
    let labels = || groups(class_groups(dataset), move |e| dataset.examples[e].label);
    let (names, group_of): Groups<'_> = match (colouring, predicted) {
        (Colouring::Prediction, Some(predicted)) => groups(class_groups(dataset), move |e| {
            predicted.get(e).copied().flatten()
        }),
        (Colouring::Correctness, Some(predicted)) => groups(
            vec![
                ("right".into(), egui::Color32::from_rgb(40, 200, 90)),
                ("wrong".into(), egui::Color32::from_rgb(230, 60, 60)),
            ],
            move |e| {
                let p = predicted.get(e).copied().flatten()?;
                Some(usize::from(dataset.examples[e].label? != p))
            },
        ),
        (Colouring::Split, _) => groups(
            dataset
                .splits
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), class_color(i)))
                .collect(),
            move |e| dataset.examples[e].split,
        ),
        (Colouring::Stat(name), _) => {
            let column = view.dataset.stats.as_ref().and_then(|s| {
                let (lo, hi) = s.bounds(name)?;
                Some((s.column(name)?.to_vec(), lo, hi))
            });
            match column {
                Some((values, lo, hi)) => stat_groups(name, values, lo, hi),
                None => labels(),
            }
        }
        _ => labels(),
    };
    let mut points: Vec<Vec<[f64; 2]>> = vec![Vec::new(); names.len() + 1];
    for (&e, &p) in map.examples.iter().zip(positions) {
        let group = group_of(e).filter(|&g| g < names.len());
        points[group.unwrap_or(names.len())].push(p);
    }
    let other = points.pop().unwrap_or_default();
    let mut series: Vec<Series> = names
        .into_iter()
        .zip(points)
        .filter(|(_, points)| !points.is_empty())
        .map(|((name, colour), points)| Series {
            name,
            colour,
            points,
        })
        .collect();
    if !other.is_empty() {
        series.push(Series {
            name: "none".into(),
            colour: egui::Color32::GRAY,
            points: other,
        });
    }
    series
}

/// Legend entries (name, colour), and which entry a dataset example belongs to.
type Groups<'a> = (
    Vec<(String, egui::Color32)>,
    Box<dyn Fn(usize) -> Option<usize> + 'a>,
);

fn groups<'a>(
    names: Vec<(String, egui::Color32)>,
    group_of: impl Fn(usize) -> Option<usize> + 'a,
) -> Groups<'a> {
    (names, Box::new(group_of))
}

fn class_groups(dataset: &Dataset) -> Vec<(String, egui::Color32)> {
    dataset
        .classes
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), class_color(i)))
        .collect()
}

/// `STAT_BINS` equal-width bins of a stat from `lo` to `hi`, dark blue to yellow.
fn stat_groups<'a>(name: &str, values: Vec<f64>, lo: f64, hi: f64) -> Groups<'a> {
    let width = ((hi - lo) / STAT_BINS as f64).max(f64::MIN_POSITIVE);
    let names = (0..STAT_BINS)
        .map(|b| {
            let t = b as f32 / (STAT_BINS - 1) as f32;
            let colour = egui::Color32::from_rgb(
                (40.0 + 210.0 * t) as u8,
                (40.0 + 180.0 * t) as u8,
                (150.0 - 120.0 * t) as u8,
            );
            let from = lo + width * b as f64;
            (
                format!("{name} {}–{}", short(from), short(from + width)),
                colour,
            )
        })
        .collect();
    let bin = move |e: usize| {
        let v = *values.get(e)?;
        v.is_finite()
            .then(|| (((v - lo) / width) as usize).min(STAT_BINS - 1))
    };
    groups(names, bin)
}

fn short(v: f64) -> String {
    super::format_stat(v)
}

fn hover_ui(
    view: &ViewCtx,
    ui: &mut egui::Ui,
    dataset: &Dataset,
    map: &EmbeddingMap,
    hovered: Option<usize>,
) {
    let Some(p) = hovered else {
        ui.weak("Hover a point to see its example.");
        return;
    };
    let example = map.examples[p];
    let Some(item) = dataset.examples.get(example) else {
        return;
    };
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(64.0, 64.0), egui::Sense::hover());
        if let ThumbState::Ready(texture) = view.thumbnail(example) {
            paint_fitted(ui.painter(), &texture, rect);
        }
        let neighbours = match view.map.disagreement.get(p).copied().flatten() {
            Some((share, majority)) => format!(
                "{:.0}% of its {LABEL_NEIGHBOURS} nearest neighbours carry another label; most \
                 are {}",
                share * 100.0,
                dataset.classes.get(majority).map_or("?", String::as_str)
            ),
            None => "no labelled neighbours".into(),
        };
        ui.label(format!(
            "{}\nlabel {}\n{neighbours}",
            crate::dataset::relative_path_text(&item.path),
            dataset.label_text(item),
        ));
    });
}
