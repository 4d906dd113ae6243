//! The bottom bar: progress of running jobs (count, rate, ETA) with a cancel button, and
//! messages for the user.

use super::{Command, ViewCtx};
use crate::jobs::Job;

/// `(label and stage, (done, total), seconds counted)` of a running job.
fn job_row<T: Send + 'static>(job: &Option<Job<T>>) -> Option<(String, (usize, usize), f64)> {
    job.as_ref()
        .map(|j| (j.title(), j.progress(), j.counting_s()))
}

/// Draws the status bar.
pub fn status_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let jobs = [
        job_row(&view.dataset.loading),
        job_row(&view.dataset.indexing),
        job_row(&view.checkpoints.loading),
        job_row(&view.checkpoints.predicting),
        job_row(&view.checkpoints.checking),
        job_row(&view.scan.running),
        job_row(&view.label_review.scoring),
    ];
    let mut any_job = false;
    for (label, (done, total), elapsed_s) in jobs.into_iter().flatten() {
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
                view.send(Command::CancelJobs);
            }
        });
    }
    for (i, message) in view.messages.iter().enumerate() {
        ui.horizontal(|ui| {
            if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                view.send(Command::DismissMessage(i));
            }
            ui.colored_label(ui.visuals().error_fg_color, message);
        });
    }
    if !any_job && view.messages.is_empty() {
        ui.label(egui::RichText::new("Ready").weak());
    }
}
