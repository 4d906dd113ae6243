//! The stats panel: class counts and one histogram per stat, for the current filter.
//! Dragging across a histogram filters to that range; double-clicking it clears the range.

use egui_plot::{Bar, BarChart, GridMark, Plot, PlotResponse, Span};

use crate::browse::{Filter, Histogram, imbalance_ratio};

use super::{DatasetCommand, ViewCtx, class_color, format_stat};

/// Draws the stats panel.
pub fn stats_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let matches = &view.browse.matches;
    ui.heading("Stats");
    ui.label(format!(
        "{} examples in the current filter",
        matches.indices.len()
    ));

    ui.strong("Examples per class");
    if let Some(ratio) = imbalance_ratio(&matches.class_counts) {
        ui.label(format!(
            "imbalance {ratio:.2} : 1 (largest / smallest class)"
        ));
    }
    let bars: Vec<Bar> = matches
        .class_counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            Bar::new(i as f64, n as f64)
                .name(&dataset.classes[i])
                .fill(class_color(i))
                .width(0.8)
        })
        .collect();
    let names = dataset.classes.clone();
    let class_count = names.len();
    Plot::new("class-count-plot")
        .height(130.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_grid(false)
        .x_grid_spacer(move |_| {
            // One mark per class (every k-th when there are many), so each bar is named.
            let every = class_count.div_ceil(20).max(1);
            (0..class_count)
                .step_by(every)
                .map(|i| GridMark {
                    value: i as f64,
                    step_size: every as f64,
                })
                .collect()
        })
        .x_axis_formatter(move |mark, _range| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| plot.bar_chart(BarChart::new("examples", bars)));

    if matches.histograms.is_empty() {
        ui.add_space(8.0);
        match &view.dataset.indexing {
            Some(job) => {
                let (done, total) = job.progress();
                ui.label(format!(
                    "Stat histograms appear once indexing finishes ({done}/{total})."
                ));
            }
            None => {
                ui.label("No stats: the dataset is not indexed.");
            }
        }
        return;
    }
    ui.add_space(6.0);
    ui.label(
        egui::RichText::new(
            "Drag across a histogram to filter to that range; double-click to clear it.",
        )
        .weak()
        .small(),
    );
    let (constant, varying): (Vec<&Histogram>, Vec<&Histogram>) = matches
        .histograms
        .iter()
        .partition(|h| h.bounds.0 == h.bounds.1);
    for histogram in varying {
        histogram_ui(view, ui, histogram);
    }
    if !constant.is_empty() {
        ui.add_space(6.0);
        ui.strong("Same for every example");
        for histogram in constant {
            ui.label(format!(
                "{} = {}",
                histogram.name,
                format_stat(histogram.bounds.0)
            ));
        }
    }
}

fn histogram_ui(view: &ViewCtx, ui: &mut egui::Ui, histogram: &Histogram) {
    let filter = &view.browse.filter;
    let range = filter.ranges.get(&histogram.name).copied();
    ui.horizontal(|ui| {
        ui.strong(&histogram.name);
        let (lo, hi) = histogram.bounds;
        ui.label(
            egui::RichText::new(format!("{} .. {}", format_stat(lo), format_stat(hi)))
                .weak()
                .small(),
        );
        if let Some((min, max)) = range {
            ui.label(
                egui::RichText::new(format!(
                    "filter {} .. {}",
                    format_stat(min),
                    format_stat(max)
                ))
                .small(),
            );
        }
    });
    let drag_id = ui.scope_id().with(("histogram-drag", &histogram.name));
    let drag_start: Option<f64> = ui.data(|d| d.get_temp(drag_id));
    let bars: Vec<Bar> = histogram
        .bins
        .iter()
        .map(|&(start, end, count)| {
            Bar::new((start + end) / 2.0, count as f64).width((end - start) * 0.95)
        })
        .collect();
    let accent = ui.visuals().selection.bg_fill;
    let PlotResponse {
        response,
        transform,
        ..
    } = Plot::new(("stat-histogram", &histogram.name))
        .height(70.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_grid(false)
        .show_y(false)
        .y_axis_min_width(24.0)
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new(&histogram.name, bars).color(egui::Color32::LIGHT_BLUE));
            let shown = match (drag_start, plot.pointer_coordinate()) {
                (Some(start), Some(now)) => Some((start.min(now.x), start.max(now.x))),
                _ => range,
            };
            if let Some((lo, hi)) = shown {
                plot.span(
                    Span::new("range", lo..=hi)
                        .fill(accent.gamma_multiply(0.3))
                        .border_color(accent),
                );
            }
        });
    let pointer_x = response
        .interact_pointer_pos()
        .map(|p| transform.value_from_position(p).x);
    if response.double_clicked() {
        let mut next = filter.clone();
        next.ranges.remove(&histogram.name);
        send_if_changed(view, filter, next);
        ui.data_mut(|d| d.remove::<f64>(drag_id));
    } else if response.drag_started() {
        if let Some(x) = pointer_x {
            ui.data_mut(|d| d.insert_temp(drag_id, x));
        }
    } else if response.drag_stopped() {
        if let (Some(start), Some(end)) = (drag_start, pointer_x) {
            let (lo, hi) = (
                start.min(end).max(histogram.bounds.0),
                start.max(end).min(histogram.bounds.1),
            );
            if hi > lo {
                let mut next = filter.clone();
                next.ranges.insert(histogram.name.clone(), (lo, hi));
                send_if_changed(view, filter, next);
            }
        }
        ui.data_mut(|d| d.remove::<f64>(drag_id));
    }
}

fn send_if_changed(view: &ViewCtx, current: &Filter, next: Filter) {
    if *current != next {
        view.send(DatasetCommand::SetFilter(next));
    }
}
