//! First-layer filters of the checkpoint the slider shows (each normalised on its own; RGB for
//! 3 input channels, grey otherwise), and a histogram of every layer's weights.

use egui_plot::{Bar, BarChart, Plot};

use super::{ModelCommand, ViewCtx};

const FILTER_PX: f32 = 48.0;

/// Draws the filters view.
pub fn filters_viz_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let state = view.checkpoints;
    if state.files.is_empty() {
        ui.label("Open a checkpoints folder to see its first-layer filters.");
        return;
    }
    // Follows the predictions slider when there is an evolution; else any file can be picked.
    let position = state.current_file().unwrap_or(0).min(state.files.len() - 1);
    if let Some(predictions) = state
        .evolution
        .as_ref()
        .map(|e| &e.predictions)
        .filter(|p| !p.is_empty())
    {
        ui.horizontal(|ui| {
            let mut current = state.current.min(predictions.len() - 1);
            if ui
                .add(egui::Slider::new(&mut current, 0..=predictions.len() - 1).text("checkpoint"))
                .changed()
            {
                view.send(ModelCommand::SetCheckpoint(current));
            }
            let play = if state.playing { "Pause" } else { "Play" };
            if ui.button(play).clicked() {
                view.send(ModelCommand::TogglePlay);
            }
        });
    }
    let file = &state.files[position];
    let weights = &state.weights[position];
    ui.strong(&file.name);
    if let Some(error) = &weights.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        match &weights.filters {
            Some(filters) => {
                ui.label(format!(
                    "{}: {} filters of {} x {} x {} ({})",
                    filters.layer,
                    filters.out_channels,
                    filters.in_channels,
                    filters.kh,
                    filters.kw,
                    if filters.in_channels == 3 { "RGB" } else { "grey: mean over input channels" }
                ));
                ui.horizontal_wrapped(|ui| {
                    for (i, texture) in weights.filter_textures.iter().enumerate() {
                        ui.add(egui::Image::new(texture).fit_to_exact_size(egui::vec2(FILTER_PX, FILTER_PX)))
                            .on_hover_text(format!("filter {i}"));
                    }
                });
            }
            None => {
                ui.label("No convolution weight with 4 dimensions found among this checkpoint's parameters.");
            }
        }
        ui.add_space(8.0);
        ui.heading("Weights per layer");
        for (name, bins) in &weights.histograms {
            ui.label(name);
            let bars: Vec<Bar> = bins.iter().map(|&(lo, hi, n)| Bar::new(((lo + hi) / 2.0) as f64, n as f64).width(((hi - lo) * 0.95) as f64)).collect();
            Plot::new(("weight-histogram", name))
                .height(70.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .show_y(false)
                .show(ui, |plot| plot.bar_chart(BarChart::new(name, bars).color(egui::Color32::from_rgb(150, 130, 220))));
        }
    });
}
