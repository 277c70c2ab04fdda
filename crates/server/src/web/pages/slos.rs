//! `/` (and `/slos`): every SLO with its status, attainment, budget, burn rates, firing alerts
//! and a budget sparkline, filtered, sorted and grouped by service or label; `/slos/{name}`:
//! the budget burndown, the burn rate against the page thresholds, the rules' states, the
//! alert history, the backtest of the alert policy over the charts' span, the exclusion
//! windows and the spec.
//!
//! The budget over time is recomputed from the SLO's events per minute as a rolling window of
//! the SLO period ending at each step (a calendar SLO is drawn as rolling too); the maths is
//! [`Prefix`], a plain function over plain data.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use sloscope_model::{MINUTE_NANOS, TimeRange};
use sloscope_slo::Events;
use sloscope_slo::spec::{Exclusion, Indicator, Scope, SloSpec};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::slo_api::status_of;
use crate::web::html::{badge, escape, path_segment, percent, time};
use crate::web::range::Shown;
use crate::web::svg::{LineChart, Series, Threshold, sparkline};
use crate::web::{PageError, PageResult, Section, blocking, page};

/// Cumulative good and total events per minute from `first_minute`, for window sums in O(1).
pub struct Prefix {
    first_minute: i64,
    good: Vec<u64>,
    total: Vec<u64>,
}

impl Prefix {
    /// Covers `first_minute..=last_minute`; minutes without events count zero.
    pub fn new(minutes: &BTreeMap<i64, Events>, first_minute: i64, last_minute: i64) -> Prefix {
        let length = (last_minute - first_minute + 1).max(0) as usize;
        let (mut good, mut total) = (vec![0; length + 1], vec![0; length + 1]);
        for offset in 0..length {
            let events = minutes
                .get(&(first_minute + offset as i64))
                .copied()
                .unwrap_or_default();
            good[offset + 1] = good[offset] + events.good;
            total[offset + 1] = total[offset] + events.total;
        }
        Prefix {
            first_minute,
            good,
            total,
        }
    }

    /// Good and total events of the `length` minutes ending with `last_minute`.
    pub fn window(&self, last_minute: i64, length: i64) -> Events {
        let index = |minute: i64| {
            (minute - self.first_minute + 1).clamp(0, self.good.len() as i64 - 1) as usize
        };
        let (end, start) = (index(last_minute), index(last_minute - length));
        Events {
            good: self.good[end] - self.good[start],
            total: self.total[end] - self.total[start],
        }
    }

    /// The share of the error budget left over the `period` minutes ending with `last_minute`
    /// (negative when overspent); None without events.
    pub fn budget_remaining(&self, last_minute: i64, period: i64, objective: f64) -> Option<f64> {
        let events = self.window(last_minute, period);
        let allowed = (1.0 - objective) * events.total as f64;
        (events.total > 0 && allowed > 0.0).then(|| 1.0 - events.bad() as f64 / allowed)
    }

    /// The error ratio of the `length` minutes ending with `last_minute` over the allowed one.
    pub fn burn_rate(&self, last_minute: i64, length: i64, objective: f64) -> Option<f64> {
        let events = self.window(last_minute, length);
        (events.total > 0 && objective < 1.0)
            .then(|| events.bad() as f64 / events.total as f64 / (1.0 - objective))
    }
}

/// Reads the events an SLO's charts need: the period before the chart's span, and the span.
fn read_prefix(
    state: &ApiState,
    spec: &SloSpec,
    end_minute: i64,
    span_minutes: i64,
) -> Result<Prefix, PageError> {
    let first_minute = end_minute - span_minutes - spec.window.period_minutes();
    let range = TimeRange::new(
        first_minute.max(0) as u64 * MINUTE_NANOS,
        (end_minute + 1).max(0) as u64 * MINUTE_NANOS,
    );
    let minutes = state
        .slos
        .minutes(&spec.name, range)
        .map_err(ApiError::from)?;
    Ok(Prefix::new(&minutes, first_minute, end_minute))
}

