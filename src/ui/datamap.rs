//! The data map (dataset cartography): for every example, the variability (x) against the
//! confidence (y) of p(given) across checkpoints, coloured by correctness or by class. Drag a box
//! or a lasso to show its examples in the grid, or pan; scroll zooms, double-click resets. Above
//! it, loss and accuracy of every checkpoint on the whole split, overall and per class (click a
//! legend entry to hide a line).

use egui_plot::{Plot, PlotPoint, PlotPoints, PlotResponse, Points, Polygon, Text};

use super::thumbnails::{ThumbState, paint_fitted};
use super::{DatasetCommand, ViewCtx, class_color};
use crate::model::dynamics::{Dynamics, SplitCurves};

/// Correctness bins, as in the paper's figures: the fraction of checkpoints that got it right.
const CORRECTNESS_BINS: usize = 5;

/// What a drag on the map does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DragMode {
    #[default]
    Box,
    Lasso,
    Pan,
}

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
    let (mode_id, colour_id) = (
        ui.scope_id().with("datamap-mode"),
        ui.scope_id().with("datamap-colour"),
    );
    let mut mode: DragMode = ui.data(|d| d.get_temp(mode_id)).unwrap_or_default();
    let mut colouring: Colouring = ui.data(|d| d.get_temp(colour_id)).unwrap_or_default();
    ui.horizontal(|ui| {
        ui.label("Drag:");
        ui.selectable_value(&mut mode, DragMode::Box, "Box");
        ui.selectable_value(&mut mode, DragMode::Lasso, "Lasso");
        ui.selectable_value(&mut mode, DragMode::Pan, "Pan");
        ui.separator();
        ui.label("Colour by:");
        ui.selectable_value(&mut colouring, Colouring::Correctness, "correctness");
        ui.selectable_value(&mut colouring, Colouring::Class, "class");
    });
    ui.data_mut(|d| {
        d.insert_temp(mode_id, mode);
        d.insert_temp(colour_id, colouring);
    });
    // The dragged path in plot coordinates: a box uses its ends, a lasso all of it.
    let drag_id = ui.scope_id().with("datamap-drag");
    let path: Vec<[f64; 2]> = ui.data(|d| d.get_temp(drag_id)).unwrap_or_default();
    let classes: Vec<String> = view
        .dataset()
        .map(|d| d.classes.clone())
        .unwrap_or_default();
    let series: Vec<(String, egui::Color32, Vec<[f64; 2]>)> = match colouring {
        Colouring::Correctness => correctness_series(dynamics)
            .into_iter()
            .enumerate()
            .map(|(bin, points)| {
                let lo = bin as f64 / CORRECTNESS_BINS as f64;
                (format!("correctness ≥ {lo:.1}"), bin_color(bin), points)
            })
            .collect(),
        Colouring::Class => class_series(dynamics, classes.len())
            .into_iter()
            .enumerate()
            .filter(|(_, points)| !points.is_empty())
            .map(|(class, points)| {
                let name = classes
                    .get(class)
                    .cloned()
                    .unwrap_or_else(|| class.to_string());
                (name, class_color(class), points)
            })
            .collect(),
    };
    let mut hovered: Option<usize> = None;
    let PlotResponse {
        response,
        transform,
        ..
    } = Plot::new("data-map")
        .height((ui.available_height() - 90.0).max(200.0))
        .x_axis_label("variability (std of p(given))")
        .y_axis_label("confidence (mean p(given))")
        .include_x(0.0)
        .include_x(0.5)
        .include_y(0.0)
        .include_y(1.0)
        .allow_drag(mode == DragMode::Pan)
        .allow_boxed_zoom(false)
        .legend(egui_plot::Legend::default())
        .show(ui, |plot| {
            for (name, colour, points) in series {
                plot.points(
                    Points::new(name, PlotPoints::new(points))
                        .radius(1.5)
                        .color(colour),
                );
            }
            // Unnamed items stay out of the legend.
            let weak = |text: &str, x: f64, y: f64| {
                Text::new("", PlotPoint::new(x, y), egui::RichText::new(text).weak())
            };
            plot.text(weak("easy to learn", 0.05, 0.97));
            plot.text(weak("ambiguous", 0.42, 0.5));
            plot.text(weak("hard to learn", 0.05, 0.03));
            if let (false, Some(now)) = (path.is_empty(), plot.pointer_coordinate()) {
                plot.polygon(
                    Polygon::new("", PlotPoints::new(outline(mode, &path, [now.x, now.y])))
                        .fill_color(egui::Color32::from_white_alpha(24)),
                );
            }
            if let Some(at) = plot.pointer_coordinate() {
                hovered = nearest(dynamics, at, plot.plot_bounds());
            }
        });
    let pointer = response
        .interact_pointer_pos()
        .map(|p| transform.value_from_position(p));
    if mode == DragMode::Pan {
        ui.data_mut(|d| d.remove::<Vec<[f64; 2]>>(drag_id));
    } else if response.drag_started() {
        if let Some(p) = pointer {
            ui.data_mut(|d| d.insert_temp(drag_id, vec![[p.x, p.y]]));
        }
    } else if response.drag_stopped() {
        if let (Some(&start), Some(end)) = (path.first(), pointer) {
            let examples = match mode {
                DragMode::Lasso => in_polygon(dynamics, &outline(mode, &path, [end.x, end.y])),
                _ => in_box(
                    dynamics,
                    PlotPoint::new(start[0], start[1]),
                    PlotPoint::new(end.x, end.y),
                ),
            };
            if !examples.is_empty() {
                view.send(DatasetCommand::ShowOnlyInGrid(examples));
            }
        }
        ui.data_mut(|d| d.remove::<Vec<[f64; 2]>>(drag_id));
    } else if response.dragged()
        && mode == DragMode::Lasso
        && let Some(p) = pointer
        && !path.is_empty()
    {
        let mut path = path;
        path.push([p.x, p.y]);
        ui.data_mut(|d| d.insert_temp(drag_id, path));
    }
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

