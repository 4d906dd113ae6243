//! The detail view: one example at full resolution with zoom and pan, its boxes, and every
//! stat and metadata field. Left/Right step through the current order; Esc returns to the grid.

use super::{DatasetCommand, DetailState, ViewCtx, class_color, format_stat};

/// Zoom and pan of the detail image, kept in egui's memory across frames.
#[derive(Clone, Copy)]
struct ZoomPan {
    /// 1.0 = fit the image to the available space.
    zoom: f32,
    /// Offset of the image centre from the viewport centre, in screen points.
    pan: egui::Vec2,
}

impl Default for ZoomPan {
    fn default() -> Self {
        ZoomPan {
            zoom: 1.0,
            pan: egui::Vec2::ZERO,
        }
    }
}

/// Draws the detail view of `detail.example`.
pub fn detail_ui(view: &ViewCtx, detail: &DetailState, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let example = &dataset.examples[detail.example];
    let total = view.browse.matches.indices.len();
    let position = view.visible_position(detail.example);

    if !ui.ctx().egui_wants_keyboard_input() {
        ui.input(|i| {
            if i.key_pressed(egui::Key::Escape) {
                view.send(DatasetCommand::CloseDetail);
            }
            if i.key_pressed(egui::Key::ArrowRight) {
                view.send(DatasetCommand::StepDetail(1));
            }
            if i.key_pressed(egui::Key::ArrowLeft) {
                view.send(DatasetCommand::StepDetail(-1));
            }
            if i.key_pressed(egui::Key::P) {
                view.send(DatasetCommand::TogglePin(detail.example));
            }
        });
    }

    ui.horizontal(|ui| {
        if ui.button("Back to grid (Esc)").clicked() {
            view.send(DatasetCommand::CloseDetail);
        }
        let pinned = view.dataset.pinned.contains(&detail.example);
        let pin_text = if pinned {
            "Unpin from the fixed batch (P)"
        } else {
            "Pin to the fixed batch (P)"
        };
        if ui.button(pin_text).clicked() {
            view.send(DatasetCommand::TogglePin(detail.example));
        }
        if ui
            .add_enabled(position.is_some_and(|p| p > 0), egui::Button::new("< Prev"))
            .clicked()
        {
            view.send(DatasetCommand::StepDetail(-1));
        }
        if ui
            .add_enabled(
                position.is_some_and(|p| p + 1 < total),
                egui::Button::new("Next >"),
            )
            .clicked()
        {
            view.send(DatasetCommand::StepDetail(1));
        }
        match position {
            Some(p) => ui.label(format!("{} / {total}", p + 1)),
            None => ui.label(format!("(not in the current filter) / {total}")),
        };
        ui.separator();
        ui.strong(example.path.display().to_string());
        if detail.loading.is_some() {
            ui.spinner();
        }
    });
    ui.separator();

    egui::Panel::right("detail-fields")
        .resizable(true)
        .default_size(280.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| fields_ui(view, detail, ui));
        });
    egui::CentralPanel::default().show(ui, |ui| image_ui(view, detail, ui));
}

fn image_ui(view: &ViewCtx, detail: &DetailState, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    if let Some(error) = &detail.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
        return;
    }
    let Some(texture) = &detail.image else { return };
    let (viewport, response) =
        ui.allocate_exact_size(ui.available_size(), egui::Sense::click_and_drag());
    let memory_id = ui.scope_id().with("detail-zoom-pan");
    let mut zp: ZoomPan = ui.data(|d| d.get_temp(memory_id)).unwrap_or_default();
    if response.hovered() {
        let scroll = ui.input(|i| i.smooth_scroll_delta.y);
        let pinch = ui.input(|i| i.zoom_delta());
        let factor = pinch * (scroll / 200.0).exp();
        if factor != 1.0 {
            // Zoom about the pointer, so the pixel under it stays put.
            let pointer = response.hover_pos().unwrap_or(viewport.center()) - viewport.center();
            let new_zoom = (zp.zoom * factor).clamp(0.1, 64.0);
            zp.pan = pointer - (pointer - zp.pan) * (new_zoom / zp.zoom);
            zp.zoom = new_zoom;
        }
    }
    if response.dragged() {
        zp.pan += response.drag_delta();
    }
    if response.double_clicked() {
        zp = ZoomPan::default();
    }
    ui.data_mut(|d| d.insert_temp(memory_id, zp));

    let size = texture.size_vec2();
    let fit = (viewport.width() / size.x).min(viewport.height() / size.y);
    let shown = size * fit * zp.zoom;
    let rect = egui::Rect::from_center_size(viewport.center() + zp.pan, shown);
    let painter = ui.painter_at(viewport);
    painter.rect_filled(viewport, 0.0, ui.visuals().extreme_bg_color);
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    painter.image(texture.id(), rect, uv, egui::Color32::WHITE);

    for annotation in &dataset.examples[detail.example].annotations {
        let [x0, y0, x1, y1] = annotation.bbox;
        let to_screen = |x: f32, y: f32| rect.min + egui::vec2(x * rect.width(), y * rect.height());
        let box_rect = egui::Rect::from_two_pos(to_screen(x0, y0), to_screen(x1, y1));
        let color = class_color(annotation.class);
        painter.rect_stroke(
            box_rect,
            0.0,
            egui::Stroke::new(2.0, color),
            egui::StrokeKind::Outside,
        );
        let font = egui::FontId::proportional(13.0);
        let galley = painter.layout_no_wrap(
            dataset.classes[annotation.class].clone(),
            font,
            egui::Color32::BLACK,
        );
        let label_rect = egui::Rect::from_min_size(
            box_rect.left_top() - egui::vec2(0.0, galley.size().y),
            galley.size() + egui::vec2(6.0, 0.0),
        );
        painter.rect_filled(label_rect, 0.0, color);
        painter.galley(
            label_rect.min + egui::vec2(3.0, 0.0),
            galley,
            egui::Color32::BLACK,
        );
    }
    let zoom_text = format!(
        "{:.0}% of fit  (scroll: zoom, drag: pan, double-click: fit)",
        zp.zoom * 100.0
    );
    painter.text(
        viewport.left_bottom() + egui::vec2(6.0, -6.0),
        egui::Align2::LEFT_BOTTOM,
        zoom_text,
        egui::FontId::proportional(12.0),
        ui.visuals().weak_text_color(),
    );
}

