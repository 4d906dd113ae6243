//! The checkpoints summary: how many loaded through LibTorch, the model's size, the device.

use super::{AppCommand, ModelCommand, ViewCtx};

/// Draws the checkpoints section.
pub fn checkpoints_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Checkpoints");
        if ui.small_button("Open...").clicked() {
            view.send(AppCommand::PickCheckpointsFolder);
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
    egui::Grid::new("checkpoint-facts")
        .num_columns(2)
        .show(ui, |ui| {
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
                ui.label(format!(
                    "{} x {} x {}",
                    pre.channels, pre.input_size[0], pre.input_size[1]
                ));
                ui.end_row();
            }
        });
    ui.label(
        egui::RichText::new(summary.dir.display().to_string())
            .weak()
            .small(),
    );
    preprocess_editor_ui(view, ui);
    egui::CollapsingHeader::new(format!("{} files", summary.files.len()))
        .default_open(false)
        .show(ui, |ui| {
            for name in &summary.files {
                ui.label(name);
            }
        });
}

/// Edits the preprocessing (read from preprocess.json) and applies it to the predictions.
fn preprocess_editor_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(current) = view
        .checkpoints
        .summary
        .as_ref()
        .and_then(|s| s.preprocess.clone())
    else {
        return;
    };
    let title = if view.checkpoints.preprocess_overridden {
        "Preprocessing (set here)"
    } else {
        "Preprocessing (preprocess.json)"
    };
    egui::CollapsingHeader::new(title)
        .default_open(false)
        .show(ui, |ui| {
            let memory_id = ui.scope_id().with("preprocess-draft");
            let (mut draft, mut mean_text, mut std_text): (
                crate::model::Preprocess,
                String,
                String,
            ) = ui.data(|d| d.get_temp(memory_id)).unwrap_or_else(|| {
                let join = |v: &[f32]| {
                    v.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (current.clone(), join(&current.mean), join(&current.std))
            });
            egui::Grid::new("preprocess-editor")
                .num_columns(2)
                .show(ui, |ui| {
                    let label = ui.label("height");
                    ui.add(egui::DragValue::new(&mut draft.input_size[0]).range(1..=4096))
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("width");
                    ui.add(egui::DragValue::new(&mut draft.input_size[1]).range(1..=4096))
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("channels");
                    ui.add(egui::DragValue::new(&mut draft.channels).range(1..=3))
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("scale");
                    ui.add(
                        egui::DragValue::new(&mut draft.scale)
                            .speed(1.0)
                            .range(1.0..=65535.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("mean");
                    ui.text_edit_singleline(&mut mean_text)
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("std");
                    ui.text_edit_singleline(&mut std_text).labelled_by(label.id);
                    ui.end_row();
                });
            let parse = |text: &str| {
                text.split(',')
                    .map(|v| v.trim().parse::<f32>())
                    .collect::<Result<Vec<f32>, _>>()
            };
            let parsed = (parse(&mean_text), parse(&std_text));
            let valid = match &parsed {
                (Ok(mean), Ok(std)) => {
                    let channels = draft.channels as usize;
                    (channels == 1 || channels == 3)
                        && mean.len() == channels
                        && std.len() == channels
                        && std.iter().all(|s| *s > 0.0)
                }
                _ => false,
            };
            if !valid {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    "channels must be 1 or 3, with one mean and one positive std per channel",
                );
            }
            if ui
                .add_enabled(valid, egui::Button::new("Apply and rerun"))
                .clicked()
                && let (Ok(mean), Ok(std)) = parsed
            {
                view.send(ModelCommand::SetPreprocess(crate::model::Preprocess {
                    mean,
                    std,
                    ..draft.clone()
                }));
            }
            ui.data_mut(|d| d.insert_temp(memory_id, (draft, mean_text, std_text)));
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
