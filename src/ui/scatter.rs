//! The scatter of many examples shared by the data map and the embedding map: coloured series,
//! a drag that selects with a box or a lasso (sent to the grid) or pans, scroll to zoom, and the
//! example under the pointer.

use egui_plot::{Plot, PlotBounds, PlotPoint, PlotPoints, PlotResponse, PlotUi, Points};

use super::{DatasetCommand, ViewCtx};

/// What a drag on a scatter does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DragMode {
    #[default]
    Box,
    Lasso,
    Pan,
}

/// One legend entry: its name, colour and points.
pub struct Series {
    pub name: String,
    pub colour: egui::Color32,
    pub points: Vec<[f64; 2]>,
}

/// What a scatter shows. `positions[i]` is where example `examples[i]` is drawn; hover and
/// selection look at these, whatever the series.
pub struct Scatter<'a> {
    pub id: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Points the view always includes (e.g. the axes' natural range).
    pub include: &'a [[f64; 2]],
    pub series: Vec<Series>,
    pub positions: &'a [[f64; 2]],
    pub examples: &'a [usize],
    pub point_radius: f32,
    pub height: f32,
    /// Keep the same scale on both axes (a map), or fit each axis (a chart).
    pub data_aspect: Option<f32>,
}

/// The drag mode picker ("Drag: Box Lasso Pan"), remembered per scatter `id`.
pub fn drag_mode_ui(ui: &mut egui::Ui, id: &str) -> DragMode {
    let mode_id = ui.scope_id().with(id).with("mode");
    let mut mode: DragMode = ui.data(|d| d.get_temp(mode_id)).unwrap_or_default();
    ui.label("Drag:");
    ui.selectable_value(&mut mode, DragMode::Box, "Box");
    ui.selectable_value(&mut mode, DragMode::Lasso, "Lasso");
    ui.selectable_value(&mut mode, DragMode::Pan, "Pan");
    ui.data_mut(|d| d.insert_temp(mode_id, mode));
    mode
}

/// Draws `scatter`, then `decorate` (texts, markers) on top. A box or lasso dragged in `mode`
/// sends the examples inside it to the grid. Returns the position (in `scatter.positions`) of
/// the point under the pointer, if any.
pub fn scatter_ui(
    view: &ViewCtx,
    ui: &mut egui::Ui,
    scatter: Scatter<'_>,
    mode: DragMode,
    decorate: impl FnOnce(&mut PlotUi),
) -> Option<usize> {
    // The dragged path in plot coordinates: a box uses its ends, a lasso all of it.
    let drag_id = ui.scope_id().with(scatter.id).with("drag");
    let path: Vec<[f64; 2]> = ui.data(|d| d.get_temp(drag_id)).unwrap_or_default();
    let mut hovered: Option<usize> = None;
    let mut plot = Plot::new(scatter.id)
        .height(scatter.height)
        .x_axis_label(scatter.x_label)
        .y_axis_label(scatter.y_label)
        .allow_drag(mode == DragMode::Pan)
        .allow_boxed_zoom(false)
        .legend(egui_plot::Legend::default());
    for &[x, y] in scatter.include {
        plot = plot.include_x(x).include_y(y);
    }
    if let Some(aspect) = scatter.data_aspect {
        plot = plot.data_aspect(aspect);
    }
    let positions = scatter.positions;
    let PlotResponse {
        response,
        transform,
        ..
    } = plot.show(ui, |plot| {
        for series in scatter.series {
            plot.points(
                Points::new(series.name, PlotPoints::new(series.points))
                    .radius(scatter.point_radius)
                    .color(series.colour),
            );
        }
        decorate(plot);
        if let Some(at) = plot.pointer_coordinate() {
            hovered = nearest(positions, at, plot.plot_bounds());
        }
    });
    let pointer = response
        .interact_pointer_pos()
        .map(|p| transform.value_from_position(p));
    // The selection so far, painted over the plot rather than added to it: a plot item would
    // widen the automatic bounds as the lasso nears the edge, and move the map under the pointer.
    if let (false, Some(now)) = (path.is_empty(), pointer) {
        let on_screen: Vec<egui::Pos2> = outline(mode, &path, [now.x, now.y])
            .iter()
            .map(|&[x, y]| transform.position_from_point(&PlotPoint::new(x, y)))
            .collect();
        ui.painter_at(response.rect).add(egui::Shape::closed_line(
            on_screen,
            egui::Stroke::new(1.5, egui::Color32::from_white_alpha(180)),
        ));
    }
    if mode == DragMode::Pan {
        ui.data_mut(|d| d.remove::<Vec<[f64; 2]>>(drag_id));
    } else if response.drag_started() {
        if let Some(p) = pointer {
            ui.data_mut(|d| d.insert_temp(drag_id, vec![[p.x, p.y]]));
        }
    } else if response.drag_stopped() {
        if let (Some(&start), Some(end)) = (path.first(), pointer) {
            let inside_at: Vec<usize> = match mode {
                DragMode::Lasso => in_polygon(positions, &outline(mode, &path, [end.x, end.y])),
                _ => in_box(positions, start, [end.x, end.y]),
            };
            let selected: Vec<usize> = inside_at.iter().map(|&i| scatter.examples[i]).collect();
            if !selected.is_empty() {
                view.send(DatasetCommand::ShowOnlyInGrid(selected));
            }
        }
        ui.data_mut(|d| d.remove::<Vec<[f64; 2]>>(drag_id));
    } else if response.dragged()
        && mode == DragMode::Lasso
        && let Some(p) = pointer
        && !path.is_empty()
    {
        let mut path = path;
        path.push([p.x, p.y]);
        ui.data_mut(|d| d.insert_temp(drag_id, path));
    }
    hovered
}