fn indicator_text(spec: &SloSpec) -> String {
    let what = match &spec.indicator {
        Indicator::Availability => "availability".to_owned(),
        Indicator::Latency { threshold_ms } => format!("latency under {threshold_ms} ms"),
        Indicator::ErrorRate => "requests without errors".to_owned(),
        Indicator::MetricRatio { .. } => "metric ratio".to_owned(),
    };
    let scope = match &spec.scope {
        Scope::Service => String::new(),
        Scope::Operation { operation } => format!(" of {operation}"),
        Scope::Dependency {
            remote_service,
            remote_operation,
        } => format!(
            " of calls to {remote_service}{}",
            remote_operation
                .as_deref()
                .map(|operation| format!(" {operation}"))
                .unwrap_or_default()
        ),
    };
    format!("{what}{scope}")
}

fn now_minute() -> i64 {
    (crate::now_unix_nano() / MINUTE_NANOS) as i64
}

#[derive(Debug, Deserialize)]
pub struct OverviewParams {
    /// `service`, or `label:<key>` to group by the value of one label; no grouping otherwise.
    group: Option<String>,
}

pub async fn overview(
    State(state): State<ApiState>,
    Query(params): Query<OverviewParams>,
) -> PageResult {
    let entries = state.slos.list();
    let file_errors = state.slos.file_errors();
    let reader = state.clone();
    let end_minute = now_minute();
    let specs: Vec<SloSpec> = entries.iter().map(|(spec, _, _)| spec.clone()).collect();
    // Hourly budget over the last day, per SLO.
    let sparklines = blocking(move || {
        let mut lines = BTreeMap::new();
        for spec in specs {
            let prefix = read_prefix(&reader, &spec, end_minute, 24 * 60)?;
            let period = spec.window.period_minutes();
            let values: Vec<Option<f64>> = (0..=24)
                .map(|hour| {
                    prefix.budget_remaining(end_minute - (24 - hour) * 60, period, spec.objective)
                })
                .collect();
            lines.insert(spec.name.clone(), values);
        }
        Ok(lines)
    })
    .await?;
    let mut body = String::from("<h1>Service level objectives</h1>");
    for (path, message) in &file_errors {
        let _ = write!(
            body,
            "<p class=\"error\">{}: {}</p>",
            escape(&path.display().to_string()),
            escape(message)
        );
    }
    if entries.is_empty() {
        body.push_str("<p class=\"empty\">No SLOs yet. Put YAML specs in the watched directory or <code>PUT /api/v1/slos/{name}</code>.</p>");
        return Ok(page("SLOs", Section::Slos, &body));
    }
    let group = params.group.as_deref().unwrap_or("");
    let label_key = group.strip_prefix("label:");
    if !(group.is_empty() || group == "service" || label_key.is_some_and(|key| !key.is_empty())) {
        return Err(ApiError::BadRequest(format!(
            "`group` is `{group}`, want service or label:<key>"
        ))
        .into());
    }
    // The grouping menu reloads the page (a link per choice works without the script too).
    let mut label_keys: Vec<&str> = entries
        .iter()
        .flat_map(|(spec, _, _)| spec.labels.keys().map(String::as_str))
        .collect();
    label_keys.sort_unstable();
    label_keys.dedup();
    let mut choices = vec![(String::new(), "no grouping".to_owned())];
    choices.push(("service".to_owned(), "by service".to_owned()));
    for key in &label_keys {
        choices.push((format!("label:{key}"), format!("by label {key}")));
    }
    body.push_str("<div class=\"filters\"><input type=\"search\" placeholder=\"filter by name or service\" data-filter=\"slos\" aria-label=\"filter SLOs\"><select data-status-filter=\"slos\" aria-label=\"status\"><option value=\"\">any status</option><option value=\"exhausted\">exhausted</option><option value=\"burning\">burning</option><option value=\"warning\">warning</option><option value=\"ok\">ok</option><option value=\"no_data\">no data</option></select><select data-navigate aria-label=\"group\">");
    for (value, label) in &choices {
        let _ = write!(
            body,
            "<option value=\"/?group={}\"{}>{}</option>",
            path_segment(value),
            if value == group { " selected" } else { "" },
            escape(label)
        );
    }
    body.push_str("</select></div><p class=\"muted\">Click a column to sort it (budget left, burn rate, attainment).</p>");
    let table_head = "<div class=\"scroll\"><table data-rows=\"slos\" class=\"stack\"><thead><tr><th data-sort>SLO</th><th data-sort>status</th><th data-sort class=\"num\">attainment</th><th data-sort class=\"num\">objective</th><th data-sort class=\"num\">budget left</th><th>budget, 24 h</th><th data-sort>burn rates</th><th>firing</th></tr></thead><tbody>";
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for (spec, _, evaluation) in &entries {
        let group_name = match label_key {
            Some(key) => spec
                .labels
                .get(key)
                .map(|value| format!("{key}: {value}"))
                .unwrap_or_else(|| format!("without label {key}")),
            None if group == "service" => spec.service.clone(),
            None => String::new(),
        };
        let rows = groups.entry(group_name).or_default();
        let evaluation = evaluation.as_deref();
        let status = status_of(evaluation);
        let attainment = evaluation.and_then(|evaluation| evaluation.attainment);
        let budget = evaluation.and_then(|evaluation| evaluation.budget_remaining);
        // One unbreakable chip per window; a window burning faster than the budget allows
        // (above 1x) stands out.
        let burn_rates = evaluation
            .map(|evaluation| {
                evaluation
                    .windows
                    .iter()
                    .map(|window| {
                        let hot = window.burn_rate.is_some_and(|rate| rate > 1.0);
                        format!(
                            "<span class=\"chip{}\">{} {}</span>",
                            if hot { " hot" } else { "" },
                            escape(&window.window),
                            window
                                .burn_rate
                                .map(|rate| format!("{rate:.1}x"))
                                .unwrap_or_else(|| "–".to_owned())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let fastest_burn = evaluation
            .map(|evaluation| {
                evaluation
                    .windows
                    .iter()
                    .filter_map(|window| window.burn_rate)
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0);
        let firing = evaluation
            .map(|evaluation| {
                evaluation
                    .firing()
                    .map(|state| format!("<span class=\"chip hot\">{}</span>", escape(&state.rule)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let spark = sparklines
            .get(&spec.name)
            .map(|values| sparkline(values, "budget left at each hour of the last day"))
            .unwrap_or_default();
        let _ = write!(
            rows,
            "<tr data-status=\"{status}\"><td class=\"primary\"><a class=\"name\" href=\"/slos/{}\">{}</a><br><span class=\"muted\"><a href=\"/services/{}\">{}</a> · {}</span></td><td>{}</td><td class=\"num\" data-label=\"attainment\" data-value=\"{}\">{}</td><td class=\"num\" data-label=\"objective\" data-value=\"{}\">{:.3} %</td><td class=\"num\" data-label=\"budget left\" data-value=\"{}\">{}</td><td>{spark}</td><td class=\"burns\" data-value=\"{fastest_burn}\">{burn_rates}</td><td>{firing}</td></tr>",
            path_segment(&spec.name),
            escape(&spec.name),
            path_segment(&spec.service),
            escape(&spec.service),
            escape(&indicator_text(spec)),
            badge(status),
            attainment.unwrap_or(-1.0),
            percent(attainment, 3),
            spec.objective,
            spec.objective * 100.0,
            budget.unwrap_or(-1e9),
            percent(budget, 1),
        );
    }
    for (group_name, rows) in &groups {
        if !group_name.is_empty() {
            let _ = write!(body, "<h2>{}</h2>", escape(group_name));
        }
        let _ = write!(body, "{table_head}{rows}</tbody></table></div>");
    }
    Ok(page("SLOs", Section::Slos, &body))
}

#[derive(Debug, Deserialize)]
pub struct DetailParams {
    /// Hours the charts cover, 1 to 168; 24 by default.
    hours: Option<u64>,
    /// A zoomed range instead (dragging across a chart): unix seconds.
    from: Option<u64>,
    to: Option<u64>,
}

pub async fn detail(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<DetailParams>,
) -> PageResult {
    let shown = Shown::of(params.hours, params.from, params.to, 24)?;
    let (spec, _, evaluation, history) = state
        .slos
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no SLO named `{name}`")))?;
    let evaluation = evaluation.as_deref();
    // The last minute shown (the current one, unless zoomed) and the minutes shown.
    let end_minute = (shown.range.to / MINUTE_NANOS) as i64 - 1;
    let span = shown.minutes() as i64;
    let step = (span / 144).max(1);
    let reader = state.clone();
    let spec_for_read = spec.clone();
    let backtest_name = spec.name.clone();
    let (prefix, backtest) = blocking(move || {
        let prefix = read_prefix(&reader, &spec_for_read, end_minute, span)?;
        // The alert policy replayed over the charts' span: when each rule would have fired.
        let to_seconds = (end_minute + 1) * 60;
        let backtest = reader
            .slos
            .backtest(&backtest_name, to_seconds - span * 60, to_seconds)
            .map_err(ApiError::from)?;
        Ok((prefix, backtest))
    })
    .await?;

    let status = status_of(evaluation);
    let mut body = format!(
        "<h1>{} {}</h1><p class=\"lead\"><a href=\"/services/{}\">{}</a>: {} · objective {:.3} % over {} · <a href=\"/api/v1/slos/{}\">JSON</a></p>",
        escape(&spec.name),
        badge(status),
        path_segment(&spec.service),
        escape(&spec.service),
        escape(&indicator_text(&spec)),
        spec.objective * 100.0,
        escape(&window_text(&spec)),
        path_segment(&spec.name),
    );
    if !spec.description.is_empty() {
        let _ = write!(body, "<p>{}</p>", escape(&spec.description));
    }
    body.push_str("<div class=\"cards\">");
    let mut card = |label: &str, value: String| {
        let _ = write!(
            body,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div></div>"
        );
    };
    card(
        "attainment",
        percent(evaluation.and_then(|evaluation| evaluation.attainment), 3),
    );
    card(
        "budget left",
        percent(
            evaluation.and_then(|evaluation| evaluation.budget_remaining),
            1,
        ),
    );
    card(
        "burn rate, 1 h",
        evaluation
            .and_then(|evaluation| evaluation.current_burn_rate)
            .map(|rate| format!("{rate:.2}x"))
            .unwrap_or_else(|| "–".to_owned()),
    );
    let budget_gone = evaluation
        .and_then(|evaluation| evaluation.budget_remaining)
        .is_some_and(|left| left <= 0.0);
    card(
        "budget gone in",
        if budget_gone {
            "already gone".to_owned()
        } else {
            evaluation
                .and_then(|evaluation| evaluation.exhaustion_forecast_minutes)
                .map(crate::alerts::human_minutes)
                .unwrap_or_else(|| "not at this rate".to_owned())
        },
    );
    card(
        "events in period",
        evaluation
            .map(|evaluation| crate::web::html::count(evaluation.period_total))
            .unwrap_or_else(|| "–".to_owned()),
    );
    body.push_str("</div>");

    let step_ends: Vec<i64> = (0..span / step)
        .map(|index| end_minute - span + (index + 1) * step)
        .collect();
    let times: Vec<u64> = step_ends
        .iter()
        .map(|end| (end + 1 - step).max(0) as u64 * MINUTE_NANOS)
        .collect();
    let period = spec.window.period_minutes();
    let budget = LineChart {
        title: format!(
            "Error budget left (rolling {}), {}",
            window_text(&spec),
            shown.text()
        ),
        unit: "%",
        times: times.clone(),
        series: vec![Series {
            label: "budget left".into(),
            values: step_ends
                .iter()
                .map(|end| prefix.budget_remaining(*end, period, spec.objective))
                .collect(),
        }],
        thresholds: vec![Threshold {
            value: spec.alerting.budget_warning,
            label: format!("warning at {:.0} %", spec.alerting.budget_warning * 100.0),
        }],
        y_min: 0.0,
        zoomable: true,
        ..LineChart::default()
    };
    let mut burn_series = Vec::new();
    let mut thresholds = Vec::new();
    if let Some(rule) = spec.alerting.burn_rules.first() {
        for length in [rule.long_minutes, rule.short_minutes] {
            burn_series.push(Series {
                label: format!(
                    "burn rate over {}",
                    sloscope_slo::alert::window_label(length)
                ),
                values: step_ends
                    .iter()
                    .map(|end| prefix.burn_rate(*end, length, spec.objective))
                    .collect(),
            });
        }
    }
    for rule in &spec.alerting.burn_rules {
        thresholds.push(Threshold {
            value: rule.burn_rate,
            label: format!("{} {}x", severity_word(rule.severity), rule.burn_rate),
        });
    }
    // Five times the highest threshold keeps the thresholds readable next to a spike.
    let burn_cap = thresholds
        .iter()
        .map(|threshold| threshold.value)
        .fold(None, |highest: Option<f64>, value| {
            Some(highest.map_or(value, |highest| highest.max(value)))
        })
        .map(|highest| highest * 5.0);
    let burn = LineChart {
        title: format!("Burn rate, {}", shown.text()),
        unit: "x",
        times,
        series: burn_series,
        thresholds,
        y_min: 0.0,
        y_cap: burn_cap,
        zoomable: true,
        ..LineChart::default()
    };
    let _ = write!(
        body,
        "<p class=\"muted\">Charts: <a href=\"?hours=6\">6 h</a> · <a href=\"?hours=24\">24 h</a> · <a href=\"?hours=72\">3 d</a> · <a href=\"?hours=168\">7 d</a> · drag across a chart to zoom</p><div class=\"charts\">{}{}</div>",
        budget.render(),
        burn.render()
    );

    if let Some(evaluation) = evaluation {
        body.push_str("<h2>Burn rate per window</h2><div class=\"scroll\"><table><thead><tr><th>window</th><th class=\"num\">good</th><th class=\"num\">total</th><th class=\"num\">burn rate</th></tr></thead><tbody>");
        for window in &evaluation.windows {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&window.window),
                crate::web::html::count(window.good),
                crate::web::html::count(window.total),
                window
                    .burn_rate
                    .map(|rate| format!("{rate:.2}x"))
                    .unwrap_or_else(|| "–".to_owned())
            );
        }
        body.push_str("</tbody></table></div><h2>Alert rules</h2><div class=\"scroll\"><table><thead><tr><th>rule</th><th>severity</th><th>state</th><th>since</th></tr></thead><tbody>");
        for rule in &evaluation.states {
            let phase = phase_word(rule.phase);
            let since = rule
                .firing_since
                .or(rule.pending_since)
                .or(rule.resolved_at)
                .map(|seconds| time(seconds.max(0) as u64 * 1_000_000_000))
                .unwrap_or_default();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{since}</td></tr>",
                escape(&rule.rule),
                badge(severity_word(rule.severity)),
                badge(phase),
                if rule.inhibited {
                    " <span class=\"muted\">inhibited</span>"
                } else {
                    ""
                }
            );
        }
        body.push_str("</tbody></table></div>");
    }

    body.push_str("<h2>Alert history</h2>");
    if history.is_empty() {
        body.push_str("<p class=\"empty\">No alert has fired.</p>");
    } else {
        body.push_str("<div class=\"scroll\"><table><thead><tr><th>time</th><th>rule</th><th>severity</th><th>change</th></tr></thead><tbody>");
        for event in history.iter().rev() {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td></tr>",
                time(event.at.max(0) as u64 * 1_000_000_000),
                escape(&event.rule),
                badge(severity_word(event.severity)),
                phase_word(event.from),
                badge(phase_word(event.to))
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let incidents: Vec<_> = state
        .incidents
        .list()
        .into_iter()
        .filter(|incident| incident.slo == spec.name)
        .collect();
    if !incidents.is_empty() {
        body.push_str("<h2>Incidents</h2><ul>");
        for incident in incidents {
            let _ = write!(
                body,
                "<li><a href=\"/incidents/{}\">{}</a> opened {}: {}</li>",
                path_segment(&incident.id),
                escape(&incident.id),
                time(incident.opened_unix_nano),
                escape(&incident.summary)
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<h2>Backtest of the alert policy, {}</h2><p class=\"muted\">The rules replayed minute by minute over the stored events: when each would have fired, how long after the trouble began (its detection time) and how much budget was gone by then.</p>",
        escape(&shown.text())
    );
    if backtest.firings.is_empty() {
        let _ = write!(
            body,
            "<p class=\"empty\">No rule would have fired in {} evaluations.</p>",
            backtest.evaluations
        );
    } else {
        body.push_str("<div class=\"scroll\"><table class=\"stack\"><thead><tr><th>rule</th><th>severity</th><th>trouble began</th><th>fired</th><th class=\"num\">detection</th><th class=\"num\">budget spent by then</th><th>cleared</th></tr></thead><tbody>");
        let at = |seconds: i64| time(seconds.max(0) as u64 * 1_000_000_000);
        for firing in &backtest.firings {
            let _ = write!(
                body,
                "<tr><td class=\"primary\">{}</td><td>{}</td><td data-label=\"began\">{}</td><td data-label=\"fired\">{}</td><td class=\"num\" data-label=\"detection\">{}</td><td class=\"num\" data-label=\"budget spent\">{}</td><td data-label=\"cleared\">{}</td></tr>",
                escape(&firing.rule),
                badge(severity_word(firing.severity)),
                at(firing.onset_at),
                at(firing.fired_at),
                escape(&crate::alerts::human_minutes(
                    firing.detection_seconds as f64 / 60.0
                )),
                percent(Some(firing.budget_consumed_at_firing), 1),
                firing
                    .cleared_at
                    .map(at)
                    .unwrap_or_else(|| "still firing".to_owned())
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str("<h2>Exclusion windows</h2>");
    if spec.exclusions.is_empty() {
        body.push_str("<p class=\"empty\">None: every minute counts against the budget.</p>");
    } else {
        body.push_str("<ul>");
        for exclusion in &spec.exclusions {
            let item = match exclusion {
                Exclusion::Once { from, to, reason } => format!(
                    "{} to {}: {}",
                    time(from.max(&0).unsigned_abs().saturating_mul(1_000_000_000)),
                    time(to.max(&0).unsigned_abs().saturating_mul(1_000_000_000)),
                    escape(reason)
                ),
                Exclusion::Recurring {
                    cron,
                    duration_minutes,
                    reason,
                } => format!(
                    "every <code>{}</code> (UTC) for {duration_minutes} min: {}",
                    escape(cron),
                    escape(reason)
                ),
            };
            let _ = write!(body, "<li>{item}</li>");
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<h2>Spec</h2><pre>{}</pre>",
        escape(&sloscope_slo::parse::to_yaml(&spec))
    );
    Ok(page(&spec.name, Section::Slos, &body))
}

fn window_text(spec: &SloSpec) -> String {
    sloscope_slo::alert::window_label(spec.window.period_minutes())
}

fn severity_word(severity: sloscope_slo::Severity) -> &'static str {
    match severity {
        sloscope_slo::Severity::Page => "page",
        sloscope_slo::Severity::Ticket => "ticket",
        sloscope_slo::Severity::Warning => "warning",
    }
}

fn phase_word(phase: sloscope_slo::Phase) -> &'static str {
    match phase {
        sloscope_slo::Phase::Inactive => "inactive",
        sloscope_slo::Phase::Pending => "pending",
        sloscope_slo::Phase::Firing => "firing",
        sloscope_slo::Phase::Resolved => "resolved",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sums_and_budget_are_ratios_of_sums() {
        let minutes: BTreeMap<i64, Events> = [
            (10, Events::new(99, 100)),
            (11, Events::new(90, 100)),
            (13, Events::new(200, 200)),
        ]
        .into();
        let prefix = Prefix::new(&minutes, 10, 13);
        assert_eq!(prefix.window(13, 4), Events::new(389, 400));
        assert_eq!(prefix.window(11, 1), Events::new(90, 100));
        assert_eq!(prefix.window(12, 100), Events::new(189, 200));
        // 11 bad of 400 against 1 % allowed (4): 2.75 budgets spent.
        let remaining = prefix.budget_remaining(13, 4, 0.99).unwrap();
        assert!((remaining - (1.0 - 11.0 / 4.0)).abs() < 1e-9, "{remaining}");
        let burn = prefix.burn_rate(11, 2, 0.99).unwrap();
        assert!((burn - 5.5).abs() < 1e-9, "{burn}");
        assert_eq!(prefix.burn_rate(12, 1, 0.99), None);
    }
}