fn fields_ui(view: &ViewCtx, detail: &DetailState, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let example = &dataset.examples[detail.example];
    let record = view
        .dataset
        .index
        .as_ref()
        .and_then(|index| index.records.get(detail.example));
    egui::Grid::new("detail-fields-grid")
        .striped(true)
        .num_columns(2)
        .show(ui, |ui| {
            let row = |ui: &mut egui::Ui, name: &str, value: String| {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            };
            row(ui, "path", example.path.display().to_string());
            row(ui, "label", dataset.label_text(example));
            if let Some(split) = example.split {
                row(ui, "split", dataset.splits[split].clone());
            }
            if let Some(r) = record {
                if let Some(error) = &r.decode_error {
                    ui.label("decode error");
                    ui.colored_label(ui.visuals().error_fg_color, error);
                    ui.end_row();
                }
                row(ui, "size", format!("{} x {}", r.width, r.height));
                row(ui, "mode", format!("{} ({} channels)", r.mode, r.channels));
                row(ui, "format", r.format.clone());
                row(ui, "file bytes", r.file_bytes.to_string());
                row(ui, "brightness", format_stat(r.brightness as f64));
                row(ui, "contrast", format_stat(r.contrast as f64));
                row(ui, "sharpness", format_stat(r.sharpness as f64));
                row(ui, "entropy", format_stat(r.entropy as f64));
                row(ui, "grayscale", r.is_grayscale.to_string());
                row(ui, "perceptual hash", format!("{:016x}", r.phash));
                row(ui, "content hash", format!("{:032x}", r.content_hash));
            } else if view.dataset.indexing.is_some() {
                row(ui, "stats", "indexing...".to_string());
            }
            for (name, value) in dataset.extra_columns.iter().zip(&example.extra) {
                row(ui, name, format_stat(*value));
            }
            if !example.annotations.is_empty() {
                row(ui, "boxes", example.annotations.len().to_string());
            }
        });
    input_ui(detail, ui);
    if !example.annotations.is_empty() {
        ui.add_space(6.0);
        ui.strong("Boxes (normalised x0, y0, x1, y1)");
        for annotation in &example.annotations {
            let [x0, y0, x1, y1] = annotation.bbox;
            ui.colored_label(
                class_color(annotation.class),
                format!(
                    "{}: {x0:.3}, {y0:.3}, {x1:.3}, {y1:.3}  (area {:.4})",
                    dataset.classes[annotation.class],
                    annotation.relative_area()
                ),
            );
        }
    }
}

/// "What goes into the net": each step from file to tensor with its size (opened, resized,
/// cropped), the tensor de-normalised back to an image, its shape, dtype and per-channel
/// min/max/mean, and the torchvision pipeline that makes the same tensor, one click to copy.
fn input_ui(detail: &DetailState, ui: &mut egui::Ui) {
    let Some(input) = &detail.input else { return };
    ui.add_space(8.0);
    ui.heading("What goes into the net");
    let shown = match input {
        Ok(shown) => shown,
        Err(message) => {
            ui.colored_label(ui.visuals().error_fg_color, message);
            return;
        }
    };
    let view = &shown.view;
    if let Some(note) = &view.orientation_note {
        ui.colored_label(ui.visuals().warn_fg_color, note);
    }
    let side = 112.0;
    ui.horizontal_wrapped(|ui| {
        for (step, texture) in view.steps.iter().zip(&shown.steps) {
            ui.vertical(|ui| {
                ui.add(egui::Image::new(texture).fit_to_exact_size(egui::vec2(side, side)));
                ui.label(&step.name);
                ui.weak(format!("{}×{}", step.size[0], step.size[1]));
            });
            ui.label(">");
        }
        ui.vertical(|ui| {
            ui.add(egui::Image::new(&shown.tensor).fit_to_exact_size(egui::vec2(side, side)));
            ui.label("tensor, de-normalised");
            ui.weak(format!("{:?}", view.shape));
        });
    });
    egui::Grid::new("input-tensor")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            ui.label("shape");
            ui.monospace(format!("{:?}", view.shape));
            ui.end_row();
            ui.label("dtype");
            ui.monospace(&view.dtype);
            ui.end_row();
            ui.label("channel");
            ui.label("min / max / mean");
            ui.end_row();
            for (c, (min, max, mean)) in view.per_channel.iter().enumerate() {
                ui.label(c.to_string());
                ui.monospace(format!("{min:.3} / {max:.3} / {mean:.3}"));
                ui.end_row();
            }
        });
    if ui
        .button("Copy as torchvision")
        .on_hover_text(&view.torchvision)
        .clicked()
    {
        ui.ctx().copy_text(view.torchvision.clone());
    }
}
