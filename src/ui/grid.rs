//! The thumbnail grid over the current filter and sort: only visible rows are laid out,
//! thumbnails load visible-first, each cell shows its label in its class colour.
//! Click selects, arrows move the selection, Enter or double-click opens the detail view.

use super::thumbnails::{ThumbState, paint_fitted};
use super::{DatasetCommand, ViewCommand, ViewCtx, class_color, format_stat};

const CELL_GAP_PX: f32 = 6.0;
const LABEL_HEIGHT_PX: f32 = 16.0;

/// Draws the grid of the examples that match the current filter.
pub fn grid_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    if view.dataset().is_none() {
        ui.centered_and_justified(|ui| {
            ui.label("Open a dataset folder: File > Open dataset folder..., or drop one onto this window.");
        });
        return;
    };
    let visible = &view.browse.matches.indices;
    let mut thumb_px = view.settings.thumb_px;
    ui.horizontal(|ui| {
        ui.label(format!("{} examples", visible.len()));
        ui.separator();
        if ui
            .add(
                egui::Slider::new(&mut thumb_px, 32.0..=256.0)
                    .suffix(" px")
                    .text("thumbnail size"),
            )
            .changed()
        {
            view.send(ViewCommand::SetThumbSize(thumb_px));
        }
        ui.separator();
        let stats_label = if view.settings.show_stats_panel {
            "Hide stats"
        } else {
            "Show stats"
        };
        if ui.button(stats_label).clicked() {
            view.send(ViewCommand::ToggleStatsPanel);
        }
        // A selection from a map, a scan group or the flips: run the checkpoints on just it.
        let selection = view.browse.filter.only.is_some() && !visible.is_empty();
        if selection && !view.checkpoints.files.is_empty() {
            ui.separator();
            if ui
                .button(format!("Pin these {} as the fixed batch", visible.len()))
                .on_hover_text("The checkpoint views then show these examples")
                .clicked()
            {
                view.send(DatasetCommand::PinOnly(visible.clone()));
            }
        }
    });
    ui.separator();
    if visible.is_empty() {
        ui.label("No example matches the filter.");
        return;
    }

    let cell = egui::vec2(thumb_px, thumb_px + LABEL_HEIGHT_PX);
    let columns =
        (((ui.available_width() + CELL_GAP_PX) / (cell.x + CELL_GAP_PX)).floor() as usize).max(1);
    let rows = visible.len().div_ceil(columns);
    let row_height = cell.y + CELL_GAP_PX;

    let selected_position = view
        .settings
        .selected
        .and_then(|s| view.visible_position(s));
    let moved_to = keyboard_navigation(view, ui, selected_position, columns, visible.len());
    let mut scroll = egui::ScrollArea::vertical().auto_shrink([false, false]);
    if let Some(position) = moved_to {
        // Keep the newly selected cell in view: scroll so its row is roughly centred.
        let row = (position / columns) as f32;
        scroll = scroll
            .vertical_scroll_offset((row * row_height - ui.available_height() / 2.0).max(0.0));
    }
    scroll.show_rows(ui, row_height, rows, |ui, visible_rows| {
        ui.spacing_mut().item_spacing = egui::vec2(CELL_GAP_PX, CELL_GAP_PX);
        for row in visible_rows {
            ui.horizontal(|ui| {
                for &index in &visible[row * columns..((row + 1) * columns).min(visible.len())] {
                    cell_ui(view, ui, index, cell);
                }
            });
        }
    });
}

/// Arrow keys move the selection, Enter opens it; returns the new position when it moved.
fn keyboard_navigation(
    view: &ViewCtx,
    ui: &egui::Ui,
    selected: Option<usize>,
    columns: usize,
    count: usize,
) -> Option<usize> {
    if ui.ctx().egui_wants_keyboard_input() {
        return None;
    }
    let (right, left, down, up, enter, pin) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::ArrowRight),
            i.key_pressed(egui::Key::ArrowLeft),
            i.key_pressed(egui::Key::ArrowDown),
            i.key_pressed(egui::Key::ArrowUp),
            i.key_pressed(egui::Key::Enter),
            i.key_pressed(egui::Key::P),
        )
    });
    let visible = &view.browse.matches.indices;
    if pin && let Some(position) = selected {
        view.send(DatasetCommand::TogglePin(visible[position]));
    }
    if enter && let Some(position) = selected {
        view.send(DatasetCommand::OpenDetail(visible[position]));
        return None;
    }
    let step: i64 = match (right, left, down, up) {
        (true, ..) => 1,
        (_, true, ..) => -1,
        (_, _, true, _) => columns as i64,
        (.., true) => -(columns as i64),
        _ => return None,
    };
    let next = match selected {
        Some(position) => (position as i64 + step).clamp(0, count as i64 - 1) as usize,
        None => 0,
    };
    view.send(ViewCommand::Select(Some(visible[next])));
    Some(next)
}

