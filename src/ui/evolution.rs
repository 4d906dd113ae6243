//! The fixed batch across checkpoints: a slider (and play button) over the checkpoints, the
//! batch's loss and accuracy per checkpoint, and each example with its top-3 probabilities.
//! Also the tab bar that switches the central area between views.

use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use super::thumbnails::{ThumbState, paint_fitted};
use super::{CentralView, DatasetCommand, ModelCommand, ViewCommand, ViewCtx, class_color};
use crate::model::BatchPredictions;

const CELL_W_PX: f32 = 120.0;
const THUMB_PX: f32 = 72.0;
const TOP_K: usize = 3;

/// The tabs above the central area.
pub fn view_tabs_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    // Wrapped: beside the stats panel the tabs do not fit on one line.
    ui.horizontal_wrapped(|ui| {
        let tabs = [
            (CentralView::Examples, "Examples grid"),
            (CentralView::Issues, "Data issues"),
            (CentralView::Predictions, "Predictions"),
            (CentralView::Compare, "Compare A/B"),
            (CentralView::Filters, "First-layer filters"),
            (CentralView::Checks, "Recipe checks"),
            (CentralView::Review, "Label review"),
            (CentralView::DataMap, "Data map"),
            (CentralView::EmbeddingMap, "Embedding map"),
        ];
        for (tab, name) in tabs {
            if ui
                .selectable_label(view.settings.view == tab, name)
                .clicked()
                && view.settings.view != tab
            {
                view.send(ViewCommand::ShowView(tab));
            }
        }
    });
    ui.separator();
}

/// Says why there is nothing to show yet; returns the evolution when there is one.
pub fn evolution_or_reason<'a>(
    view: &'a ViewCtx,
    ui: &mut egui::Ui,
) -> Option<&'a [BatchPredictions]> {
    let state = view.checkpoints;
    if let Some(job) = &state.predicting {
        let (done, total) = job.progress();
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "Running the checkpoints on the fixed batch... {done}/{total}"
            ));
        });
        return None;
    }
    match &state.evolution {
        Some(evolution) if !evolution.predictions.is_empty() => Some(&evolution.predictions),
        Some(_) => {
            ui.label("No checkpoint could run on the fixed batch; see the messages below.");
            None
        }
        None if state.summary.is_none() => {
            ui.label("Open a checkpoints folder: File > Open checkpoints folder..., or drop one onto the window.");
            None
        }
        None if view.dataset().is_none() => {
            ui.label("Open a dataset to run the checkpoints on.");
            None
        }
        None => {
            ui.label("No predictions yet (is there a preprocess.json next to the checkpoints?).");
            None
        }
    }
}

/// Draws the evolution view.
pub fn evolution_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(predictions) = evolution_or_reason(view, ui) else {
        return;
    };
    let state = view.checkpoints;
    let current = state.current.min(predictions.len() - 1);
    let shown = &predictions[current];

    ui.horizontal(|ui| {
        let play = if state.playing { "Pause" } else { "Play" };
        if ui.button(play).clicked() {
            view.send(ModelCommand::TogglePlay);
        }
        if ui
            .add_enabled(current > 0, egui::Button::new("<"))
            .on_hover_text("Previous checkpoint")
            .clicked()
        {
            view.send(ModelCommand::SetCheckpoint(current - 1));
        }
        let mut position = current;
        let slider = egui::Slider::new(&mut position, 0..=predictions.len() - 1).text("checkpoint");
        if ui.add(slider).changed() {
            view.send(ModelCommand::SetCheckpoint(position));
        }
        if ui
            .add_enabled(current + 1 < predictions.len(), egui::Button::new(">"))
            .on_hover_text("Next checkpoint")
            .clicked()
        {
            view.send(ModelCommand::SetCheckpoint(current + 1));
        }
        ui.strong(&shown.checkpoint);
        ui.label(format!(
            "loss {:.4}, accuracy {:.1}% on {} examples",
            shown.mean_loss,
            shown.accuracy * 100.0,
            shown.examples.len()
        ));
    });
    ui.horizontal(|ui| {
        let pinned = view.dataset.pinned.len();
        ui.label("fixed batch:");
        if ui
            .selectable_label(!state.using_pinned, "default (64, stratified, seed 0)")
            .clicked()
            && state.using_pinned
        {
            view.send(ModelCommand::UsePinnedBatch(false));
        }
        let pinned_text = format!("pinned ({pinned})");
        let pinned_button = ui.add_enabled(
            pinned > 0,
            egui::Button::selectable(state.using_pinned, pinned_text),
        );
        if pinned_button
            .on_disabled_hover_text("Pin examples with P in the grid or the detail view")
            .clicked()
            && !state.using_pinned
        {
            view.send(ModelCommand::UsePinnedBatch(true));
        }
    });
    loss_plot_ui(ui, predictions, current);
    ui.separator();
    batch_grid_ui(view, ui, shown);
}

