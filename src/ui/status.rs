//! The bottom bar: progress of running jobs (count, rate, ETA) with a cancel button, and
//! messages for the user.

use super::{AppCommand, ViewCtx};

/// Draws the status bar.
pub fn status_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let jobs: Vec<(String, (usize, usize), f64)> = view
        .running_jobs()
        .iter()
        .map(|j| (j.title(), j.progress(), j.counting_s()))
        .collect();
    let mut any_job = false;
    for (label, (done, total), elapsed_s) in jobs {
        any_job = true;
        ui.horizontal(|ui| {
            let bar = if total > 0 {
                let fraction = done as f32 / total as f32;
                let rate = done as f64 / elapsed_s.max(1e-3);
                let eta = if done > 0 {
                    format!(", ETA {:.0} s", (total - done) as f64 / rate)
                } else {
                    String::new()
                };
                egui::ProgressBar::new(fraction)
                    .text(format!("{label}: {done}/{total} ({rate:.0}/s{eta})"))
            } else {
                egui::ProgressBar::new(0.0)
                    .animate(true)
                    .text(format!("{label} ({elapsed_s:.0} s)"))
            };
            ui.add(bar.desired_width(ui.available_width() - 80.0));
            if ui.button("Cancel").clicked() {
                view.send(AppCommand::CancelJobs);
            }
        });
    }
    for (i, message) in view.messages.iter().enumerate() {
        ui.horizontal(|ui| {
            if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                view.send(AppCommand::DismissMessage(i));
            }
            ui.colored_label(ui.visuals().error_fg_color, message);
        });
    }
    if !any_job && view.messages.is_empty() {
        ui.label(egui::RichText::new("Ready").weak());
    }
}
