//! Label review: score the dataset with a checkpoint, or with every checkpoint, rank examples by
//! how likely their label is wrong (loss, margin, confident learning; area under the margin,
//! confidence, forgetting), and decide about each one with the keyboard. Every decision is saved
//! to the review file at once.

use super::thumbnails::{ThumbState, paint_fitted};
use super::{DatasetCommand, ReviewRanking, ViewCtx, class_color};
use crate::model::dynamics::DynamicsRank;
use crate::model::label_issues::{RankMethod, confusion_matrix};

/// Why the dynamics rankings exist, in one sentence.
const LATE_CHECKPOINT_NOTE: &str = "On its own training data a late checkpoint has memorised the labels, wrong ones too, so its p(given) looks confident; the rankings over every checkpoint see which labels were learned late, never, or forgotten.";
use crate::review::Decision;

const STRIP_PX: f32 = 56.0;
const STRIP_SIDE: usize = 6;

/// Draws the label review.
pub fn review_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        ui.label("Open a dataset to review its labels.");
        return;
    };
    let state = view.label_review;
    let files: Vec<(usize, &str)> = view
        .checkpoints
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_runnable())
        .map(|(i, f)| (i, f.name.as_str()))
        .collect();
    ui.horizontal(|ui| {
        if files.is_empty() {
            ui.label("Open a checkpoints folder to score the dataset.");
            return;
        }
        let memory_id = ui.scope_id().with("score-with");
        let mut chosen: usize = ui
            .data(|d| d.get_temp(memory_id))
            .unwrap_or(files[files.len() - 1].0);
        let chosen_name = files
            .iter()
            .find(|(i, _)| *i == chosen)
            .map_or("", |(_, n)| n);
        egui::ComboBox::from_label("checkpoint")
            .selected_text(chosen_name)
            .show_ui(ui, |ui| {
                for (i, name) in &files {
                    ui.selectable_value(&mut chosen, *i, *name);
                }
            });
        ui.data_mut(|d| d.insert_temp(memory_id, chosen));
        if ui
            .add_enabled(
                state.scoring.is_none(),
                egui::Button::new("Score the dataset"),
            )
            .clicked()
        {
            view.send(DatasetCommand::ScoreDataset(chosen));
        }
        score_with_every_checkpoint_ui(view, ui);
        for job in state.scoring.iter() {
            let (done, total) = job.progress();
            ui.spinner();
            ui.label(format!("{done}/{total}"));
        }
        for job in state.dynamics_job.iter() {
            let (done, total) = job.progress();
            ui.spinner();
            ui.label(format!("{done}/{total}"));
        }
        ui.separator();
        let mut method = state.method;
        egui::ComboBox::from_label("rank by")
            .selected_text(method_text(method))
            .show_ui(ui, |ui| {
                for m in RankMethod::ALL {
                    let m = ReviewRanking::OneCheckpoint(m);
                    ui.selectable_value(&mut method, m, method_text(m));
                }
                ui.separator();
                for m in [
                    DynamicsRank::Aum,
                    DynamicsRank::Confidence,
                    DynamicsRank::Forgetting,
                ] {
                    let m = ReviewRanking::Dynamics(m);
                    ui.selectable_value(&mut method, m, method_text(m));
                }
                ui.separator();
                let m = ReviewRanking::MapNeighbours;
                ui.selectable_value(&mut method, m, method_text(m));
            });
        if method != state.method {
            view.send(DatasetCommand::SetRankMethod(method));
        }
    });
    if matches!(state.method, ReviewRanking::Dynamics(_)) || state.dynamics.is_some() {
        ui.label(egui::RichText::new(LATE_CHECKPOINT_NOTE).weak());
    }
    if state.method == ReviewRanking::MapNeighbours && view.map.map.is_none() {
        ui.label("Make the embedding map first (Embedding map tab): this ranking is the share of each example's map neighbours that carry another label.");
        return;
    }
    let scores = state.scores.as_ref();
    if scores.is_none() && state.ranked.is_empty() {
        ui.label("Score the dataset with a checkpoint, or with every checkpoint, to rank its examples by how suspect their labels are.");
        return;
    }
    let reviewed = state
        .ranked
        .iter()
        .filter(|r| {
            view.review.is_some_and(|store| {
                store
                    .get(&crate::dataset::relative_path_text(
                        &dataset.examples[r.example].path,
                    ))
                    .is_some()
            })
        })
        .count();
    ui.horizontal(|ui| {
        ui.strong(format!("reviewed {reviewed} / {}", state.ranked.len()));
        match (state.method, scores) {
            (ReviewRanking::MapNeighbours, _) => ui.label(format!(
                "ranked by their neighbours on the embedding map of {}",
                view.map.map.as_ref().map_or("", |m| m.source.as_str())
            )),
            (_, Some(scores)) => ui.label(format!(
                "scored with {} ({} examples)",
                state.scored_with,
                scores.len()
            )),
            (_, None) => ui.label(""),
        };
        ui.separator();
        if ui.button("Export decisions...").clicked() {
            view.send(DatasetCommand::ExportReview(false));
        }
        if ui.button("Export corrected labels...").clicked() {
            view.send(DatasetCommand::ExportReview(true));
        }
    });
    ui.label(egui::RichText::new("Keys: Right/J next, Left/K previous, 1-9 and 0 relabel, F flag as wrong, X not an error, U undo").weak().small());
    ui.separator();

    if let Some(scores) = scores {
        egui::Panel::right("confusion")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| confusion_ui(view, ui, scores));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        if state.ranked.is_empty() {
            ui.label("No example flagged by this method.");
            return;
        }
        keys(view, ui, &dataset.classes);
        current_ui(view, ui);
    });
}

