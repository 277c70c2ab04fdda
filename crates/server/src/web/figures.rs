//! The figures of an investigation's causes, drawn: the slow span on its trace's waterfall, an
//! attribute diff or the log templates that grew as paired bars, and a resource or request
//! trend as a line chart with its limit and the breach's start.

use std::collections::HashMap;
use std::fmt::Write as _;

use sloscope_investigate::{ComparisonRow, Figure, Report, TrendSeries};
use sloscope_model::{MINUTE_NANOS, TimeRange};
use sloscope_store::{SpanQuery, SpanRow, Store};

use crate::web::PageError;
use crate::web::html::{escape, path_segment};
use crate::web::pages::traces::{call_order, waterfall_table};
use crate::web::svg::{LineChart, Marker, Series, Threshold, format_value, paired_bars};

/// The spans of each trace the figures point at, by trace id.
pub type Traces = HashMap<String, Vec<SpanRow>>;

/// How far around a figure's span its trace is looked for.
const TRACE_REACH_NANOS: u64 = 5 * 60 * 1_000_000_000;
/// Rows of a trace figure; a larger trace shows the pointed span's ancestors and subtree.
const MAX_TRACE_ROWS: usize = 40;
/// Steps of a trend chart at most.
const TREND_STEPS: u64 = 300;

/// Reads the traces the figures of `report` point at, each from the minutes around its span.
pub fn read_traces(store: &dyn Store, report: &Report) -> Result<Traces, PageError> {
    let mut traces = Traces::new();
    for figure in report.causes.iter().flat_map(|cause| &cause.figures) {
        let Figure::Trace {
            trace_id,
            time_unix_nano,
            ..
        } = figure
        else {
            continue;
        };
        let mut id = [0u8; 16];
        if traces.contains_key(trace_id) || hex::decode_to_slice(trace_id, &mut id).is_err() {
            continue;
        }
        let around = TimeRange::new(
            time_unix_nano.saturating_sub(TRACE_REACH_NANOS),
            time_unix_nano.saturating_add(TRACE_REACH_NANOS),
        );
        let spans = store.spans(&SpanQuery::trace(id, around, 2_000))?;
        traces.insert(trace_id.clone(), spans);
    }
    Ok(traces)
}

/// One figure as HTML; `started` (the breach's start) is marked on trends.
pub fn figure_html(figure: &Figure, started: Option<u64>, traces: &Traces) -> String {
    match figure {
        Figure::Trace {
            title,
            trace_id,
            span_id,
            time_unix_nano,
        } => trace_html(title, trace_id, span_id, *time_unix_nano, traces),
        Figure::Comparison {
            title,
            unit,
            columns,
            rows,
        } => comparison_html(title, unit, columns, rows),
        Figure::Trend {
            title,
            unit,
            series,
            limit,
        } => trend_chart(title, unit, series, *limit, started).render(),
    }
}

fn trace_html(
    title: &str,
    trace_id: &str,
    span_id: &str,
    time_unix_nano: u64,
    traces: &Traces,
) -> String {
    let mut out = format!(
        "<figure class=\"figure\"><figcaption>{} · <a href=\"/traces/{}?at={}\">open the trace</a></figcaption>",
        escape(title),
        path_segment(trace_id),
        time_unix_nano / 1_000_000_000
    );
    match traces.get(trace_id).filter(|spans| !spans.is_empty()) {
        Some(spans) => {
            let rows = around(spans, &call_order(spans), span_id);
            out.push_str(&waterfall_table(spans, &rows, Some(span_id), false));
            if let Some(span) = spans.iter().find(|span| span.span_id == span_id) {
                out.push_str(&what_it_did(span));
            }
        }
        None => out.push_str("<p class=\"empty\">This trace is no longer stored.</p>"),
    }
    out.push_str("</figure>");
    out
}

/// What the pointed span ran and how it ended: its statement, status message and exceptions.
fn what_it_did(span: &SpanRow) -> String {
    let mut items: Vec<(&str, String)> = Vec::new();
    let statement = ["db.query.text", "db.statement"]
        .iter()
        .find_map(|key| span.attributes.get(*key).and_then(|value| value.as_str()));
    if let Some(statement) = statement {
        items.push(("statement", statement.to_owned()));
    }
    if !span.status_message.is_empty() {
        items.push(("status", span.status_message.clone()));
    }
    for event in span.events.as_array().into_iter().flatten() {
        if event["name"] != "exception" {
            continue;
        }
        let attributes = &event["attributes"];
        let text = |key: &str| attributes[key].as_str().unwrap_or_default().to_owned();
        items.push((
            "exception",
            format!("{}: {}", text("exception.type"), text("exception.message")),
        ));
    }
    if items.is_empty() {
        return String::new();
    }
    let mut out = String::from("<dl class=\"attributes\">");
    for (label, text) in items {
        let _ = write!(out, "<dt>{label}</dt><dd>{}</dd>", escape(&text));
    }
    out.push_str("</dl>");
    out
}

