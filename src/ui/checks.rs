//! The recipe's sanity checks: loss at init against ln(C), an input-independent baseline,
//! batch independence by backprop and overfitting a few examples, each with its verdict, the
//! numbers behind it and, for the overfit, its loss curve.

use egui_plot::{Line, Plot, PlotPoints};

use super::{ModelCommand, ViewCtx};
use crate::model::Verdict;
use crate::model::overfit::{OVERFIT_EXAMPLES, OVERFIT_LOSS};

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
            view.send(ModelCommand::RunChecks);
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
    overfit_settings_ui(view, ui);
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
                    if !result.curve.is_empty() {
                        loss_curve_ui(ui, &result.name, &result.curve);
                    }
                    ui.add_space(10.0);
                }
            });
        }
    }
}

/// How many examples the overfit check trains on, and which checkpoint.
fn overfit_settings_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let state = view.checkpoints;
    let mut settings = state.overfit.clone();
    ui.horizontal(|ui| {
        ui.label("Overfit");
        ui.add(
            egui::DragValue::new(&mut settings.examples)
                .range(OVERFIT_EXAMPLES)
                .suffix(" examples"),
        )
        .on_hover_text("The first examples of the fixed batch, with at least two labels");
        ui.label("with");
        let runnable: Vec<&str> = state
            .files
            .iter()
            .filter(|f| f.is_runnable())
            .map(|f| f.name.as_str())
            .collect();
        let first = runnable.first().copied().unwrap_or("the first checkpoint");
        egui::ComboBox::from_id_salt("overfit-checkpoint")
            .selected_text(settings.checkpoint.as_deref().unwrap_or(first))
            .show_ui(ui, |ui| {
                for (i, name) in runnable.iter().enumerate() {
                    let value = (i > 0).then(|| name.to_string());
                    ui.selectable_value(&mut settings.checkpoint, value, *name);
                }
            });
    });
    if settings != state.overfit {
        view.send(ModelCommand::SetOverfit(settings));
    }
}

/// The overfit run's loss per Adam step, on a log scale, with the pass line.
fn loss_curve_ui(ui: &mut egui::Ui, name: &str, curve: &[f64]) {
    let log = |v: f64| v.max(1e-6).log10();
    let points: PlotPoints = curve
        .iter()
        .enumerate()
        .map(|(step, &loss)| [step as f64, log(loss)])
        .collect();
    let pass: PlotPoints = vec![
        [0.0, log(OVERFIT_LOSS)],
        [curve.len() as f64, log(OVERFIT_LOSS)],
    ]
    .into();
    Plot::new(("loss-curve", name))
        .height(160.0)
        .x_axis_label("Adam step")
        .y_axis_label("log10 loss")
        .allow_scroll(false)
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::RightTop))
        .show(ui, |plot| {
            plot.line(Line::new("loss", points).width(2.0));
            plot.line(
                Line::new(format!("pass below {OVERFIT_LOSS}"), pass)
                    .style(egui_plot::LineStyle::dashed_loose()),
            );
        });
}
