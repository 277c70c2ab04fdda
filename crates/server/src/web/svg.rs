//! Charts drawn as SVG on the server: time-series line charts with axes, units, threshold
//! lines, event markers (deployments) and a hover column per step (its `<title>` lists the
//! values, so hovering works without a script), and sparklines for tables. Colours come from
//! CSS classes, so that dark mode recolours them, and the stylesheet enlarges the axis text
//! on a phone, where the drawing shrinks; the scaling maths is plain functions tested below.

use std::fmt::Write as _;

use super::html::escape;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
/// Room for the y labels, also at the larger size a phone gets.
const LEFT: f64 = 80.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 26.0;
/// The height of a row of marker labels.
const LABEL_ROW: f64 = 17.0;

/// One line of a chart: a value (or a gap) per time of the chart.
pub struct Series {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

/// A horizontal line at a value worth comparing with (an objective, an alert threshold).
pub struct Threshold {
    pub value: f64,
    pub label: String,
}

/// A moment worth seeing on the time axis (a deployment), drawn as a vertical line.
pub struct Marker {
    pub time_unix_nano: u64,
    pub label: String,
}

#[derive(Default)]
pub struct LineChart {
    pub title: String,
    /// `ms`, `%` (values are fractions), `/min`, `x` (burn rates) or empty.
    pub unit: &'static str,
    /// Start of each step, unix nanoseconds, ascending.
    pub times: Vec<u64>,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    /// The lowest value the y axis shows: 0 unless the data needs a tighter view (attainment);
    /// lower when the data goes below it (an overspent budget).
    pub y_min: f64,
    /// The highest value the y axis shows even when the data goes higher (a burn rate of 700x
    /// would flatten the thresholds that matter); higher values are drawn at the top edge,
    /// the caption says so, and the hover columns keep the real values.
    pub y_cap: Option<f64>,
    pub markers: Vec<Marker>,
    /// Whether dragging across the chart zooms the page into that time (the page then takes
    /// `from` and `to`, unix seconds).
    pub zoomable: bool,
}

/// A value as the chart's unit writes it.
pub fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "%" => format!("{:.2} %", value * 100.0),
        "ms" if value >= 1000.0 => format!("{:.2} s", value / 1000.0),
        "ms" if value >= 10.0 => format!("{value:.0} ms"),
        "ms" => format!("{value:.2} ms"),
        "x" => format!("{value:.2}x"),
        "/min" if value.abs() < 1.0 && value != 0.0 => format!("{value:.2}/min"),
        "/min" if value.abs() < 10.0 => format!("{value:.1}/min"),
        "/min" => format!("{value:.0}/min"),
        _ => {
            let number = if value.abs() >= 100.0 {
                format!("{value:.0}")
            } else {
                format!("{value:.2}")
            };
            with_unit(number, unit)
        }
    }
}

/// A number with a unit the formats above do not know (`MiB`), or bare.
fn with_unit(number: String, unit: &str) -> String {
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

/// A tick label: as few decimals as the step between ticks needs.
pub fn format_tick(value: f64, unit: &str, step: f64) -> String {
    let decimals = |step: f64| -> usize {
        if step >= 1.0 - 1e-9 {
            0
        } else {
            (-(step.log10()) - 1e-9).ceil().clamp(0.0, 4.0) as usize
        }
    };
    match unit {
        "%" => format!("{:.*} %", decimals(step * 100.0), value * 100.0),
        "x" => format!("{:.*}x", decimals(step), value),
        "ms" if value.abs() >= 1000.0 => {
            format!("{:.*} s", decimals(step / 1000.0), value / 1000.0)
        }
        "ms" => format!("{:.*} ms", decimals(step), value),
        "/min" => format!("{:.*}/min", decimals(step), value),
        _ => with_unit(format!("{:.*}", decimals(step), value), unit),
    }
}

/// A step of 1, 2 or 5 times a power of ten giving at most about `count` ticks up to `max`,
/// and the axis top (a multiple of the step at or above `max`).
pub fn nice_ticks(min: f64, max: f64, count: usize) -> (f64, f64) {
    let span = (max - min).max(f64::MIN_POSITIVE);
    let raw = span / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude);
    // A hair below whole steps counts as whole: 0.01 / 0.005 is 2.0000000000000004.
    let top = min + (span / step - 1e-9).ceil() * step;
    (step, top)
}

