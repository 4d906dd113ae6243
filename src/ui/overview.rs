//! The dataset overview: size, layout, splits and class balance at a glance.

use super::ViewCtx;

/// Draws the dataset summary.
pub fn overview_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    ui.heading("Dataset");
    let Some(dataset) = view.dataset() else {
        if view.opening.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Opening...");
            });
        } else {
            ui.label("No dataset open.");
        }
        return;
    };
    egui::Grid::new("dataset-facts").num_columns(2).show(ui, |ui| {
        ui.label("Examples");
        ui.strong(dataset.examples.len().to_string());
        ui.end_row();
        ui.label("Layout");
        ui.label(dataset.layout.name()).on_hover_text(dataset.layout.pattern());
        ui.end_row();
        ui.label("Classes");
        ui.label(dataset.classes.len().to_string());
        ui.end_row();
        if !dataset.splits.is_empty() {
            ui.label("Splits");
            ui.label(&view.dataset.facts.splits_text);
            ui.end_row();
        }
        if let Some(ratio) = view.dataset.facts.imbalance_ratio {
            ui.label("Imbalance");
            ui.label(format!("{ratio:.2} : 1")).on_hover_text("Largest class count / smallest class count");
            ui.end_row();
        }
        let unreadable = view.dataset.facts.unreadable;
        if unreadable > 0 {
            ui.label("Unreadable");
            ui.colored_label(ui.visuals().error_fg_color, format!("{unreadable} files"))
                .on_hover_text("Files that failed to decode; their cells show '!' and the detail view says why");
            ui.end_row();
        }
    });
}
