//! A directed graph drawn as SVG on the server: the service map. Nodes sit in layers, callers
//! left of their callees (the longest call path from a caller that nobody calls decides a
//! node's column), ordered within a column by the mean row of their callers so that edges
//! cross less; the same input always gives the same picture. Cycles (a service called back
//! by its own callee) are broken at the edge a depth-first walk finds closing them; that
//! edge is still drawn, only the layering ignores it.
//!
//! What a node or an edge says (rates, fault rates, why it is degraded) is the caller's text;
//! this module only places and draws it, with colours from CSS classes so that dark mode
//! recolours them.

use std::fmt::Write as _;

use super::html::escape;

/// A column is as wide as its longest name needs, within these bounds.
const NODE_MIN_WIDTH: f64 = 150.0;
const NODE_MAX_WIDTH: f64 = 250.0;
/// Width of one character of a node name (13 px, semibold) and the box's inner margins.
const NAME_CHARACTER_WIDTH: f64 = 8.2;
const NODE_MARGINS: f64 = 18.0;
const NODE_HEIGHT: f64 = 56.0;
/// Room between columns for the edges and their labels.
const COLUMN_GAP: f64 = 150.0;
const ROW_PITCH: f64 = 74.0;
const PADDING: f64 = 12.0;
/// Characters of a node name that fit the widest box.
const NAME_CHARACTERS: usize = ((NODE_MAX_WIDTH - NODE_MARGINS) / NAME_CHARACTER_WIDTH) as usize;
/// Width of one character of an edge label, and the label's height, for keeping labels
/// apart (a generous average of the 11 px sans-serif the stylesheet sets).
const LABEL_CHARACTER_WIDTH: f64 = 6.4;
const LABEL_HEIGHT: f64 = 15.0;
/// Where along its edge a label may sit, in order of preference: the middle first.
const LABEL_POSITIONS: [f64; 7] = [0.5, 0.42, 0.58, 0.36, 0.64, 0.3, 0.7];

/// A rectangle a label must not overlap: left, top, right, bottom.
type Area = (f64, f64, f64, f64);

fn overlaps(first: Area, second: Area) -> bool {
    first.0 < second.2 && second.0 < first.2 && first.1 < second.3 && second.1 < first.3
}

