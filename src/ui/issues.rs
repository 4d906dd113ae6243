//! Data issues: what the scan found (duplicates, leakage, label conflicts, outliers, quality
//! flags), with adjustable thresholds; a click shows an issue's examples in the grid; duplicate
//! groups side by side, each member marked keep or exclude (saved like review decisions).

use super::thumbnails::{ThumbState, paint_fitted};
use super::{DatasetCommand, ViewCommand, ViewCtx, class_color};
use crate::review::Decision;
use crate::scan::{DuplicateGroup, IssueKind, ScanSettings};

const MEMBER_PX: f32 = 128.0;
/// Duplicate groups drawn at once; the rest are counted.
const GROUPS_SHOWN: usize = 60;

/// Draws the issues view.
pub fn issues_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    if view.dataset().is_none() {
        ui.label("Open a dataset to scan it.");
        return;
    }
    embedding_ui(view, ui);
    settings_ui(view, ui);
    if let Some(job) = &view.scan.running {
        super::job_progress_ui(ui, job);
    }
    let Some(report) = &view.scan.report else {
        if view.scan.running.is_none() {
            ui.label("The scan starts once the dataset is indexed.");
        }
        return;
    };
    ui.separator();
    ui.strong("Click an issue to see its examples in the grid");
    ui.horizontal_wrapped(|ui| {
        for (kind, count) in report.counts() {
            if count == 0 {
                continue;
            }
            if ui.button(format!("{} ({count})", kind.name())).clicked() {
                view.send(DatasetCommand::ShowOnlyInGrid(report.examples_with(kind)));
            }
        }
        if report.findings.is_empty() {
            ui.label("No issue found with these thresholds.");
        }
    });
    ui.label(format!(
        "{} near-duplicate pairs verified, in {} groups.",
        report.near_pairs.len(),
        report.groups.len()
    ));
    if let Some(dataset) = view.dataset() {
        for leak in &report.leakage {
            let text = format!(
                "{}: {} images have the same shot in {}",
                dataset.splits[leak.split],
                leak.examples.len(),
                dataset.splits[leak.other]
            );
            if ui
                .button(text)
                .on_hover_text("Show them in the grid, most certain first")
                .clicked()
            {
                let examples = leak.examples.iter().map(|e| e.0).collect();
                view.send(DatasetCommand::ShowOnlyInGrid(examples));
            }
        }
    }
    for note in &report.notes {
        ui.weak(note);
    }
    ui.separator();

    let mut groups: Vec<&DuplicateGroup> = report.groups.iter().collect();
    // Most certain first; among equally certain, conflicting labels, then leakage.
    groups.sort_by(|a, b| {
        b.confidence.total_cmp(&a.confidence).then(
            (!a.labels_differ, !a.spans_splits, a.id).cmp(&(
                !b.labels_differ,
                !b.spans_splits,
                b.id,
            )),
        )
    });
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for group in groups.iter().take(GROUPS_SHOWN) {
                group_ui(view, ui, group);
            }
            if groups.len() > GROUPS_SHOWN {
                ui.label(format!(
                    "... and {} more groups (all are in `eyeball scan --out`).",
                    groups.len() - GROUPS_SHOWN
                ));
            }
        });
}

/// Which embedding near duplicates and outliers are searched in: image hashes and thumbnails, or
/// a loaded checkpoint's penultimate layer.
fn embedding_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let files = &view.checkpoints.files;
    let has_preprocess = view
        .checkpoints
        .summary
        .as_ref()
        .is_some_and(|s| s.preprocess.is_some());
    let has_runnable = files.iter().any(|f| f.is_runnable());
    ui.horizontal(|ui| {
        let label = ui.label("Near duplicates and outliers in:");
        if files.is_empty() || !has_preprocess || !has_runnable {
            ui.label(
                "image hashes and thumbnails (load checkpoints to also use a model's embedding)",
            );
            return;
        }
        let chosen = view.scan.embedding.clone();
        let text = |choice: &Option<String>| match choice {
            Some(name) => format!("image hashes + {name} penultimate layer"),
            None => "image hashes and thumbnails".to_string(),
        };
        let mut picked = chosen.clone();
        let combo = egui::ComboBox::from_id_salt("scan-embedding")
            .selected_text(text(&chosen))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut picked, None, text(&None));
                for file in files.iter().filter(|f| {
                    f.is_runnable() || f.kind == crate::model::CheckpointKind::WeightsOnly
                }) {
                    let choice = Some(file.name.clone());
                    ui.selectable_value(&mut picked, choice.clone(), text(&choice));
                }
            });
        combo.response.labelled_by(label.id);
        if picked != chosen {
            view.send(DatasetCommand::SetScanEmbedding(picked));
        }
    });
    if let Some(report) = &view.scan.report
        && let Some(source) = &report.embedding_source
    {
        ui.weak(format!(
            "This report also used {source}'s embedding: near duplicates by how much closer a pair is than its neighbours, outliers by kNN distance in it."
        ));
    }
}