/// A round time step (in seconds) that puts at most `count` ticks on `span_seconds`.
pub fn time_step(span_seconds: u64, count: u64) -> u64 {
    const STEPS: [u64; 12] = [
        60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800,
    ];
    STEPS
        .into_iter()
        .find(|step| span_seconds / step <= count)
        .unwrap_or(604_800)
}

fn clock_label(unix_seconds: u64) -> String {
    let second_of_day = unix_seconds % 86_400;
    format!("{:02}:{:02}", second_of_day / 3600, second_of_day / 60 % 60)
}

/// Where a small label lies, roughly, to keep labels from overwriting each other: sized for the
/// 16 px the stylesheet gives them on a phone (where the drawing shrinks to about half), so
/// that they stay apart there too.
#[derive(Clone, Copy)]
struct LabelBox {
    anchor_x: f64,
    anchor: &'static str,
    left: f64,
    right: f64,
    /// The baseline of the text.
    y: f64,
}

impl LabelBox {
    fn new(anchor_x: f64, y: f64, anchor: &'static str, text: &str) -> LabelBox {
        let width = text.chars().count() as f64 * 9.0;
        let (left, right) = match anchor {
            "end" => (anchor_x - width, anchor_x),
            _ => (anchor_x, anchor_x + width),
        };
        LabelBox {
            anchor_x,
            anchor,
            left,
            right,
            y,
        }
    }

    fn overlaps(&self, other: &LabelBox) -> bool {
        self.left < other.right && other.left < self.right && (self.y - other.y).abs() < LABEL_ROW
    }
}