fn loss_plot_ui(ui: &mut egui::Ui, predictions: &[BatchPredictions], current: usize) {
    let loss: PlotPoints = predictions
        .iter()
        .enumerate()
        .map(|(i, p)| [i as f64, p.mean_loss as f64])
        .collect();
    let accuracy: PlotPoints = predictions
        .iter()
        .enumerate()
        .map(|(i, p)| [i as f64, p.accuracy as f64])
        .collect();
    let names: Vec<String> = predictions.iter().map(|p| p.checkpoint.clone()).collect();
    Plot::new("evolution-plot")
        .height(150.0)
        .legend(Legend::default())
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .include_y(0.0)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.line(Line::new("mean loss", loss).color(egui::Color32::from_rgb(240, 120, 90)));
            plot.line(
                Line::new("accuracy", accuracy).color(egui::Color32::from_rgb(110, 200, 120)),
            );
            plot.vline(VLine::new("current", current as f64).color(egui::Color32::GRAY));
        });
}

fn batch_grid_ui(view: &ViewCtx, ui: &mut egui::Ui, shown: &BatchPredictions) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let name = |class: usize| view.model_class_name(class);
    let columns = ((ui.available_width() / (CELL_W_PX + 6.0)).floor() as usize).max(1);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("batch-grid")
                .spacing([6.0, 6.0])
                .show(ui, |ui| {
                    for (i, &example) in shown.examples.iter().enumerate() {
                        let Some(entry) = dataset.examples.get(example) else {
                            continue;
                        };
                        let label = shown.labels[i] as usize;
                        let predicted = shown.predicted[i];
                        ui.vertical(|ui| {
                            ui.set_width(CELL_W_PX);
                            let (rect, response) = ui.allocate_exact_size(
                                egui::vec2(CELL_W_PX, THUMB_PX),
                                egui::Sense::click(),
                            );
                            let painter = ui.painter_at(rect);
                            painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
                            if let ThumbState::Ready(texture) = view.thumbnail(example) {
                                paint_fitted(&painter, &texture, rect);
                            }
                            let correct = shown.is_correct(i);
                            let accessible =
                                format!("prediction {}: {}", entry.path.display(), name(predicted));
                            response.widget_info(|| {
                                egui::WidgetInfo::labeled(egui::Role::Button, true, &accessible)
                            });
                            if response.double_clicked() {
                                view.send(ViewCommand::ShowView(CentralView::Examples));
                                view.send(DatasetCommand::OpenDetail(example));
                            }
                            response.on_hover_text(format!(
                                "{}\nloss {:.4}",
                                entry.path.display(),
                                shown.loss[i]
                            ));
                            ui.colored_label(class_color(label), format!("true {}", name(label)));
                            let verdict = if correct {
                                egui::Color32::from_rgb(110, 200, 120)
                            } else {
                                ui.visuals().error_fg_color
                            };
                            ui.colored_label(
                                verdict,
                                format!(
                                    "pred {} ({:.0}%)",
                                    name(predicted),
                                    shown.probs[i][predicted] * 100.0
                                ),
                            );
                            for (class, p) in shown.top_k(i, TOP_K) {
                                probability_bar_ui(ui, &name(class), p, class == label);
                            }
                        });
                        if (i + 1) % columns == 0 {
                            ui.end_row();
                        }
                    }
                });
        });
}

/// One class's probability as a labelled horizontal bar; the true class is drawn in green.
fn probability_bar_ui(ui: &mut egui::Ui, class: &str, p: f32, is_label: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(CELL_W_PX, 12.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 1.0, ui.visuals().faint_bg_color);
    let fill = if is_label {
        egui::Color32::from_rgb(80, 160, 90)
    } else {
        egui::Color32::from_rgb(90, 110, 160)
    };
    let bar = egui::Rect::from_min_size(
        rect.min,
        egui::vec2(rect.width() * p.clamp(0.0, 1.0), rect.height()),
    );
    painter.rect_filled(bar, 1.0, fill);
    painter.text(
        rect.left_center() + egui::vec2(3.0, 0.0),
        egui::Align2::LEFT_CENTER,
        format!("{class} {:.2}", p),
        egui::FontId::proportional(10.0),
        ui.visuals().strong_text_color(),
    );
}
