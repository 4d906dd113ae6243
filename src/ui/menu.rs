//! The top bar: File menu and the open dataset's path.

use super::{AppCommand, ViewCtx};

/// Draws the menu bar.
pub fn menu_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open dataset folder...").clicked() {
                view.send(AppCommand::PickDatasetFolder);
                ui.close();
            }
            if ui.button("Open checkpoints folder...").clicked() {
                view.send(AppCommand::PickCheckpointsFolder);
                ui.close();
            }
            ui.separator();
            if ui.button("Quit").clicked() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        });
        ui.separator();
        match &view.dataset.dataset {
            Some(ds) => ui.label(egui::RichText::new(ds.root.display().to_string()).weak()),
            None => ui.label(
                egui::RichText::new(
                    "Drop a dataset folder here, or use File > Open dataset folder...",
                )
                .weak(),
            ),
        };
    });
}