/// The button that runs every checkpoint over the dataset, for the dynamics rankings and the
/// data map; enabled with two runnable checkpoints or more and no such run going on.
pub(super) fn score_with_every_checkpoint_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let runnable = view
        .checkpoints
        .files
        .iter()
        .filter(|f| f.is_runnable())
        .count();
    let enabled = view.label_review.dynamics_job.is_none() && runnable > 1;
    let splits = view.dataset().map_or(&[][..], |d| d.splits.as_slice());
    let split_id = ui.scope_id().with("dynamics-split");
    let mut split: Option<String> = ui
        .data(|d| d.get_temp(split_id))
        .unwrap_or_else(|| view.label_review.dynamics_split.clone());
    ui.horizontal(|ui| {
        if !splits.is_empty() {
            egui::ComboBox::from_label("split")
                .selected_text(split.as_deref().unwrap_or("every split"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut split, None, "every split");
                    for name in splits {
                        ui.selectable_value(&mut split, Some(name.clone()), name);
                    }
                });
        }
        if ui
            .add_enabled(enabled, egui::Button::new("Score with every checkpoint"))
            .on_hover_text(LATE_CHECKPOINT_NOTE)
            .clicked()
        {
            view.send(DatasetCommand::ScoreDynamics(split.clone()));
        }
    });
    ui.data_mut(|d| d.insert_temp(split_id, split));
}

fn method_text(method: ReviewRanking) -> &'static str {
    match method {
        ReviewRanking::OneCheckpoint(RankMethod::Loss) => "loss (self-confidence)",
        ReviewRanking::OneCheckpoint(RankMethod::Margin) => "normalized margin",
        ReviewRanking::OneCheckpoint(RankMethod::ConfidentLearning) => "confident learning",
        ReviewRanking::Dynamics(DynamicsRank::Aum) => "area under the margin (every checkpoint)",
        ReviewRanking::Dynamics(DynamicsRank::Confidence) => "hard to learn (every checkpoint)",
        ReviewRanking::Dynamics(DynamicsRank::Forgetting) => "forgetting events (every checkpoint)",
        ReviewRanking::MapNeighbours => "neighbours with another label (embedding map)",
    }
}

/// p(given) of the example at each checkpoint, as a small line.
fn p_given_line_ui(view: &ViewCtx, ui: &mut egui::Ui, example: usize) {
    let Some(dynamics) = &view.label_review.dynamics else {
        return;
    };
    let Ok(i) = dynamics
        .examples
        .binary_search_by_key(&example, |d| d.example)
    else {
        return;
    };
    let d = &dynamics.examples[i];
    let points: egui_plot::PlotPoints = d
        .p_given
        .iter()
        .enumerate()
        .map(|(t, &p)| [t as f64, p as f64])
        .collect();
    ui.label(format!(
        "p(given) over {} checkpoints: AUM {:.2}, confidence {:.2}, variability {:.2}, {} forgotten, {}",
        d.p_given.len(),
        d.aum,
        d.confidence,
        d.variability,
        d.forgetting,
        match d.learned_from {
            Some(k) => format!("learned from {}", dynamics.checkpoints[k]),
            None => "not learned by the last".into(),
        }
    ));
    egui_plot::Plot::new(("p-given", example))
        .height(70.0)
        .width(260.0)
        .include_y(0.0)
        .include_y(1.0)
        .show_axes([false, true])
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(egui_plot::Line::new("p(given)", points))
        });
}

/// The class a digit key relabels to: the class named by that digit if there is one, else
/// 1..9 for the first nine classes and 0 for the tenth.
fn class_for_digit(classes: &[String], digit: usize) -> Option<usize> {
    classes
        .iter()
        .position(|c| *c == digit.to_string())
        .or_else(|| {
            let index = if digit == 0 { 9 } else { digit - 1 };
            (index < classes.len()).then_some(index)
        })
}