fn cell_ui(view: &ViewCtx, ui: &mut egui::Ui, index: usize, cell: egui::Vec2) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let example = &dataset.examples[index];
    let (rect, response) = ui.allocate_exact_size(cell, egui::Sense::click());
    if !ui.is_rect_visible(rect) {
        return;
    }
    let image_rect = egui::Rect::from_min_size(rect.min, egui::vec2(cell.x, cell.x));
    let painter = ui.painter_at(rect);
    painter.rect_filled(image_rect, 2.0, ui.visuals().extreme_bg_color);
    let thumb = view.thumbnail(index);
    match &thumb {
        ThumbState::Ready(texture) => {
            let fitted = paint_fitted(&painter, texture, image_rect);
            for annotation in &example.annotations {
                let [x0, y0, x1, y1] = annotation.bbox;
                let at = |x: f32, y: f32| {
                    fitted.min + egui::vec2(x * fitted.width(), y * fitted.height())
                };
                let stroke = egui::Stroke::new(1.0, class_color(annotation.class));
                painter.rect_stroke(
                    egui::Rect::from_two_pos(at(x0, y0), at(x1, y1)),
                    0.0,
                    stroke,
                    egui::StrokeKind::Inside,
                );
            }
        }
        ThumbState::Loading => {}
        ThumbState::Failed(_) => {
            painter.text(
                image_rect.center(),
                egui::Align2::CENTER_CENTER,
                "!",
                egui::FontId::proportional(cell.x * 0.3),
                ui.visuals().error_fg_color,
            );
        }
    }
    let label = dataset.label_text(example);
    let label_color = example
        .classes()
        .first()
        .map_or(ui.visuals().weak_text_color(), |&c| class_color(c));
    painter.text(
        egui::pos2(rect.center().x, rect.bottom() - LABEL_HEIGHT_PX / 2.0),
        egui::Align2::CENTER_CENTER,
        &label,
        egui::FontId::proportional(13.0),
        label_color,
    );
    // Screen readers (and the UI tests) read each cell as its path and label.
    let accessible_name = format!("example {}: {label}", example.path.display());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &accessible_name));
    if view.dataset.pinned.contains(&index) {
        painter.circle_filled(
            image_rect.right_top() + egui::vec2(-8.0, 8.0),
            5.0,
            egui::Color32::from_rgb(240, 200, 60),
        );
    }
    let selected = view.settings.selected == Some(index);
    if selected || response.hovered() {
        let stroke = if selected {
            egui::Stroke::new(2.0, ui.visuals().selection.stroke.color)
        } else {
            ui.visuals().widgets.hovered.fg_stroke
        };
        painter.rect_stroke(image_rect, 2.0, stroke, egui::StrokeKind::Inside);
    }
    if response.double_clicked() {
        view.send(DatasetCommand::OpenDetail(index));
    } else if response.clicked() {
        view.send(ViewCommand::Select(Some(index)));
    }
    response.on_hover_ui(|ui| {
        ui.strong(example.path.display().to_string());
        ui.label(format!("label: {label}"));
        if let Some(split) = example.split {
            ui.label(format!("split: {}", dataset.splits[split]));
        }
        if let Some(r) = view
            .dataset
            .index
            .as_ref()
            .and_then(|stats_index| stats_index.records.get(index))
        {
            ui.label(format!(
                "{} x {} {}, {} bytes",
                r.width, r.height, r.mode, r.file_bytes
            ));
            ui.label(format!(
                "brightness {}  contrast {}  sharpness {}  entropy {}",
                format_stat(r.brightness as f64),
                format_stat(r.contrast as f64),
                format_stat(r.sharpness as f64),
                format_stat(r.entropy as f64)
            ));
        }
        if let ThumbState::Failed(error) = &thumb {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
}
