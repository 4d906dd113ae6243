//! The data map (dataset cartography): for every example, the variability (x) against the
//! confidence (y) of p(given) across checkpoints, coloured by correctness or by class. Drag a box
//! or a lasso to show its examples in the grid, or pan; scroll zooms, double-click resets. Above
//! it, loss and accuracy of every checkpoint on the whole split, overall and per class (click a
//! legend entry to hide a line).

use egui_plot::{Plot, PlotPoint, PlotPoints, Text};

use super::scatter::{Scatter, Series, drag_mode_ui, scatter_ui};
use super::thumbnails::{ThumbState, paint_fitted};
use super::{ViewCtx, class_color};
use crate::model::dynamics::{Dynamics, SplitCurves};

/// Correctness bins, as in the paper's figures: the fraction of checkpoints that got it right.
const CORRECTNESS_BINS: usize = 5;

/// How the points are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Colouring {
    #[default]
    Correctness,
    Class,
}

/// Draws the data map of the label review's dynamics.
pub fn datamap_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dynamics) = &view.label_review.dynamics else {
        ui.label(
            "The data map needs every checkpoint's predictions: run them over the dataset first.",
        );
        super::review::score_with_every_checkpoint_ui(view, ui);
        return;
    };
    ui.label(format!(
        "{} examples over {} checkpoints. Easy to learn: top left; ambiguous: right; hard to learn \
         (often mislabelled): bottom left. Drag a box or a lasso to show its examples in the grid.",
        dynamics.examples.len(),
        dynamics.checkpoints.len()
    ));
    if let (Some(dataset), Some(curves)) = (view.dataset(), &view.label_review.curves) {
        egui::CollapsingHeader::new("Loss and accuracy per checkpoint (whole split)")
            .default_open(true)
            .show(ui, |ui| curves_ui(ui, curves, &dataset.classes));
        egui::CollapsingHeader::new("Confusion matrix at a checkpoint (whole split)")
            .default_open(false)
            .show(ui, |ui| {
                split_confusion_ui(view, ui, dynamics, dataset.classes.len())
            });
    }
    let colour_id = ui.scope_id().with("datamap-colour");
    let mut colouring: Colouring = ui.data(|d| d.get_temp(colour_id)).unwrap_or_default();
    let mode = ui
        .horizontal(|ui| {
            let mode = drag_mode_ui(ui, "data-map");
            ui.separator();
            ui.label("Colour by:");
            ui.selectable_value(&mut colouring, Colouring::Correctness, "correctness");
            ui.selectable_value(&mut colouring, Colouring::Class, "class");
            mode
        })
        .inner;
    ui.data_mut(|d| d.insert_temp(colour_id, colouring));
    let classes: Vec<String> = view
        .dataset()
        .map(|d| d.classes.clone())
        .unwrap_or_default();
    let series: Vec<Series> = match colouring {
        Colouring::Correctness => correctness_series(dynamics)
            .into_iter()
            .enumerate()
            .map(|(bin, points)| {
                let lo = bin as f64 / CORRECTNESS_BINS as f64;
                Series {
                    name: format!("correctness ≥ {lo:.1}"),
                    colour: bin_color(bin),
                    points,
                }
            })
            .collect(),
        Colouring::Class => class_series(dynamics, classes.len())
            .into_iter()
            .enumerate()
            .filter(|(_, points)| !points.is_empty())
            .map(|(class, points)| Series {
                name: classes
                    .get(class)
                    .cloned()
                    .unwrap_or_else(|| class.to_string()),
                colour: class_color(class),
                points,
            })
            .collect(),
    };
    let positions: Vec<[f64; 2]> = dynamics
        .examples
        .iter()
        .map(|d| [d.variability, d.confidence])
        .collect();
    let examples: Vec<usize> = dynamics.examples.iter().map(|d| d.example).collect();
    let scatter = Scatter {
        id: "data-map",
        x_label: "variability (std of p(given))",
        y_label: "confidence (mean p(given))",
        include: &[[0.0, 0.0], [0.5, 1.0]],
        series,
        positions: &positions,
        examples: &examples,
        point_radius: 1.5,
        height: (ui.available_height() - 90.0).max(200.0),
        data_aspect: None,
    };
    let hovered = scatter_ui(view, ui, scatter, mode, |plot| {
        // Unnamed items stay out of the legend.
        let weak = |text: &str, x: f64, y: f64| {
            Text::new("", PlotPoint::new(x, y), egui::RichText::new(text).weak())
        };
        plot.text(weak("easy to learn", 0.05, 0.97));
        plot.text(weak("ambiguous", 0.42, 0.5));
        plot.text(weak("hard to learn", 0.05, 0.03));
    });
    hover_ui(view, ui, dynamics, hovered);
}