/// The rows of a large trace worth showing with `span_id`: its ancestors, itself and its
/// subtree, at most [`MAX_TRACE_ROWS`]; a small trace whole.
fn around(spans: &[SpanRow], rows: &[(usize, usize)], span_id: &str) -> Vec<(usize, usize)> {
    if rows.len() <= MAX_TRACE_ROWS {
        return rows.to_vec();
    }
    let Some(position) = rows
        .iter()
        .position(|(index, _)| spans[*index].span_id == span_id)
    else {
        return rows[..MAX_TRACE_ROWS].to_vec();
    };
    let depth = rows[position].1;
    // Ancestors: walking back, the last row at each smaller depth.
    let mut ancestors = Vec::new();
    let mut wanted = depth;
    for row in rows[..position].iter().rev() {
        if row.1 < wanted {
            ancestors.push(*row);
            wanted = row.1;
        }
    }
    ancestors.reverse();
    let subtree = rows[position..]
        .iter()
        .enumerate()
        .take_while(|(offset, row)| *offset == 0 || row.1 > depth)
        .map(|(_, row)| *row);
    ancestors
        .into_iter()
        .chain(subtree)
        .take(MAX_TRACE_ROWS)
        .collect()
}

fn comparison_html(
    title: &str,
    unit: &str,
    columns: &[String; 2],
    rows: &[ComparisonRow],
) -> String {
    let largest = rows
        .iter()
        .flat_map(|row| [row.baseline, row.breach])
        .filter(|value| value.is_finite())
        .fold(0.0, f64::max);
    let mut out = format!(
        "<figure class=\"figure\"><figcaption>{}</figcaption><div class=\"legend\"><span><i class=\"swatch before\"></i>{}</span><span><i class=\"swatch during\"></i>{}</span></div><table class=\"stack comparison-figure\"><tbody>",
        escape(title),
        escape(&columns[0]),
        escape(&columns[1])
    );
    for row in rows {
        let texts = [
            format_value(row.baseline, unit),
            format_value(row.breach, unit),
        ];
        let _ = write!(
            out,
            "<tr><td class=\"primary\"><code>{}</code></td><td class=\"comparison\">{}</td></tr>",
            escape(&row.label),
            paired_bars(
                [row.baseline, row.breach],
                [texts[0].as_str(), texts[1].as_str()],
                largest
            )
            .unwrap_or_else(|| format!(
                "{} → {}",
                escape(&texts[0]),
                escape(&texts[1])
            ))
        );
    }
    out.push_str("</tbody></table></figure>");
    out
}

/// How a trend's unit is drawn: the chart's unit, what the values are divided by, and a unit
/// the chart cannot format, for its title.
fn trend_scale(unit: &str, largest: f64, limit: Option<f64>) -> (&'static str, f64, &str) {
    const BINARY: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    match unit {
        "bytes" => {
            let mut power = 0;
            while power + 1 < BINARY.len() && largest >= 1024f64.powi(power as i32 + 1) {
                power += 1;
            }
            (BINARY[power], 1024f64.powi(power as i32), "")
        }
        "/min" => ("/min", 1.0, ""),
        "%" => ("%", 100.0, ""),
        // A utilisation: a share of 1.
        _ if limit == Some(1.0) => ("%", 1.0, ""),
        "" | "1" => ("", 1.0, ""),
        other => ("", 1.0, other),
    }
}

