//! Two checkpoints side by side on the fixed batch: which examples flipped between right and
//! wrong, which probabilities moved most, and one click to see the flips in the grid.

use super::thumbnails::{ThumbState, paint_fitted};
use super::{DatasetCommand, ModelCommand, ViewCtx, class_color};
use crate::model::{BatchPredictions, compare};

const THUMB_PX: f32 = 40.0;

/// Draws the compare view.
pub fn compare_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(predictions) = super::evolution::evolution_or_reason(view, ui) else {
        return;
    };
    let last = predictions.len() - 1;
    let (a, b) = (
        view.checkpoints.compare.0.min(last),
        view.checkpoints.compare.1.min(last),
    );
    ui.horizontal(|ui| {
        let (mut new_a, mut new_b) = (a, b);
        checkpoint_combo(ui, "A", &mut new_a, predictions);
        checkpoint_combo(ui, "B", &mut new_b, predictions);
        if (new_a, new_b) != (a, b) {
            view.send(ModelCommand::SetCompare(new_a, new_b));
        }
    });
    let (pa, pb) = (&predictions[a], &predictions[b]);
    let (flips, changes) = compare(pa, pb);
    let broke = flips.iter().filter(|f| !f.is_fix()).count();
    let fixed = flips.len() - broke;
    ui.horizontal(|ui| {
        ui.label(format!(
            "A: loss {:.4}, accuracy {:.1}%",
            pa.mean_loss,
            pa.accuracy * 100.0
        ));
        ui.separator();
        ui.label(format!(
            "B: loss {:.4}, accuracy {:.1}%",
            pb.mean_loss,
            pb.accuracy * 100.0
        ));
        ui.separator();
        ui.strong(format!("{broke} right -> wrong, {fixed} wrong -> right"));
        if ui
            .add_enabled(
                !flips.is_empty(),
                egui::Button::new("Show the flips in the grid"),
            )
            .clicked()
        {
            view.send(DatasetCommand::ShowOnlyInGrid(
                flips.iter().map(|f| f.example).collect(),
            ));
        }
    });
    ui.separator();

    let name = |class: usize| view.model_class_name(class);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.heading("Flips");
            if flips.is_empty() {
                ui.label("No example changed between right and wrong.");
            }
            egui::Grid::new("flips")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    ui.label("");
                    ui.label("example");
                    ui.label("true");
                    ui.label("A predicts");
                    ui.label("B predicts");
                    ui.end_row();
                    for flip in &flips {
                        thumbnail_ui(view, ui, flip.example);
                        example_label(view, ui, flip.example);
                        ui.colored_label(
                            class_color(flip.label as usize),
                            name(flip.label as usize),
                        );
                        ui.label(format!(
                            "{} (p true {:.2})",
                            name(flip.a_pred),
                            flip.a_p_label
                        ));
                        ui.label(format!(
                            "{} (p true {:.2})",
                            name(flip.b_pred),
                            flip.b_p_label
                        ));
                        ui.end_row();
                    }
                });
            ui.add_space(8.0);
            ui.heading("Largest changes in the probability of the true class");
            egui::Grid::new("changes")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for &(example, delta) in changes.iter().take(15) {
                        thumbnail_ui(view, ui, example);
                        example_label(view, ui, example);
                        let position_a = pa.examples.iter().position(|&e| e == example);
                        let position_b = pb.examples.iter().position(|&e| e == example);
                        if let (Some(i), Some(j)) = (position_a, position_b) {
                            ui.label(format!("{:.2} -> {:.2}", pa.p_label(i), pb.p_label(j)));
                        } else {
                            ui.label("");
                        }
                        let color = if delta >= 0.0 {
                            egui::Color32::from_rgb(110, 200, 120)
                        } else {
                            ui.visuals().error_fg_color
                        };
                        ui.colored_label(color, format!("{delta:+.2}"));
                        ui.end_row();
                    }
                });
        });
}

fn checkpoint_combo(
    ui: &mut egui::Ui,
    label: &str,
    position: &mut usize,
    predictions: &[BatchPredictions],
) {
    egui::ComboBox::from_label(label)
        .selected_text(&predictions[*position].checkpoint)
        .show_ui(ui, |ui| {
            for (i, p) in predictions.iter().enumerate() {
                ui.selectable_value(position, i, &p.checkpoint);
            }
        });
}

fn example_label(view: &ViewCtx, ui: &mut egui::Ui, example: usize) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    if let Some(entry) = dataset.examples.get(example) {
        ui.label(entry.path.display().to_string());
    }
}

fn thumbnail_ui(view: &ViewCtx, ui: &mut egui::Ui, example: usize) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(THUMB_PX, THUMB_PX), egui::Sense::hover());
    if let ThumbState::Ready(texture) = view.thumbnail(example) {
        paint_fitted(ui.painter(), &texture, rect);
    }
}