/// The selection dragged so far, ending at `end`: the lasso's path, or the box's corners.
fn outline(mode: DragMode, path: &[[f64; 2]], end: [f64; 2]) -> Vec<[f64; 2]> {
    match mode {
        DragMode::Lasso => path.iter().copied().chain([end]).collect(),
        _ => box_corners(path[0], end),
    }
}

fn box_corners(a: [f64; 2], b: [f64; 2]) -> Vec<[f64; 2]> {
    vec![a, [b[0], a[1]], b, [a[0], b[1]]]
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

/// Dataset indices of the examples inside the box from `a` to `b`.
pub fn in_box(dynamics: &Dynamics, a: PlotPoint, b: PlotPoint) -> Vec<usize> {
    let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
    let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
    dynamics
        .examples
        .iter()
        .filter(|d| (x0..=x1).contains(&d.variability) && (y0..=y1).contains(&d.confidence))
        .map(|d| d.example)
        .collect()
}

/// Dataset indices of the examples inside the closed `outline` (even-odd rule).
pub fn in_polygon(dynamics: &Dynamics, outline: &[[f64; 2]]) -> Vec<usize> {
    if outline.len() < 3 {
        return Vec::new();
    }
    dynamics
        .examples
        .iter()
        .filter(|d| inside(outline, d.variability, d.confidence))
        .map(|d| d.example)
        .collect()
}

/// Whether `(x, y)` lies inside the closed polygon `outline` (ray casting).
fn inside(outline: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = outline.len() - 1;
    for (i, &[xi, yi]) in outline.iter().enumerate() {
        let [xj, yj] = outline[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The example nearest `at` on screen scale, within 2% of the visible range.
fn nearest(dynamics: &Dynamics, at: PlotPoint, bounds: egui_plot::PlotBounds) -> Option<usize> {
    let (w, h) = (bounds.width().max(1e-9), bounds.height().max(1e-9));
    dynamics
        .examples
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let dx = (d.variability - at.x) / w;
            let dy = (d.confidence - at.y) / h;
            (i, dx * dx + dy * dy)
        })
        .filter(|&(_, dist)| dist < 0.02 * 0.02)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
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

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn points_inside_a_concave_lasso_are_told_from_those_in_its_notch() {
        // A "C" shape open to the right: its notch is outside.
        let c = [
            [0.0, 0.0],
            [3.0, 0.0],
            [3.0, 1.0],
            [1.0, 1.0],
            [1.0, 2.0],
            [3.0, 2.0],
            [3.0, 3.0],
            [0.0, 3.0],
        ];
        assert!(inside(&c, 0.5, 1.5));
        assert!(inside(&c, 2.0, 0.5));
        assert!(inside(&c, 2.0, 2.5));
        assert!(!inside(&c, 2.0, 1.5), "the notch");
        assert!(!inside(&c, 4.0, 0.5));
        assert!(!inside(&c, -1.0, 1.5));
    }
}