fn trend_chart(
    title: &str,
    unit: &str,
    lines: &[TrendSeries],
    limit: Option<f64>,
    started: Option<u64>,
) -> LineChart {
    let points = || lines.iter().flat_map(|line| line.points.iter());
    let largest = points()
        .map(|(_, value)| *value)
        .chain(limit)
        .fold(0.0, f64::max);
    let (chart_unit, divisor, unit_name) = trend_scale(unit, largest, limit);
    let first = points().map(|(time, _)| *time).min().unwrap_or(0);
    let last = points().map(|(time, _)| *time).max().unwrap_or(0);
    // The step: the series' own interval (the median gap between its points), or wider when
    // the span holds more than TREND_STEPS of them.
    let mut gaps: Vec<u64> = lines
        .iter()
        .flat_map(|line| line.points.windows(2).map(|pair| pair[1].0 - pair[0].0))
        .filter(|gap| *gap > 0)
        .collect();
    gaps.sort_unstable();
    let interval = gaps.get(gaps.len() / 2).copied().unwrap_or(MINUTE_NANOS);
    let step = interval.max((last - first).div_ceil(TREND_STEPS)).max(1);
    let steps = ((last - first) / step + 1) as usize;
    let series = lines
        .iter()
        .map(|line| {
            let mut values: Vec<Option<f64>> = vec![None; steps];
            for (time, value) in &line.points {
                let slot = &mut values[((time - first) / step) as usize];
                let scaled = value / divisor;
                *slot = Some(slot.map_or(scaled, |other: f64| other.max(scaled)));
            }
            Series {
                label: line.label.clone(),
                values,
            }
        })
        .collect();
    LineChart {
        title: if unit_name.is_empty() {
            title.to_owned()
        } else {
            format!("{title} ({unit_name})")
        },
        unit: chart_unit,
        times: (0..steps as u64).map(|slot| first + slot * step).collect(),
        series,
        thresholds: limit
            .map(|limit| Threshold {
                value: limit / divisor,
                label: String::from("limit"),
            })
            .into_iter()
            .collect(),
        markers: started
            .map(|time| Marker {
                time_unix_nano: time,
                label: String::from("breach started"),
            })
            .into_iter()
            .collect(),
        ..LineChart::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_memory_trend_is_drawn_in_binary_units_with_its_limit() {
        let mebibyte = 1024.0 * 1024.0;
        let line = TrendSeries {
            label: String::from("catalog-1"),
            points: (0..40)
                .map(|step| (step * 15 * SECOND, (200.0 + step as f64 * 5.0) * mebibyte))
                .collect(),
        };
        let chart = trend_chart(
            "container.memory.usage of catalog",
            "bytes",
            &[line],
            Some(512.0 * mebibyte),
            Some(20 * 15 * SECOND),
        );
        assert_eq!(chart.unit, "MiB");
        assert_eq!(chart.times.len(), 40, "one step per sample");
        assert_eq!(chart.series[0].values[0], Some(200.0));
        assert_eq!(chart.thresholds[0].value, 512.0);
        let svg = chart.render();
        assert!(
            svg.contains("MiB") && svg.contains("breach started"),
            "{svg}"
        );
    }

    #[test]
    fn a_long_trend_is_cut_into_at_most_its_steps_keeping_peaks() {
        let line = TrendSeries {
            label: String::from("cpu"),
            points: (0..3000)
                .map(|step| (step * SECOND, if step == 1234 { 99.0 } else { 10.0 }))
                .collect(),
        };
        let chart = trend_chart("cpu", "%", &[line], Some(100.0), None);
        assert!(chart.times.len() <= TREND_STEPS as usize + 1);
        let highest = chart.series[0]
            .values
            .iter()
            .flatten()
            .fold(0.0, |a: f64, b| a.max(*b));
        assert!((highest - 0.99).abs() < 1e-9, "{highest}");
    }

    fn span(id: &str, parent: Option<&str>) -> SpanRow {
        SpanRow {
            trace_id: String::from("00000000000000000000000000000001"),
            span_id: id.to_owned(),
            parent_span_id: parent.map(str::to_owned),
            service: String::from("shop"),
            environment: String::new(),
            version: String::new(),
            name: id.to_owned(),
            kind: sloscope_model::SpanKind::Internal,
            operation: String::new(),
            remote_service: String::new(),
            start_time_unix_nano: 0,
            duration_nanos: 1,
            status_code: sloscope_model::StatusCode::Unset,
            status_message: String::new(),
            attributes: serde_json::Value::Null,
            resource_attributes: serde_json::Value::Null,
            events: serde_json::Value::Null,
            links: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_large_trace_shows_the_pointed_span_with_its_ancestors_and_subtree() {
        let mut spans = vec![span("root", None), span("a", Some("root"))];
        for index in 0..60 {
            spans.push(span(&format!("sibling{index}"), Some("root")));
        }
        spans.push(span("b", Some("a")));
        spans.push(span("c", Some("b")));
        let rows = around(&spans, &call_order(&spans), "b");
        let ids: Vec<&str> = rows
            .iter()
            .map(|(index, _)| spans[*index].span_id.as_str())
            .collect();
        assert_eq!(ids, ["root", "a", "b", "c"]);
    }
}