fn settings_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let memory_id = ui.scope_id().with("scan-settings-draft");
    let mut draft: ScanSettings = ui
        .data(|d| d.get_temp(memory_id))
        .unwrap_or_else(|| view.scan.settings.clone());
    egui::CollapsingHeader::new("Scan thresholds")
        .default_open(false)
        .show(ui, |ui| {
            egui::Grid::new("scan-thresholds")
                .num_columns(2)
                .show(ui, |ui| {
                    let row = |ui: &mut egui::Ui, name: &str, widget: egui::DragValue<'_>| {
                        let label = ui.label(name);
                        ui.add(widget).labelled_by(label.id);
                        ui.end_row();
                    };
                    row(
                        ui,
                        "near duplicate: hash radius (bits)",
                        egui::DragValue::new(&mut draft.near_duplicate_max_distance).range(0..=24),
                    );
                    let label = ui.label("near duplicate: a mirrored copy counts");
                    ui.checkbox(&mut draft.near_duplicate_mirror, "")
                        .labelled_by(label.id);
                    ui.end_row();
                    row(
                        ui,
                        "model embedding: min deviations below typical",
                        egui::DragValue::new(&mut draft.embedding_min_deviations)
                            .speed(0.1)
                            .range(0.0..=100.0),
                    );
                    row(
                        ui,
                        "outlier IQR factor",
                        egui::DragValue::new(&mut draft.outlier_iqr_factor)
                            .speed(0.1)
                            .range(0.5..=10.0),
                    );
                    row(
                        ui,
                        "dark: max brightness",
                        egui::DragValue::new(&mut draft.dark_max_brightness).range(0.0..=255.0),
                    );
                    row(
                        ui,
                        "bright: min brightness",
                        egui::DragValue::new(&mut draft.bright_min_brightness).range(0.0..=255.0),
                    );
                    row(
                        ui,
                        "blurry: max detail vs median",
                        egui::DragValue::new(&mut draft.blurry_max_sharpness)
                            .speed(0.01)
                            .range(0.0..=1.0),
                    );
                    row(
                        ui,
                        "low information: max entropy (bits)",
                        egui::DragValue::new(&mut draft.low_entropy_max)
                            .speed(0.05)
                            .range(0.0..=8.0),
                    );
                    row(
                        ui,
                        "odd aspect: ratio vs median",
                        egui::DragValue::new(&mut draft.odd_aspect_max_ratio)
                            .speed(0.05)
                            .range(1.0..=20.0),
                    );
                    row(
                        ui,
                        "odd size: factor vs median",
                        egui::DragValue::new(&mut draft.odd_size_factor)
                            .speed(0.05)
                            .range(1.0..=20.0),
                    );
                });
            ui.horizontal(|ui| {
                let can_run = view.dataset.index.is_some() && view.scan.running.is_none();
                if ui
                    .add_enabled(
                        can_run,
                        egui::Button::new("Scan again with these thresholds"),
                    )
                    .clicked()
                {
                    view.send(DatasetCommand::RunScan(draft.clone()));
                }
                if ui.button("Defaults").clicked() {
                    draft = super::app_scan_settings();
                }
            });
        });
    ui.data_mut(|d| d.insert_temp(memory_id, draft));
}

fn group_ui(view: &ViewCtx, ui: &mut egui::Ui, group: &DuplicateGroup) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            let kind = if group.exact {
                "identical pixels".to_string()
            } else {
                let proposed = if group.by_embedding {
                    ", some proposed by the model's embedding"
                } else {
                    ""
                };
                format!("same shot, confidence {:.2}{proposed}", group.confidence)
            };
            ui.strong(format!(
                "Group {}: {} images, {kind}",
                group.id + 1,
                group.members.len()
            ));
            if group.labels_differ {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("{}: different labels", IssueKind::LabelConflict.name()),
                );
            }
            if group.spans_splits {
                ui.colored_label(
                    egui::Color32::from_rgb(230, 170, 60),
                    format!("{}: spans splits", IssueKind::SplitLeakage.name()),
                );
            }
        });
        ui.horizontal_wrapped(|ui| {
            for &member in &group.members {
                let Some(example) = dataset.examples.get(member) else {
                    continue;
                };
                ui.vertical(|ui| {
                    ui.set_width(MEMBER_PX);
                    let (rect, response) = ui.allocate_exact_size(
                        egui::vec2(MEMBER_PX, MEMBER_PX),
                        egui::Sense::click(),
                    );
                    let painter = ui.painter_at(rect);
                    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
                    if let ThumbState::Ready(texture) = view.thumbnail(member) {
                        paint_fitted(&painter, &texture, rect);
                    }
                    if response.double_clicked() {
                        view.send(ViewCommand::ShowView(super::CentralView::Examples));
                        view.send(DatasetCommand::OpenDetail(member));
                    }
                    response.on_hover_text(example.path.display().to_string());
                    let label_color = example
                        .classes()
                        .first()
                        .map_or(ui.visuals().weak_text_color(), |&c| class_color(c));
                    ui.colored_label(label_color, dataset.label_text(example));
                    if let Some(split) = example.split {
                        ui.label(&dataset.splits[split]);
                    }
                    decision_ui(
                        view,
                        ui,
                        member,
                        &crate::dataset::relative_path_text(&example.path),
                    );
                });
            }
        });
    });
    ui.add_space(4.0);
}

/// Keep / Exclude toggles for one member; clicking the active one clears it.
fn decision_ui(view: &ViewCtx, ui: &mut egui::Ui, example: usize, path: &str) {
    let current = view
        .review
        .and_then(|r| r.get(path))
        .map(|e| e.decision.clone());
    ui.horizontal(|ui| {
        for (decision, text) in [(Decision::Keep, "Keep"), (Decision::Exclude, "Exclude")] {
            let active = current.as_ref() == Some(&decision);
            if ui.selectable_label(active, text).clicked() {
                view.send(DatasetCommand::SetDecision(
                    example,
                    if active { None } else { Some(decision) },
                ));
            }
        }
    });
}