impl LineChart {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let values = self
            .series
            .iter()
            .flat_map(|series| series.values.iter().flatten().copied())
            .chain(self.thresholds.iter().map(|threshold| threshold.value))
            .filter(|value| value.is_finite());
        let (data_min, data_max) = values
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
                (low.min(value), high.max(value))
            });
        let capped = self
            .y_cap
            .filter(|cap| data_max > *cap && *cap > self.y_min);
        let _ = write!(
            out,
            "<figure class=\"chart\"><figcaption>{}{}</figcaption>",
            escape(&self.title),
            match capped {
                Some(cap) => format!(
                    " <span class=\"muted\">(axis cut at {}; the highest is {}, hover for values)</span>",
                    escape(&format_value(cap, self.unit)),
                    escape(&format_value(data_max, self.unit))
                ),
                None => String::new(),
            }
        );
        if self.times.len() < 2 || !data_max.is_finite() {
            out.push_str("<p class=\"empty\">no data in this range</p></figure>");
            return out;
        }
        let high = capped.unwrap_or(data_max);
        let wanted_low = self.y_min.min(data_min).min(high);
        let (step, _) = nice_ticks(wanted_low, high.max(wanted_low + f64::EPSILON), 4);
        // Ticks on whole steps: an axis from -1123 % starts at -1200 %, not at -1123 %.
        let low = if (wanted_low / step - (wanted_low / step).round()).abs() < 1e-6 {
            wanted_low
        } else {
            (wanted_low / step).floor() * step
        };
        let top = low + ((high - low) / step - 1e-9).ceil().max(1.0) * step;
        let plot_width = WIDTH - LEFT - RIGHT;
        let plot_height = HEIGHT - TOP - BOTTOM;
        let first = self.times[0];
        let step_nanos = self.times[1] - self.times[0];
        let last = self.times[self.times.len() - 1] + step_nanos;
        let x_of = |time: u64| LEFT + (time - first) as f64 / (last - first) as f64 * plot_width;
        let y_of = |value: f64| TOP + (top - value.clamp(low, top)) / (top - low) * plot_height;
        let zoom = if self.zoomable {
            format!(
                " data-zoom=\"{LEFT} {} {} {}\"",
                WIDTH - RIGHT,
                first / 1_000_000_000,
                last / 1_000_000_000
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\"{zoom}>",
            escape(&self.title)
        );
        // Horizontal grid and y labels.
        let mut tick = low;
        while tick <= top + step / 2.0 {
            let y = y_of(tick);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                escape(&format_tick(tick, self.unit, step))
            );
            tick += step;
        }
        // Time ticks on round times; the script rewrites the labels into the reader's zone.
        let span_seconds = (last - first) / 1_000_000_000;
        let tick_seconds = time_step(span_seconds, 6);
        let first_seconds = first / 1_000_000_000;
        let mut tick_time = first_seconds.div_ceil(tick_seconds) * tick_seconds;
        while tick_time * 1_000_000_000 < last {
            let x = x_of(tick_time * 1_000_000_000);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\"/><text class=\"axis clock\" data-unix=\"{tick_time}\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                HEIGHT - BOTTOM,
                HEIGHT - 8.0,
                clock_label(tick_time)
            );
            tick_time += tick_seconds;
        }
        // Marker labels first: each on the top row free of the labels placed before it (a
        // breach and its page a minute apart stack rather than overwrite each other).
        let mut boxes: Vec<LabelBox> = Vec::new();
        let mut marker_svg = String::new();
        for marker in &self.markers {
            if marker.time_unix_nano < first || marker.time_unix_nano >= last {
                continue;
            }
            let x = x_of(marker.time_unix_nano);
            // Near the right edge the label runs leftwards, so that it stays in the drawing.
            let (label_x, anchor) = if x > WIDTH * 0.7 {
                (x - 3.0, "end")
            } else {
                (x + 3.0, "start")
            };
            let label = (0..6)
                .map(|row| {
                    LabelBox::new(
                        label_x,
                        TOP - 3.0 + row as f64 * 12.0,
                        anchor,
                        &marker.label,
                    )
                })
                .find(|candidate| !boxes.iter().any(|placed| placed.overlaps(candidate)))
                .unwrap_or_else(|| LabelBox::new(label_x, TOP - 3.0, anchor, &marker.label));
            let _ = write!(
                marker_svg,
                "<g class=\"marker\"><title>{}</title><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\"/><text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></g>",
                escape(&format!(
                    "{} {}",
                    sloscope_investigate::markdown::format_time(marker.time_unix_nano),
                    marker.label
                )),
                HEIGHT - BOTTOM,
                label.y,
                escape(&marker.label)
            );
            boxes.push(label);
        }
        // Threshold labels sit at the right end of their line, or at the left end when a
        // marker's or another threshold's label is there already.
        for threshold in &self.thresholds {
            let y = y_of(threshold.value);
            let right = LabelBox::new(WIDTH - RIGHT - 2.0, y - 3.0, "end", &threshold.label);
            let left = LabelBox::new(LEFT + 4.0, y - 3.0, "start", &threshold.label);
            let label = [right, left]
                .into_iter()
                .find(|candidate| !boxes.iter().any(|placed| placed.overlaps(candidate)))
                .unwrap_or(right);
            let _ = write!(
                out,
                "<line class=\"threshold\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"threshold-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
                WIDTH - RIGHT,
                label.anchor_x,
                label.y,
                label.anchor,
                escape(&threshold.label)
            );
            boxes.push(label);
        }
        out.push_str(&marker_svg);
        let half_step = step_nanos / 2;
        for (index, series) in self.series.iter().enumerate() {
            let mut path = String::new();
            let mut pen_down = false;
            for (time, value) in self.times.iter().zip(&series.values) {
                match value.filter(|value| value.is_finite()) {
                    Some(value) => {
                        let command = if pen_down { 'L' } else { 'M' };
                        let _ = write!(
                            path,
                            "{command}{:.1} {:.1}",
                            x_of(time + half_step),
                            y_of(value)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let _ = write!(out, "<path class=\"line s{}\" d=\"{path}\"/>", index % 6);
        }
        // One hover column per step, listing every series' value at that step.
        let column_width = plot_width / self.times.len() as f64;
        for (index, time) in self.times.iter().enumerate() {
            let mut title = sloscope_investigate::markdown::format_time(*time);
            for series in &self.series {
                let value = series.values.get(index).copied().flatten();
                let _ = write!(
                    title,
                    "\n{}: {}",
                    series.label,
                    value
                        .map(|value| format_value(value, self.unit))
                        .unwrap_or_else(|| "no data".to_owned())
                );
            }
            let _ = write!(
                out,
                "<rect class=\"hover\" data-unix=\"{}\" x=\"{:.1}\" y=\"{TOP}\" width=\"{column_width:.2}\" height=\"{plot_height}\"><title>{}</title></rect>",
                time / 1_000_000_000,
                x_of(*time),
                escape(&title)
            );
        }
        out.push_str("</svg><div class=\"legend\">");
        for (index, series) in self.series.iter().enumerate() {
            let _ = write!(
                out,
                "<span><i class=\"swatch s{}\"></i>{}</span>",
                index % 6,
                escape(&series.label)
            );
        }
        out.push_str("</div></figure>");
        out
    }
}

/// Two bars on one scale, the baseline's over the breach's, each with its value written
/// beside it: the before and after of one piece of evidence. Nothing when either value is
/// unknown or negative (a bar cannot show it); the caller then writes the numbers alone.
pub fn before_after(before: Option<f64>, during: Option<f64>, texts: [&str; 2]) -> Option<String> {
    let (before, during) = (before?, during?);
    paired_bars([before, during], texts, before.max(during))
}

/// [`before_after`] on a scale shared with other pairs: `largest` is the full bar.
pub fn paired_bars(values: [f64; 2], texts: [&str; 2], largest: f64) -> Option<String> {
    const BAR_WIDTH: f64 = 110.0;
    let [before, during] = values;
    if !(before.is_finite() && during.is_finite() && before >= 0.0 && during >= 0.0) {
        return None;
    }
    let largest = largest.max(before).max(during).max(f64::MIN_POSITIVE);
    let mut out = format!(
        "<svg class=\"before-after\" viewBox=\"0 0 220 30\" width=\"220\" height=\"30\" role=\"img\" aria-label=\"before {} during {}\">",
        escape(texts[0]),
        escape(texts[1])
    );
    for (row, (value, text, class)) in [(before, texts[0], "before"), (during, texts[1], "during")]
        .into_iter()
        .enumerate()
    {
        let y = 2.0 + row as f64 * 14.0;
        // A zero still shows a sliver, so that "none before" reads as a bar, not a gap.
        let width = (value / largest * BAR_WIDTH).max(1.5);
        let _ = write!(
            out,
            "<rect class=\"{class}\" x=\"0\" y=\"{y}\" width=\"{width:.1}\" height=\"11\" rx=\"1.5\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            BAR_WIDTH + 6.0,
            y + 9.5,
            escape(text)
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// A small line without axes for a table cell; `title` is shown on hover.
pub fn sparkline(values: &[Option<f64>], title: &str) -> String {
    const SPARK_WIDTH: f64 = 120.0;
    const SPARK_HEIGHT: f64 = 24.0;
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.len() < 2 {
        return "<span class=\"empty\">–</span>".to_owned();
    }
    let low = known.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
    let high = known
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .max(1e-9);
    let span = (high - low).max(f64::MIN_POSITIVE);
    let step = SPARK_WIDTH / (values.len() - 1).max(1) as f64;
    let mut points = String::new();
    for (index, value) in values.iter().enumerate() {
        if let Some(value) = value {
            let y = 2.0 + (high - value) / span * (SPARK_HEIGHT - 4.0);
            let _ = write!(points, "{:.1},{y:.1} ", index as f64 * step);
        }
    }
    // A frame shows the whole span even when the data covers only its end, and the zero line
    // shows where an error budget runs out.
    let zero = 2.0 + high / span * (SPARK_HEIGHT - 4.0);
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}\" width=\"{SPARK_WIDTH}\" height=\"{SPARK_HEIGHT}\"><title>{}</title><rect class=\"frame\" x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\"/><line class=\"zero\" x1=\"0\" x2=\"{SPARK_WIDTH}\" y1=\"{zero:.1}\" y2=\"{zero:.1}\"/><polyline points=\"{}\"/></svg>",
        escape(title),
        SPARK_WIDTH - 1.0,
        SPARK_HEIGHT - 1.0,
        points.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(nice_ticks(0.0, 87.0, 4), (50.0, 100.0));
        assert_eq!(nice_ticks(0.0, 1.0, 4), (0.5, 1.0));
        let (step, top) = nice_ticks(0.0, 0.0031, 4);
        assert!(
            (step - 0.001).abs() < 1e-12 && top >= 0.0031,
            "{step} {top}"
        );
        let (step, top) = nice_ticks(0.99, 1.0, 4);
        assert!(
            (step - 0.005).abs() < 1e-12 && (top - 1.0).abs() < 1e-9,
            "{step} {top}"
        );
    }

    #[test]
    fn time_steps_keep_the_axis_readable() {
        assert_eq!(time_step(3600, 6), 600);
        assert_eq!(time_step(3600, 4), 900);
        assert_eq!(time_step(24 * 3600, 6), 21_600);
        assert_eq!(time_step(600, 6), 300);
    }

    #[test]
    fn a_chart_escapes_its_labels_and_breaks_lines_at_gaps() {
        let minute = 60_000_000_000;
        let chart = LineChart {
            title: "<b>latency</b>".into(),
            unit: "ms",
            times: vec![0, minute, 2 * minute, 3 * minute],
            series: vec![Series {
                label: "<script>".into(),
                values: vec![Some(1.0), None, Some(3.0), Some(4.0)],
            }],
            thresholds: vec![Threshold {
                value: 5.0,
                label: "objective".into(),
            }],
            y_min: 0.0,
            ..LineChart::default()
        };
        let svg = chart.render();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        let path = svg.split("class=\"line s0\" d=\"").nth(1).unwrap();
        let path = path.split('"').next().unwrap();
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(svg.matches("<rect class=\"hover\"").count(), 4);
    }

    #[test]
    fn tick_labels_carry_the_decimals_their_step_needs() {
        assert_eq!(format_tick(0.5, "%", 0.25), "50 %");
        assert_eq!(format_tick(0.995, "%", 0.005), "99.5 %");
        assert_eq!(format_tick(0.0, "ms", 200.0), "0 ms");
        assert_eq!(format_tick(1500.0, "ms", 500.0), "1.5 s");
        assert_eq!(format_tick(2.5, "x", 0.5), "2.5x");
        assert_eq!(format_tick(150.0, "/min", 50.0), "150/min");
    }

    fn one_series(unit: &'static str, values: Vec<Option<f64>>) -> LineChart {
        let minute = 60_000_000_000;
        LineChart {
            title: "chart".into(),
            unit,
            times: (0..values.len() as u64)
                .map(|index| index * minute)
                .collect(),
            series: vec![Series {
                label: "values".into(),
                values,
            }],
            ..LineChart::default()
        }
    }

    #[test]
    fn an_overspent_budget_takes_the_axis_below_zero_on_a_whole_step() {
        let svg = one_series("%", vec![Some(1.0), Some(0.2), Some(-11.23)]).render();
        // Steps of 500 %: the axis runs from -1500 % to 500 %.
        assert!(svg.contains(">-1500 %<"), "{svg}");
        assert!(svg.contains(">0 %<"), "{svg}");
    }

    #[test]
    fn a_capped_axis_says_where_it_was_cut() {
        let mut chart = one_series("x", vec![Some(1.0), Some(700.0), Some(2.0)]);
        chart.y_cap = Some(72.0);
        let svg = chart.render();
        assert!(svg.contains("axis cut at 72.00x"), "{svg}");
        assert!(!svg.contains(">700x<") && !svg.contains(">800x<"), "{svg}");
        // The hover column keeps the real value.
        assert!(svg.contains("values: 700.00x"), "{svg}");
    }

    #[test]
    fn markers_outside_the_chart_are_left_out() {
        let mut chart = one_series("ms", vec![Some(1.0), Some(2.0), Some(3.0)]);
        chart.markers = vec![
            Marker {
                time_unix_nano: 60_000_000_000,
                label: "deployment 1.4.2".into(),
            },
            Marker {
                time_unix_nano: 3_600_000_000_000,
                label: "later".into(),
            },
        ];
        let svg = chart.render();
        assert!(
            svg.contains("deployment 1.4.2") && !svg.contains("later"),
            "{svg}"
        );
    }

    #[test]
    fn before_and_after_share_one_scale() {
        let svg = before_after(Some(5.0), Some(500.0), ["5 ms", "500 ms"]).unwrap();
        assert!(
            svg.contains("width=\"1.5\"") && svg.contains("width=\"110.0\""),
            "{svg}"
        );
        assert!(before_after(None, Some(1.0), ["", ""]).is_none());
        assert!(before_after(Some(-1.0), Some(1.0), ["", ""]).is_none());
    }

    #[test]
    fn a_chart_without_data_says_so() {
        let chart = LineChart {
            title: "faults".into(),
            unit: "",
            times: vec![0, 60_000_000_000],
            series: vec![Series {
                label: "faults".into(),
                values: vec![None, None],
            }],
            thresholds: Vec::new(),
            y_min: 0.0,
            ..LineChart::default()
        };
        assert!(chart.render().contains("no data"));
    }
}