/// Accuracy (overall and a line per class) and loss over checkpoints, side by side.
fn curves_ui(ui: &mut egui::Ui, curves: &SplitCurves, classes: &[String]) {
    let line = |values: &[f64]| -> PlotPoints<'static> {
        values
            .iter()
            .enumerate()
            .map(|(k, &v)| [k as f64, v])
            .collect()
    };
    let width = (ui.available_width() / 2.0 - 8.0).max(200.0);
    ui.horizontal(|ui| {
        Plot::new("split-accuracy")
            .height(170.0)
            .width(width)
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("checkpoint")
            .y_axis_label("accuracy")
            .legend(
                egui_plot::Legend::default()
                    .text_style(egui::TextStyle::Small)
                    .position(egui_plot::Corner::RightBottom),
            )
            .show(ui, |plot| {
                plot.line(egui_plot::Line::new("all", line(&curves.accuracy)).width(2.5));
                for (class, values) in curves.class_accuracy.iter().enumerate() {
                    if !values.is_empty() {
                        plot.line(
                            egui_plot::Line::new(classes[class].clone(), line(values))
                                .color(class_color(class)),
                        );
                    }
                }
            });
        Plot::new("split-loss")
            .height(170.0)
            .width(width)
            .include_y(0.0)
            .x_axis_label("checkpoint")
            .y_axis_label("mean loss")
            .show(ui, |plot| {
                plot.line(egui_plot::Line::new("loss", line(&curves.loss)).width(2.5));
            });
    });
}

/// The confusion matrix of the whole split at the checkpoint the slider picks; a cell click
/// shows its examples in the grid.
fn split_confusion_ui(view: &ViewCtx, ui: &mut egui::Ui, dynamics: &Dynamics, classes: usize) {
    let last = dynamics.checkpoints.len().saturating_sub(1);
    let id = ui.scope_id().with("split-confusion-checkpoint");
    let mut k: usize = ui.data(|d| d.get_temp(id)).unwrap_or(last).min(last);
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut k, 0..=last).text("checkpoint"));
        ui.label(&dynamics.checkpoints[k]);
    });
    ui.data_mut(|d| d.insert_temp(id, k));
    let matrix = dynamics.confusion(k, classes);
    super::review::confusion_grid_ui(view, ui, "split-confusion", &matrix, &|given, predicted| {
        dynamics.cell_examples(k, given, predicted)
    });
}

/// `[variability, confidence]` points per correctness bin.
fn correctness_series(dynamics: &Dynamics) -> Vec<Vec<[f64; 2]>> {
    let mut series = vec![Vec::new(); CORRECTNESS_BINS];
    for d in &dynamics.examples {
        let bin = ((d.correctness * CORRECTNESS_BINS as f64) as usize).min(CORRECTNESS_BINS - 1);
        series[bin].push([d.variability, d.confidence]);
    }
    series
}

/// `[variability, confidence]` points per given class.
fn class_series(dynamics: &Dynamics, classes: usize) -> Vec<Vec<[f64; 2]>> {
    let mut series = vec![Vec::new(); classes.max(1)];
    for d in &dynamics.examples {
        if let Some(points) = series.get_mut(d.given) {
            points.push([d.variability, d.confidence]);
        }
    }
    series
}

/// Red (never right) to green (always right).
fn bin_color(bin: usize) -> egui::Color32 {
    let t = bin as f32 / (CORRECTNESS_BINS - 1) as f32;
    egui::Color32::from_rgb(
        (230.0 * (1.0 - t) + 40.0 * t) as u8,
        (60.0 * (1.0 - t) + 200.0 * t) as u8,
        (60.0 * (1.0 - t) + 90.0 * t) as u8,
    )
}

fn hover_ui(view: &ViewCtx, ui: &mut egui::Ui, dynamics: &Dynamics, hovered: Option<usize>) {
    let (Some(i), Some(dataset)) = (hovered, view.dataset()) else {
        ui.weak("Hover a point to see its example.");
        return;
    };
    let d = &dynamics.examples[i];
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(64.0, 64.0), egui::Sense::hover());
        if let ThumbState::Ready(texture) = view.thumbnail(d.example) {
            paint_fitted(ui.painter(), &texture, rect);
        }
        ui.label(format!(
            "{}\ngiven {}, last predicted {}\nconfidence {:.2}, variability {:.2}, correctness {:.2}, AUM {:.2}",
            crate::dataset::relative_path_text(&dataset.examples[d.example].path),
            dataset.classes[d.given],
            dataset.classes[d.predicted_last()],
            d.confidence,
            d.variability,
            d.correctness,
            d.aum
        ));
    });
}