/// The selection dragged so far, ending at `end`: the lasso's path, or the box's corners.
fn outline(mode: DragMode, path: &[[f64; 2]], end: [f64; 2]) -> Vec<[f64; 2]> {
    match mode {
        DragMode::Lasso => path.iter().copied().chain([end]).collect(),
        _ => box_corners(path[0], end),
    }
}

fn box_corners(a: [f64; 2], b: [f64; 2]) -> Vec<[f64; 2]> {
    vec![a, [b[0], a[1]], b, [a[0], b[1]]]
}

/// Positions (indices into `positions`) inside the box from `a` to `b`.
pub fn in_box(positions: &[[f64; 2]], a: [f64; 2], b: [f64; 2]) -> Vec<usize> {
    let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
    let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
    (0..positions.len())
        .filter(|&i| {
            let [x, y] = positions[i];
            (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
        })
        .collect()
}

/// Positions (indices into `positions`) inside the closed `outline` (even-odd rule).
pub fn in_polygon(positions: &[[f64; 2]], outline: &[[f64; 2]]) -> Vec<usize> {
    if outline.len() < 3 {
        return Vec::new();
    }
    (0..positions.len())
        .filter(|&i| inside(outline, positions[i][0], positions[i][1]))
        .collect()
}

/// Whether `(x, y)` lies inside the closed polygon `outline` (ray casting).
fn inside(outline: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = outline.len() - 1;
    for (i, &[xi, yi]) in outline.iter().enumerate() {
        let [xj, yj] = outline[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// The position nearest `at` on screen scale, within 2% of the visible range.
fn nearest(positions: &[[f64; 2]], at: PlotPoint, bounds: PlotBounds) -> Option<usize> {
    let (w, h) = (bounds.width().max(1e-9), bounds.height().max(1e-9));
    positions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let dx = (p[0] - at.x) / w;
            let dy = (p[1] - at.y) / h;
            (i, dx * dx + dy * dy)
        })
        .filter(|&(_, dist)| dist < 0.02 * 0.02)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_inside_a_concave_lasso_are_told_from_those_in_its_notch() {
        // A "C" shape open to the right: its notch is outside.
        let c = [
            [0.0, 0.0],
            [3.0, 0.0],
            [3.0, 1.0],
            [1.0, 1.0],
            [1.0, 2.0],
            [3.0, 2.0],
            [3.0, 3.0],
            [0.0, 3.0],
        ];
        assert!(inside(&c, 0.5, 1.5));
        assert!(inside(&c, 2.0, 0.5));
        assert!(inside(&c, 2.0, 2.5));
        assert!(!inside(&c, 2.0, 1.5), "the notch");
        assert!(!inside(&c, 4.0, 0.5));
        assert!(!inside(&c, -1.0, 1.5));
        let points = [[0.5, 1.5], [2.0, 1.5], [2.0, 2.5]];
        assert_eq!(in_polygon(&points, &c), vec![0, 2]);
        assert_eq!(in_box(&points, [2.5, 3.0], [1.5, 1.0]), vec![1, 2]);
    }
}
