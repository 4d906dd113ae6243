//! The recipe's sanity checks: loss at init against ln(C), an input-independent baseline, and
//! batch independence by backprop, each with its verdict and the numbers behind it.

use super::{Command, ViewCtx};
use crate::model::Verdict;

/// Draws the checks view.
pub fn checks_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let state = view.checkpoints;
    ui.horizontal(|ui| {
        let can_run = state.summary.is_some()
            && view.dataset().is_some()
            && state.checking.is_none()
            && state.predicting.is_none();
        if ui
            .add_enabled(can_run, egui::Button::new("Run the checks again"))
            .clicked()
        {
            view.send(Command::RunChecks);
        }
        if state.checking.is_some() {
            ui.spinner();
            ui.label("Running...");
        }
        ui.label(format!(
            "on the fixed batch of {} examples",
            state.batch.len()
        ));
    });
    ui.separator();
    match &state.checks {
        None if state.summary.is_none() => {
            ui.label("Open a checkpoints folder to run the checks.");
        }
        None => {
            ui.label("The checks run once the checkpoints have been run on the fixed batch.");
        }
        Some(Err(message)) => {
            ui.colored_label(ui.visuals().error_fg_color, message);
        }
        Some(Ok(results)) => {
            egui::ScrollArea::vertical().show(ui, |ui| {
                for result in results {
                    let color = match result.verdict {
                        Verdict::Pass => egui::Color32::from_rgb(110, 200, 120),
                        Verdict::Warn => egui::Color32::from_rgb(230, 190, 80),
                        Verdict::Fail => ui.visuals().error_fg_color,
                    };
                    ui.horizontal(|ui| {
                        ui.colored_label(
                            color,
                            egui::RichText::new(result.verdict.label()).strong(),
                        );
                        ui.heading(&result.name);
                    });
                    egui::Grid::new(("check-numbers", &result.name))
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (name, value) in &result.numbers {
                                ui.label(name);
                                ui.monospace(crate::model::checks::format_number(*value));
                                ui.end_row();
                            }
                        });
                    ui.label(&result.explanation);
                    ui.add_space(10.0);
                }
            });
        }
    }
}