fn keys(view: &ViewCtx, ui: &egui::Ui, classes: &[String]) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    use egui::Key;
    let digits = [
        Key::Num0,
        Key::Num1,
        Key::Num2,
        Key::Num3,
        Key::Num4,
        Key::Num5,
        Key::Num6,
        Key::Num7,
        Key::Num8,
        Key::Num9,
    ];
    ui.input(|i| {
        if i.key_pressed(Key::ArrowRight) || i.key_pressed(Key::J) {
            view.send(DatasetCommand::ReviewStep(1));
        }
        if i.key_pressed(Key::ArrowLeft) || i.key_pressed(Key::K) {
            view.send(DatasetCommand::ReviewStep(-1));
        }
        if i.key_pressed(Key::F) {
            view.send(DatasetCommand::ReviewDecide(Decision::FlagWrong, None));
        }
        if i.key_pressed(Key::X) {
            view.send(DatasetCommand::ReviewDecide(Decision::NotAnError, None));
        }
        if i.key_pressed(Key::U) {
            view.send(DatasetCommand::ReviewUndo);
        }
        for (digit, key) in digits.iter().enumerate() {
            if i.key_pressed(*key)
                && let Some(class) = class_for_digit(classes, digit)
            {
                view.send(DatasetCommand::ReviewDecide(Decision::Relabel, Some(class)));
            }
        }
    });
}

fn current_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let state = view.label_review;
    let position = state.position.min(state.ranked.len() - 1);
    let ranked = &state.ranked[position];
    let example = &dataset.examples[ranked.example];
    // The ranking's checkpoint probabilities, when there are any (a map ranking has none).
    let scores = state.scores.as_deref();
    let score_position = scores.and_then(|s| s.examples.iter().position(|&e| e == ranked.example));
    let probability = |class: usize| {
        scores.zip(score_position).map_or(f32::NAN, |(s, i)| {
            s.probs[i].get(class).copied().unwrap_or(0.0)
        })
    };

    strip_ui(view, ui, position);
    let side = (ui.available_height() - 20.0)
        .min(ui.available_width() - 320.0)
        .clamp(128.0, 480.0);
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
        ui.painter()
            .rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        if let ThumbState::Ready(texture) = view.thumbnail(ranked.example) {
            paint_fitted(ui.painter(), &texture, rect);
        }
        ui.vertical(|ui| {
            ui.heading(format!("#{} of {}", ranked.rank, state.ranked.len()));
            ui.label(example.path.display().to_string());
            ui.colored_label(
                class_color(ranked.given),
                format!(
                    "given: {} (p {:.3})",
                    dataset.classes[ranked.given],
                    probability(ranked.given)
                ),
            );
            ui.colored_label(
                class_color(ranked.predicted),
                format!(
                    "predicted: {} (p {:.3})",
                    dataset.classes[ranked.predicted],
                    probability(ranked.predicted)
                ),
            );
            let entropy = scores
                .zip(score_position)
                .map_or(f64::NAN, |(s, i)| s.entropy(i));
            let margin = scores
                .zip(score_position)
                .map_or(f64::NAN, |(s, i)| s.margin(i));
            ui.label(format!(
                "score {:.4}  (margin {margin:.3}, entropy {entropy:.3} nats)",
                ranked.score
            ));
            p_given_line_ui(view, ui, ranked.example);
            let path = crate::dataset::relative_path_text(&example.path);
            match view.review.and_then(|r| r.get(&path)) {
                Some(entry) => {
                    let new_label = entry
                        .new_label
                        .as_deref()
                        .map(|l| format!(" -> {l}"))
                        .unwrap_or_default();
                    ui.strong(format!("decision: {}{new_label}", entry.decision.name()));
                }
                None => {
                    ui.label("not reviewed yet");
                }
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button("Flag wrong (F)").clicked() {
                    view.send(DatasetCommand::ReviewDecide(Decision::FlagWrong, None));
                }
                if ui.button("Not an error (X)").clicked() {
                    view.send(DatasetCommand::ReviewDecide(Decision::NotAnError, None));
                }
                if ui.button("Undo (U)").clicked() {
                    view.send(DatasetCommand::ReviewUndo);
                }
            });
            relabel_by_name_ui(view, ui, &dataset.classes);
        });
    });
}

