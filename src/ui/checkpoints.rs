//! The checkpoints summary: how many loaded through LibTorch, the model's size, the device.

use super::{Command, ViewCtx};

/// Draws the checkpoints section.
pub fn checkpoints_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Checkpoints");
        if ui.small_button("Open...").clicked() {
            view.send(Command::PickCheckpointsFolder);
        }
    });
    if let Some(job) = &view.checkpoints.loading {
        let (done, total) = job.progress();
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Loading with LibTorch... {done}/{total}"));
        });
    }
    let Some(summary) = &view.checkpoints.summary else {
        if view.checkpoints.loading.is_none() {
            ui.label("No checkpoints loaded.");
        }
        return;
    };
    egui::Grid::new("checkpoint-facts").num_columns(2).show(ui, |ui| {
        ui.label("Checkpoints");
        ui.strong(summary.files.len().to_string());
        ui.end_row();
        ui.label("Parameters");
        match summary.parameter_count {
            Some(n) => ui.strong(format_count(n)),
            None => ui.label("-"),
        };
        ui.end_row();
        ui.label("Device");
        ui.label(&summary.device);
        ui.end_row();
        if let Some(pre) = &summary.preprocess {
            ui.label("Input");
            ui.label(format!("{} x {} x {}", pre.channels, pre.input_size[0], pre.input_size[1]));
            ui.end_row();
        }
    });
    ui.label(egui::RichText::new(summary.dir.display().to_string()).weak().small());
    egui::CollapsingHeader::new(format!("{} files", summary.files.len())).default_open(false).show(ui, |ui| {
        for name in &summary.files {
            ui.label(name);
        }
    });
}

/// 106_000 → "106,000".
fn format_count(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(super::format_count(55_242), "55,242");
        assert_eq!(super::format_count(999), "999");
        assert_eq!(super::format_count(1_000_000), "1,000,000");
    }
}
