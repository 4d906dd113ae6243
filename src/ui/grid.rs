//! The thumbnail grid: only visible rows are laid out, thumbnails load visible-first,
//! each cell shows its label in its class colour.

use super::thumbnails::ThumbState;
use super::{Command, ViewCtx, class_color};

const CELL_GAP_PX: f32 = 6.0;
const LABEL_HEIGHT_PX: f32 = 16.0;

/// Draws the grid of the open dataset's examples.
pub fn grid_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dataset) = &view.dataset.dataset else {
        ui.centered_and_justified(|ui| {
            ui.label("Open a dataset folder: File > Open dataset folder..., or drop one onto this window.");
        });
        return;
    };
    let mut thumb_px = view.settings.thumb_px;
    ui.horizontal(|ui| {
        ui.label(format!("{} examples", dataset.examples.len()));
        ui.separator();
        if ui.add(egui::Slider::new(&mut thumb_px, 32.0..=256.0).suffix(" px").text("thumbnail size")).changed() {
            view.send(Command::SetThumbSize(thumb_px));
        }
    });
    ui.separator();

    let cell = egui::vec2(thumb_px, thumb_px + LABEL_HEIGHT_PX);
    let columns = (((ui.available_width() + CELL_GAP_PX) / (cell.x + CELL_GAP_PX)).floor() as usize).max(1);
    let rows = dataset.examples.len().div_ceil(columns);
    egui::ScrollArea::vertical().auto_shrink([false, false]).show_rows(ui, cell.y + CELL_GAP_PX, rows, |ui, visible_rows| {
        ui.spacing_mut().item_spacing = egui::vec2(CELL_GAP_PX, CELL_GAP_PX);
        for row in visible_rows {
            ui.horizontal(|ui| {
                for index in row * columns..((row + 1) * columns).min(dataset.examples.len()) {
                    cell_ui(view, ui, index, cell);
                }
            });
        }
    });
}

fn cell_ui(view: &ViewCtx, ui: &mut egui::Ui, index: usize, cell: egui::Vec2) {
    let Some(dataset) = &view.dataset.dataset else { return };
    let example = &dataset.examples[index];
    let (rect, response) = ui.allocate_exact_size(cell, egui::Sense::click());
    if !ui.is_rect_visible(rect) {
        return;
    }
    let image_rect = egui::Rect::from_min_size(rect.min, egui::vec2(cell.x, cell.x));
    let painter = ui.painter_at(rect);
    painter.rect_filled(image_rect, 2.0, ui.visuals().extreme_bg_color);
    match view.thumbnails.get(index, || dataset.absolute_path(example)) {
        ThumbState::Ready(texture) => {
            let size = texture.size_vec2();
            let scale = (cell.x / size.x).min(cell.x / size.y);
            let fitted = egui::Rect::from_center_size(image_rect.center(), size * scale);
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            painter.image(texture.id(), fitted, uv, egui::Color32::WHITE);
        }
        ThumbState::Loading => {}
        ThumbState::Failed(_) => {
            painter.text(image_rect.center(), egui::Align2::CENTER_CENTER, "!", egui::FontId::proportional(cell.x * 0.3), ui.visuals().error_fg_color);
        }
    }
    let class = dataset.label_text(example);
    painter.text(
        egui::pos2(rect.center().x, rect.bottom() - LABEL_HEIGHT_PX / 2.0),
        egui::Align2::CENTER_CENTER,
        &class,
        egui::FontId::proportional(13.0),
        example.label.or(example.annotations.first().map(|a| a.class)).map_or(ui.visuals().weak_text_color(), class_color),
    );
    let selected = view.settings.selected == Some(index);
    if selected || response.hovered() {
        let stroke = if selected { ui.visuals().selection.stroke } else { ui.visuals().widgets.hovered.fg_stroke };
        painter.rect_stroke(image_rect, 2.0, stroke, egui::StrokeKind::Inside);
    }
    if response.clicked() {
        view.send(Command::Select(if selected { None } else { Some(index) }));
    }
    response.on_hover_ui(|ui| {
        ui.strong(example.path.display().to_string());
        ui.label(format!("label: {class}"));
        if let Some(split) = example.split {
            ui.label(format!("split: {}", dataset.splits[split]));
        }
        if let ThumbState::Failed(error) = view.thumbnails.get(index, || dataset.absolute_path(example)) {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
}