/// The point at `t` (0 to 1) of the cubic Bézier curve through four points.
fn bezier(points: [(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let weights = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
    let mut point = (0.0, 0.0);
    for (weight, (x, y)) in weights.iter().zip(points) {
        point.0 += weight * x;
        point.1 += weight * y;
    }
    point
}

pub struct Node {
    pub name: String,
    /// Where the node links to.
    pub href: String,
    /// Up to two short lines under the name (rates, latency).
    pub lines: Vec<String>,
    /// Shown on hover: the full name, figures and reasons.
    pub title: String,
    /// A remote service that sends no telemetry of its own (a database, an external API).
    pub remote: bool,
    pub degraded: bool,
}

pub struct Edge {
    pub caller: usize,
    pub callee: usize,
    /// Written along the edge, short (`52/min · 0.0 %`).
    pub label: String,
    /// Shown on hover.
    pub title: String,
    pub degraded: bool,
}

pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The edges (by index) that close a cycle, found by a depth-first walk from each node in
/// index order; a self-call is one of them.
fn cycle_closing_edges(node_count: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut outgoing: Vec<Vec<(usize, usize)>> = vec![Vec::new(); node_count];
    for (index, (caller, callee)) in edges.iter().enumerate() {
        if *caller < node_count && *callee < node_count {
            outgoing[*caller].push((*callee, index));
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Visit {
        Unseen,
        OnPath,
        Done,
    }
    let mut visit = vec![Visit::Unseen; node_count];
    let mut closing = vec![false; edges.len()];
    for root in 0..node_count {
        if visit[root] != Visit::Unseen {
            continue;
        }
        // (node, next outgoing edge to look at): an explicit stack, so a deep chain of calls
        // cannot overflow the thread's stack.
        let mut path = vec![(root, 0usize)];
        visit[root] = Visit::OnPath;
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            let Some(&(callee, edge)) = outgoing[node].get(*next) else {
                visit[node] = Visit::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match visit[callee] {
                Visit::OnPath => closing[edge] = true,
                Visit::Unseen => {
                    visit[callee] = Visit::OnPath;
                    path.push((callee, 0));
                }
                Visit::Done => {}
            }
        }
    }
    closing
}

/// The column of each node: the length of the longest call path reaching it, ignoring the
/// edges that close cycles.
pub fn layers(node_count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let closing = cycle_closing_edges(node_count, edges);
    let mut layer = vec![0usize; node_count];
    // Without cycles a longest path has at most node_count - 1 edges, so as many rounds of
    // relaxing every edge settle it.
    for _round in 0..node_count {
        let mut changed = false;
        for (index, (caller, callee)) in edges.iter().enumerate() {
            if closing[index] || *caller >= node_count || *callee >= node_count {
                continue;
            }
            if layer[*callee] < layer[*caller] + 1 {
                layer[*callee] = layer[*caller] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

/// The row of each node within its column: first in index order, then twice sorted by the
/// mean row of its callers in earlier columns (nodes without such callers keep their row).
pub fn rows(layer: &[usize], edges: &[(usize, usize)]) -> Vec<usize> {
    let column_count = layer.iter().max().map_or(0, |last| last + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); column_count];
    for (node, column) in layer.iter().enumerate() {
        columns[*column].push(node);
    }
    let mut row = vec![0usize; layer.len()];
    let place = |columns: &Vec<Vec<usize>>, row: &mut Vec<usize>| {
        for column in columns {
            for (position, node) in column.iter().enumerate() {
                row[*node] = position;
            }
        }
    };
    place(&columns, &mut row);
    for _sweep in 0..2 {
        for column in columns.iter_mut().skip(1) {
            let mut keyed: Vec<(f64, usize)> = column
                .iter()
                .map(|node| {
                    let callers: Vec<f64> = edges
                        .iter()
                        .filter(|(caller, callee)| {
                            callee == node && *caller < layer.len() && layer[*caller] < layer[*node]
                        })
                        .map(|(caller, _)| row[*caller] as f64)
                        .collect();
                    let key = if callers.is_empty() {
                        row[*node] as f64
                    } else {
                        callers.iter().sum::<f64>() / callers.len() as f64
                    };
                    (key, *node)
                })
                .collect();
            keyed.sort_by(|left, right| left.0.total_cmp(&right.0).then(left.1.cmp(&right.1)));
            *column = keyed.into_iter().map(|(_, node)| node).collect();
            for (position, node) in column.iter().enumerate() {
                row[*node] = position;
            }
        }
    }
    row
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= NAME_CHARACTERS {
        name.to_owned()
    } else {
        let mut short: String = name.chars().take(NAME_CHARACTERS - 1).collect();
        short.push('…');
        short
    }
}

impl Graph {
    pub fn render(&self) -> String {
        let pairs: Vec<(usize, usize)> = self
            .edges
            .iter()
            .map(|edge| (edge.caller, edge.callee))
            .collect();
        let layer = layers(self.nodes.len(), &pairs);
        let row = rows(&layer, &pairs);
        let column_count = layer.iter().max().map_or(1, |last| last + 1);
        let mut per_column = vec![0usize; column_count];
        for column in &layer {
            per_column[*column] += 1;
        }
        let tallest = per_column.iter().copied().max().unwrap_or(1).max(1);
        let mut column_width = vec![NODE_MIN_WIDTH; column_count];
        for (node, column) in self.nodes.iter().zip(&layer) {
            let needed =
                shorten(&node.name).chars().count() as f64 * NAME_CHARACTER_WIDTH + NODE_MARGINS;
            column_width[*column] = column_width[*column].max(needed.min(NODE_MAX_WIDTH));
        }
        let mut column_x = Vec::with_capacity(column_count);
        let mut next_x = PADDING;
        for width in &column_width {
            column_x.push(next_x);
            next_x += width + COLUMN_GAP;
        }
        let width = next_x - COLUMN_GAP + PADDING;
        let height = 2.0 * PADDING + tallest as f64 * ROW_PITCH - (ROW_PITCH - NODE_HEIGHT);
        // Top-left corner of each node; a column shorter than the tallest is centred.
        let corner = |node: usize| -> (f64, f64) {
            let column = layer[node];
            let x = column_x[column];
            let slack = (tallest - per_column[column]) as f64 * ROW_PITCH / 2.0;
            (x, PADDING + slack + row[node] as f64 * ROW_PITCH)
        };
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"map\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" role=\"img\" aria-label=\"service map\"><defs>\
<marker id=\"arrow\" class=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerUnits=\"userSpaceOnUse\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\"/></marker>\
<marker id=\"arrow-degraded\" class=\"arrow degraded\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerUnits=\"userSpaceOnUse\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\"/></marker></defs>"
        );
        // Edges first, so that nodes cover their ends; labels last, above everything, each at
        // the first place along its edge that no node and no earlier label takes.
        let mut labels = String::new();
        let mut taken: Vec<Area> = (0..self.nodes.len())
            .map(|node| {
                let (x, y) = corner(node);
                (x, y, x + column_width[layer[node]], y + NODE_HEIGHT)
            })
            .collect();
        for edge in &self.edges {
            if edge.caller >= self.nodes.len()
                || edge.callee >= self.nodes.len()
                || edge.caller == edge.callee
            {
                continue; // a self-call has no line to draw; the caller's title counts it
            }
            let (caller_x, caller_y) = corner(edge.caller);
            let (callee_x, callee_y) = corner(edge.callee);
            let (start_x, start_y) = (
                caller_x + column_width[layer[edge.caller]],
                caller_y + NODE_HEIGHT / 2.0,
            );
            let (end_x, end_y) = (callee_x, callee_y + NODE_HEIGHT / 2.0);
            // Horizontal tangents at both ends; the curve's middle is the endpoints' middle.
            let bend = ((end_x - start_x).abs() / 2.0).max(40.0);
            let class = if edge.degraded {
                "edge degraded"
            } else {
                "edge"
            };
            let marker = if edge.degraded {
                "arrow-degraded"
            } else {
                "arrow"
            };
            let _ = write!(
                out,
                "<path class=\"{class}\" d=\"M{start_x:.1} {start_y:.1}C{:.1} {start_y:.1} {:.1} {end_y:.1} {end_x:.1} {end_y:.1}\" marker-end=\"url(#{marker})\"><title>{}</title></path>",
                start_x + bend,
                end_x - bend,
                escape(&edge.title)
            );
            let curve = [
                (start_x, start_y),
                (start_x + bend, start_y),
                (end_x - bend, end_y),
                (end_x, end_y),
            ];
            let half_width = edge.label.chars().count() as f64 * LABEL_CHARACTER_WIDTH / 2.0;
            let area_at = |(x, y): (f64, f64)| {
                (
                    x - half_width,
                    y - LABEL_HEIGHT - 2.0,
                    x + half_width,
                    y - 2.0,
                )
            };
            let (label_x, label_y) = LABEL_POSITIONS
                .iter()
                .map(|t| bezier(curve, *t))
                .find(|point| {
                    let area = area_at(*point);
                    !taken.iter().any(|other| overlaps(area, *other))
                })
                .unwrap_or_else(|| bezier(curve, 0.5));
            taken.push(area_at((label_x, label_y)));
            let _ = write!(
                labels,
                "<text class=\"edge-label{}\" x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"middle\"><title>{}</title>{}</text>",
                if edge.degraded { " degraded" } else { "" },
                label_y - 4.0,
                escape(&edge.title),
                escape(&edge.label)
            );
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let (x, y) = corner(index);
            let mut class = String::from("node");
            if node.remote {
                class.push_str(" remote");
            }
            if node.degraded {
                class.push_str(" degraded");
            }
            let _ = write!(
                out,
                "<a href=\"{}\"><g class=\"{class}\"><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{NODE_HEIGHT}\" rx=\"6\"/><text class=\"node-name\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                escape(&node.href),
                escape(&node.title),
                column_width[layer[index]],
                x + 9.0,
                y + 18.0,
                escape(&shorten(&node.name))
            );
            for (line_index, line) in node.lines.iter().take(2).enumerate() {
                let _ = write!(
                    out,
                    "<text class=\"node-stat\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    x + 9.0,
                    y + 34.0 + line_index as f64 * 14.0,
                    escape(line)
                );
            }
            out.push_str("</g></a>");
        }
        out.push_str(&labels);
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_sit_left_of_their_callees() {
        // 0 calls 1 and 2, 1 calls 2, 2 calls 3: 2 is two calls deep, 3 three.
        let edges = [(0, 1), (0, 2), (1, 2), (2, 3)];
        assert_eq!(layers(4, &edges), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_cycle_or_a_self_call_does_not_stretch_the_layers() {
        let edges = [(0, 1), (1, 0), (1, 1), (1, 2)];
        assert_eq!(layers(3, &edges), vec![0, 1, 2]);
        // Edges naming nodes that do not exist are ignored, not a panic.
        assert_eq!(layers(2, &[(0, 5), (7, 1)]), vec![0, 0]);
    }

    #[test]
    fn callees_follow_the_rows_of_their_callers() {
        // Column 0: nodes 0 and 1; node 0 calls 3 and node 1 calls 2, so 3 goes above 2.
        let edges = [(0, 3), (1, 2)];
        let layer = layers(4, &edges);
        assert_eq!(layer, vec![0, 0, 1, 1]);
        let row = rows(&layer, &edges);
        assert_eq!((row[3], row[2]), (0, 1));
    }

    #[test]
    fn a_curve_runs_from_its_first_point_to_its_last() {
        let curve = [(0.0, 0.0), (10.0, 0.0), (20.0, 10.0), (30.0, 10.0)];
        assert_eq!(bezier(curve, 0.0), (0.0, 0.0));
        assert_eq!(bezier(curve, 1.0), (30.0, 10.0));
        // Symmetric control points put the middle of the curve halfway between its ends.
        assert_eq!(bezier(curve, 0.5), (15.0, 5.0));
    }

    #[test]
    fn the_drawing_links_nodes_and_escapes_names() {
        let node = |name: &str| Node {
            name: name.into(),
            href: format!("/services/{name}"),
            lines: vec!["1/min".into()],
            title: name.into(),
            remote: false,
            degraded: false,
        };
        let graph = Graph {
            nodes: vec![
                node("<frontend>"),
                node("a-very-long-service-name-that-is-cut"),
            ],
            edges: vec![Edge {
                caller: 0,
                callee: 1,
                label: "5/min".into(),
                title: "calls".into(),
                degraded: true,
            }],
        };
        let svg = graph.render();
        assert!(svg.contains("&lt;frontend&gt;") && !svg.contains("<frontend>"));
        assert!(
            svg.contains("a-very-long-service-name-that-is-cut"),
            "{svg}"
        );
        let longer = "x".repeat(NAME_CHARACTERS + 5);
        assert!(
            shorten(&longer).ends_with('…') && shorten(&longer).chars().count() == NAME_CHARACTERS
        );
        assert_eq!(svg.matches("<a href=").count(), 2);
        assert!(svg.contains("class=\"edge degraded\""));
    }
}