/// A text field: type a class name and press Enter to relabel.
fn relabel_by_name_ui(view: &ViewCtx, ui: &mut egui::Ui, classes: &[String]) {
    let memory_id = ui.scope_id().with("relabel-typed");
    let mut typed: String = ui.data(|d| d.get_temp(memory_id)).unwrap_or_default();
    ui.horizontal(|ui| {
        let label = ui.label("relabel to");
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut typed)
                    .hint_text("class name, Enter")
                    .desired_width(140.0),
            )
            .labelled_by(label.id);
        let matched = classes
            .iter()
            .position(|c| c.eq_ignore_ascii_case(typed.trim()));
        if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            match matched {
                Some(class) => {
                    view.send(DatasetCommand::ReviewDecide(Decision::Relabel, Some(class)));
                    typed.clear();
                }
                None => {
                    response.request_focus();
                }
            }
        }
        if !typed.trim().is_empty() && matched.is_none() {
            ui.colored_label(ui.visuals().error_fg_color, "no such class");
        }
    });
    ui.data_mut(|d| d.insert_temp(memory_id, typed));
}

/// The neighbouring ranked examples, as a clickable strip.
fn strip_ui(view: &ViewCtx, ui: &mut egui::Ui, position: usize) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let ranked = &view.label_review.ranked;
    let start = position.saturating_sub(STRIP_SIDE);
    let end = (position + STRIP_SIDE + 1).min(ranked.len());
    ui.horizontal(|ui| {
        for (offset, item) in ranked[start..end].iter().enumerate() {
            let at = start + offset;
            let (rect, response) =
                ui.allocate_exact_size(egui::vec2(STRIP_PX, STRIP_PX), egui::Sense::click());
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
            let entry = &dataset.examples[item.example];
            if let ThumbState::Ready(texture) = view.thumbnail(item.example) {
                paint_fitted(&painter, &texture, rect.shrink(2.0));
            }
            let decided = view.review.is_some_and(|r| {
                r.get(&crate::dataset::relative_path_text(&entry.path))
                    .is_some()
            });
            if decided {
                painter.circle_filled(
                    rect.right_top() + egui::vec2(-6.0, 6.0),
                    4.0,
                    egui::Color32::from_rgb(110, 200, 120),
                );
            }
            if at == position {
                painter.rect_stroke(
                    rect,
                    2.0,
                    egui::Stroke::new(2.0, ui.visuals().selection.stroke.color),
                    egui::StrokeKind::Inside,
                );
            }
            if response.clicked() {
                view.send(DatasetCommand::ReviewGoTo(at));
            }
        }
    });
}

/// Given label against predicted label; clicking a cell shows its examples in the grid.
fn confusion_ui(view: &ViewCtx, ui: &mut egui::Ui, scores: &crate::model::label_issues::Scores) {
    ui.strong("Confusion: given (rows) x predicted (columns)");
    let matrix = confusion_matrix(scores);
    confusion_grid_ui(
        view,
        ui,
        "confusion-matrix",
        &matrix,
        &|given, predicted| {
            (0..scores.len())
                .filter(|&i| scores.labels[i] == given && scores.predicted(i) == predicted)
                .map(|i| scores.examples[i])
                .collect()
        },
    );
}

/// A `[given][predicted]` count matrix as buttons shaded by count; clicking one shows
/// `examples_of(given, predicted)` in the grid.
pub(super) fn confusion_grid_ui(
    view: &ViewCtx,
    ui: &mut egui::Ui,
    id: &str,
    matrix: &[Vec<usize>],
    examples_of: &dyn Fn(usize, usize) -> Vec<usize>,
) {
    let Some(dataset) = view.dataset() else {
        return;
    };
    let max = matrix.iter().flatten().copied().max().unwrap_or(1).max(1);
    egui::ScrollArea::both().id_salt(id).show(ui, |ui| {
        egui::Grid::new(id).spacing([2.0, 2.0]).show(ui, |ui| {
            ui.label("");
            for name in &dataset.classes {
                ui.label(egui::RichText::new(name).small());
            }
            ui.end_row();
            for (given, row) in matrix.iter().enumerate() {
                ui.label(egui::RichText::new(&dataset.classes[given]).small());
                for (predicted, &count) in row.iter().enumerate() {
                    let strength = count as f32 / max as f32;
                    let fill = if given == predicted {
                        egui::Color32::from_rgb(40, (60.0 + 140.0 * strength) as u8, 60)
                    } else {
                        egui::Color32::from_rgb((60.0 + 180.0 * strength.sqrt()) as u8, 50, 50)
                    };
                    let button = egui::Button::new(egui::RichText::new(count.to_string()).small())
                        .fill(fill)
                        .min_size(egui::vec2(28.0, 18.0));
                    if ui
                        .add(button)
                        .on_hover_text(format!(
                            "given {}, predicted {}",
                            dataset.classes[given], dataset.classes[predicted]
                        ))
                        .clicked()
                    {
                        view.send(DatasetCommand::ShowOnlyInGrid(examples_of(
                            given, predicted,
                        )));
                    }
                }
                ui.end_row();
            }
        });
    });
}
