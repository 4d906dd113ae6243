//! The sidebar's filters and sort: labels with counts, split, path search, box class,
//! a range per stat, and the sort column. Every change sends a new `Filter` or `Sort`.

use crate::browse::{Filter, Sort, SortKey};

use super::{DatasetCommand, ViewCtx, class_color, format_stat};

/// Draws the filter and sort controls.
pub fn filters_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let filter = &view.browse.filter;
    ui.horizontal(|ui| {
        ui.heading("Filter");
        if !filter.is_empty() && ui.small_button("Clear").clicked() {
            view.send(DatasetCommand::SetFilter(Filter::default()));
        }
    });
    let matching = view.browse.matches.indices.len();
    ui.horizontal(|ui| {
        ui.strong(format!("{matching} of {} match", dataset.examples.len()));
        if view.browse.querying.is_some() {
            ui.spinner();
        }
    });

    if let Some(only) = &filter.only {
        ui.horizontal(|ui| {
            ui.label(format!("Only {} chosen examples", only.len()));
            if ui
                .small_button("x")
                .on_hover_text("Show all examples again")
                .clicked()
            {
                view.send(DatasetCommand::SetFilter(Filter {
                    only: None,
                    ..filter.clone()
                }));
            }
        });
    }
    let counts = &view.dataset.facts.class_counts;
    egui::Grid::new("class-filter")
        .striped(true)
        .num_columns(2 + dataset.splits.len())
        .show(ui, |ui| {
            ui.label("class");
            for split in &dataset.splits {
                ui.label(split);
            }
            ui.label("total");
            ui.end_row();
            for (class, count) in counts.iter().enumerate() {
                let mut checked = filter.labels.contains(&class);
                let text = egui::RichText::new(&count.name).color(class_color(class));
                if ui.checkbox(&mut checked, text).changed() {
                    let mut next = filter.clone();
                    if checked {
                        next.labels.insert(class);
                    } else {
                        next.labels.remove(&class);
                    }
                    view.send(DatasetCommand::SetFilter(next));
                }
                for n in &count.by_split {
                    ui.label(n.to_string());
                }
                ui.strong(count.count.to_string());
                ui.end_row();
            }
        });

    if !dataset.splits.is_empty() {
        let current = filter
            .split
            .map_or("all".to_string(), |s| dataset.splits[s].clone());
        let mut chosen = filter.split;
        egui::ComboBox::from_label("split")
            .selected_text(current)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, "all");
                for (i, name) in dataset.splits.iter().enumerate() {
                    ui.selectable_value(&mut chosen, Some(i), name);
                }
            });
        if chosen != filter.split {
            view.send(DatasetCommand::SetFilter(Filter {
                split: chosen,
                ..filter.clone()
            }));
        }
    }

    let mut needle = filter.path_contains.clone();
    ui.horizontal(|ui| {
        ui.label("path");
        let edit = egui::TextEdit::singleline(&mut needle)
            .hint_text("contains...")
            .desired_width(f32::INFINITY);
        if ui.add(edit).changed() {
            view.send(DatasetCommand::SetFilter(Filter {
                path_contains: needle.clone(),
                ..filter.clone()
            }));
        }
    });

    if view.dataset.facts.has_boxes {
        let mut chosen = filter.has_box_of_class;
        let current = chosen.map_or("any".to_string(), |c| dataset.classes[c].clone());
        egui::ComboBox::from_label("has a box of class")
            .selected_text(current)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, "any");
                for (i, name) in dataset.classes.iter().enumerate() {
                    ui.selectable_value(&mut chosen, Some(i), name);
                }
            });
        if chosen != filter.has_box_of_class {
            view.send(DatasetCommand::SetFilter(Filter {
                has_box_of_class: chosen,
                ..filter.clone()
            }));
        }
    }

    sort_ui(view, ui);
    stat_ranges_ui(view, ui);
}

fn sort_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let sort = &view.browse.sort;
    let mut keys = vec![
        SortKey::DatasetOrder,
        SortKey::Path,
        SortKey::Label,
        SortKey::Split,
    ];
    if let Some(stats) = &view.dataset.stats {
        keys.extend(stats.names.iter().cloned().map(SortKey::Stat));
    }
    let name = |key: &SortKey| match key {
        SortKey::DatasetOrder => "dataset order".to_string(),
        SortKey::Path => "path".to_string(),
        SortKey::Label => "label".to_string(),
        SortKey::Split => "split".to_string(),
        SortKey::Stat(stat) => stat.clone(),
    };
    let mut chosen = sort.key.clone();
    let mut descending = sort.descending;
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("sort by")
            .selected_text(name(&chosen))
            .show_ui(ui, |ui| {
                for key in &keys {
                    ui.selectable_value(&mut chosen, key.clone(), name(key));
                }
            });
        ui.checkbox(&mut descending, "descending");
    });
    if chosen != sort.key || descending != sort.descending {
        view.send(DatasetCommand::SetSort(Sort {
            key: chosen,
            descending,
        }));
    }
}

fn stat_ranges_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(stats) = &view.dataset.stats else {
        if let Some(job) = &view.dataset.indexing {
            let (done, total) = job.progress();
            ui.label(format!("Stats: indexing {done}/{total}..."));
        }
        return;
    };
    let filter = &view.browse.filter;
    egui::CollapsingHeader::new("Stat ranges")
        .default_open(false)
        .show(ui, |ui| {
            egui::Grid::new("stat-ranges")
                .num_columns(4)
                .show(ui, |ui| {
                    for name in &stats.names {
                        let Some((lo, hi)) = stats.bounds(name) else {
                            continue;
                        };
                        let (mut min, mut max) =
                            filter.ranges.get(name).copied().unwrap_or((lo, hi));
                        let speed = ((hi - lo) / 200.0).max(1e-6);
                        let active = filter.ranges.contains_key(name);
                        let label = ui.label(if active {
                            egui::RichText::new(name).strong()
                        } else {
                            egui::RichText::new(name)
                        });
                        let min_changed = ui
                            .add(range_drag(&mut min, speed, lo, hi))
                            .labelled_by(label.id)
                            .changed();
                        let max_changed = ui
                            .add(range_drag(&mut max, speed, lo, hi))
                            .labelled_by(label.id)
                            .changed();
                        if min_changed || max_changed {
                            let mut next = filter.clone();
                            next.ranges
                                .insert(name.clone(), (min.min(max), max.max(min)));
                            view.send(DatasetCommand::SetFilter(next));
                        }
                        if active
                            && ui
                                .small_button("x")
                                .on_hover_text("Remove this range")
                                .clicked()
                        {
                            let mut next = filter.clone();
                            next.ranges.remove(name);
                            view.send(DatasetCommand::SetFilter(next));
                        }
                        ui.end_row();
                    }
                });
        });
}

fn range_drag(value: &mut f64, speed: f64, lo: f64, hi: f64) -> egui::DragValue<'_> {
    egui::DragValue::new(value)
        .speed(speed)
        .range(lo..=hi)
        .custom_formatter(|v, _| format_stat(v))
}
