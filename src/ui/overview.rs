//! The dataset overview: size, layout, splits, and per-class counts as a table and a bar chart.

use egui_plot::{Bar, BarChart, GridMark, Plot};

use super::{ViewCtx, class_color};

/// Draws the dataset summary.
pub fn overview_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    ui.heading("Dataset");
    let Some(dataset) = &view.dataset.dataset else {
        if view.dataset.loading.is_some() {
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
            let splits: Vec<String> = dataset.split_counts().iter().map(|(name, n)| format!("{name} {n}")).collect();
            ui.label(splits.join(", "));
            ui.end_row();
        }
        if let Some(ratio) = dataset.imbalance_ratio() {
            ui.label("Imbalance");
            ui.label(format!("{ratio:.2} : 1")).on_hover_text("Largest class count / smallest class count");
            ui.end_row();
        }
    });

    ui.add_space(6.0);
    ui.strong("Examples per class");
    let counts = dataset.class_counts();
    egui::Grid::new("class-counts").striped(true).num_columns(2 + dataset.splits.len()).show(ui, |ui| {
        ui.label("class");
        for split in &dataset.splits {
            ui.label(split);
        }
        ui.label("total");
        ui.end_row();
        for (i, class) in counts.iter().enumerate() {
            ui.colored_label(class_color(i), &class.name);
            for n in &class.by_split {
                ui.label(n.to_string());
            }
            ui.strong(class.count.to_string());
            ui.end_row();
        }
    });

    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| Bar::new(i as f64, c.count as f64).name(&c.name).fill(class_color(i)).width(0.8))
        .collect();
    let names: Vec<String> = counts.iter().map(|c| c.name.clone()).collect();
    let class_count = names.len();
    Plot::new("class-count-plot")
        .height(140.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_grid(false)
        .x_grid_spacer(move |_| {
            // One mark per class (every k-th when there are many), so each bar is named.
            let every = class_count.div_ceil(20).max(1);
            (0..class_count).step_by(every).map(|i| GridMark { value: i as f64, step_size: every as f64 }).collect()
        })
        .x_axis_formatter(move |mark, _range| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 { names.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
        })
        .show(ui, |plot| plot.bar_chart(BarChart::new("examples", bars)));
}
