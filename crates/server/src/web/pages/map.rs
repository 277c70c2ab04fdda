//! `/map`: the service map. Every service that answered or made calls, and every remote
//! service it called (databases, queues, external APIs), as a graph drawn by
//! [`crate::web::graph`]; edges carry the call rate and fault rate of the last minutes, nodes
//! their own. A node is degraded when its fault rate or p99 latency is well above the hours
//! before ([`degradation`], a plain function), when its traffic stopped, or when one of its
//! SLOs is burning; the reasons are listed under the map, so that a phone reader (who
//! scrolls the map sideways) sees them at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use axum::extract::{Query, State};
use serde::Deserialize;
use sloscope_model::{MINUTE_NANOS, SignalRow, SignalStats, TimeRange};

use crate::api::ApiState;
use crate::error::ApiError;
use crate::web::graph::{Edge, Graph, Node};
use crate::web::html::{badge, escape, millis, path_segment, percent};
use crate::web::pages::services::server_and_dependency_totals;
use crate::web::{PageResult, Section, blocking, page};

/// What the recent minutes are compared with.
const BASELINE_MINUTES: u64 = 180;
/// Fewer requests than this in the recent window say too little about rates and percentiles.
const MINIMUM_REQUESTS: u64 = 20;
/// A fault rate is well above its earlier level when it is at least this much higher (in
/// absolute terms, so that 0.01 % against 0.002 % is not news) and twice as high.
const FAULT_RATE_STEP: f64 = 0.01;
/// A p99 latency is well above its earlier level when it is at least this many milliseconds
/// higher (sub-millisecond caches jitter by more than 2x) and twice as high.
const LATENCY_STEP_MS: f64 = 20.0;

#[derive(Debug, Deserialize)]
pub struct MapParams {
    /// The recent window, in minutes: 5 to 1440, 15 by default.
    minutes: Option<u64>,
}

/// Why a node or an edge is degraded: its recent stats against the baseline's, the rates
/// scaled by each window's length. Empty when it is not.
pub fn degradation(
    recent: &SignalStats,
    recent_minutes: u64,
    baseline: &SignalStats,
    baseline_minutes: u64,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let baseline_rate = baseline.requests as f64 / baseline_minutes.max(1) as f64;
    if recent.requests == 0 {
        // Traffic that stopped is the loudest sign of all, when there was enough to expect.
        if baseline_rate * recent_minutes as f64 >= MINIMUM_REQUESTS as f64 {
            reasons.push(format!(
                "no requests in the last {recent_minutes} min ({baseline_rate:.0}/min before)"
            ));
        }
        return reasons;
    }
    if recent.requests < MINIMUM_REQUESTS {
        return reasons;
    }
    let recent_faults = fault_rate(recent).unwrap_or(0.0);
    let baseline_faults = fault_rate(baseline).unwrap_or(0.0);
    if recent_faults - baseline_faults >= FAULT_RATE_STEP && recent_faults >= 2.0 * baseline_faults
    {
        reasons.push(format!(
            "fault rate {} against {} before",
            percent(Some(recent_faults), 2),
            percent(Some(baseline_faults), 2)
        ));
    }
    if baseline.requests >= MINIMUM_REQUESTS
        && let (Some(recent_p99), Some(baseline_p99)) = (
            recent.latency.quantile(0.99),
            baseline.latency.quantile(0.99),
        )
        && recent_p99 - baseline_p99 >= LATENCY_STEP_MS
        && recent_p99 >= 2.0 * baseline_p99
    {
        reasons.push(format!(
            "p99 latency {} against {} before",
            millis(Some(recent_p99)),
            millis(Some(baseline_p99))
        ));
    }
    reasons
}

fn merge_by<K: Ord>(rows: &[SignalRow], key: impl Fn(&SignalRow) -> K) -> BTreeMap<K, SignalStats> {
    let mut merged: BTreeMap<K, SignalStats> = BTreeMap::new();
    for row in rows {
        merged.entry(key(row)).or_default().merge(&row.stats);
    }
    merged
}

fn fault_rate(stats: &SignalStats) -> Option<f64> {
    (stats.requests > 0).then(|| stats.faults as f64 / stats.requests as f64)
}

/// Requests per minute, short enough for an edge label: whole numbers from 10 up.
fn rate(requests: u64, minutes: u64) -> String {
    let per_minute = requests as f64 / minutes.max(1) as f64;
    if per_minute >= 10.0 {
        format!("{per_minute:.0}")
    } else {
        format!("{per_minute:.1}")
    }
}

/// The node's or edge's figures as one line: rate, fault rate, p99.
fn figures(stats: &SignalStats, minutes: u64) -> String {
    format!(
        "{:.1}/min, faults {}, p99 {}",
        stats.requests as f64 / minutes as f64,
        percent(fault_rate(stats), 2),
        millis(stats.latency.quantile(0.99))
    )
}

pub async fn map(State(state): State<ApiState>, Query(params): Query<MapParams>) -> PageResult {
    let minutes = params.minutes.unwrap_or(15);
    if !(5..=1440).contains(&minutes) {
        return Err(ApiError::BadRequest("`minutes` must be between 5 and 1440".into()).into());
    }
    let now = crate::now_unix_nano();
    let end = now - now % MINUTE_NANOS + MINUTE_NANOS;
    let recent_range = TimeRange::new(end - minutes * MINUTE_NANOS, end);
    let baseline_range = TimeRange::new(
        recent_range.from - BASELINE_MINUTES * MINUTE_NANOS,
        recent_range.from,
    );
    let store = state.store.clone();
    let ((recent_servers, recent_calls), (baseline_servers, baseline_calls)) =
        blocking(move || {
            Ok((
                server_and_dependency_totals(store.as_ref(), recent_range)?,
                server_and_dependency_totals(store.as_ref(), baseline_range)?,
            ))
        })
        .await?;
    let services_recent = merge_by(&recent_servers, |row| row.key.service.clone());
    let services_before = merge_by(&baseline_servers, |row| row.key.service.clone());
    let edge_key = |row: &SignalRow| (row.key.service.clone(), row.key.remote_service.clone());
    let edges_recent = merge_by(&recent_calls, edge_key);
    let edges_before = merge_by(&baseline_calls, edge_key);
    // What the callers of a remote service saw is all there is to know about it.
    let inbound_recent = merge_by(&recent_calls, |row| row.key.remote_service.clone());
    let inbound_before = merge_by(&baseline_calls, |row| row.key.remote_service.clone());

    let mut names: BTreeSet<String> = BTreeSet::new();
    names.extend(services_recent.keys().cloned());
    names.extend(services_before.keys().cloned());
    for (caller, callee) in edges_recent.keys().chain(edges_before.keys()) {
        names.insert(caller.clone());
        names.insert(callee.clone());
    }
    names.retain(|name| !name.is_empty());
    let index_of: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(index, name)| (name.as_str(), index))
        .collect();

    // SLOs that burn make their service degraded whatever the rates say.
    let mut slo_reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut slo_badges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (spec, _, evaluation) in state.slos.list() {
        let status = crate::slo_api::status_of(evaluation.as_deref());
        slo_badges
            .entry(spec.service.clone())
            .or_default()
            .push(format!(
                "<a href=\"/slos/{}\">{}</a> {}",
                path_segment(&spec.name),
                escape(&spec.name),
                badge(status)
            ));
        if matches!(status, "burning" | "exhausted") {
            slo_reasons
                .entry(spec.service.clone())
                .or_default()
                .push(format!("SLO {} is {status}", spec.name));
        }
    }

    let empty = SignalStats::default();
    let mut nodes = Vec::with_capacity(names.len());
    let mut degraded_rows = String::new();
    for name in &names {
        let remote = !services_recent.contains_key(name) && !services_before.contains_key(name);
        let (recent, before) = if remote {
            (inbound_recent.get(name), inbound_before.get(name))
        } else {
            (services_recent.get(name), services_before.get(name))
        };
        let recent = recent.unwrap_or(&empty);
        let before = before.unwrap_or(&empty);
        let mut reasons = degradation(recent, minutes, before, BASELINE_MINUTES);
        reasons.extend(slo_reasons.get(name).cloned().unwrap_or_default());
        let mut title = format!(
            "{name}{}\nlast {minutes} min: {}\n{} h before: {}",
            if remote {
                " (remote, as its callers see it)"
            } else {
                ""
            },
            figures(recent, minutes),
            BASELINE_MINUTES / 60,
            figures(before, BASELINE_MINUTES)
        );
        if let Some(self_calls) = edges_recent.get(&(name.clone(), name.clone())) {
            let _ = write!(title, "\ncalls itself: {}", figures(self_calls, minutes));
        }
        for reason in &reasons {
            let _ = write!(title, "\ndegraded: {reason}");
        }
        if !reasons.is_empty() {
            let _ = write!(
                degraded_rows,
                "<tr><td><a href=\"/services/{}\">{}</a></td><td>{}</td><td class=\"hide-small\">{}</td></tr>",
                path_segment(name),
                escape(name),
                escape(&reasons.join("; ")),
                slo_badges
                    .get(name)
                    .map(|links| links.join(", "))
                    .unwrap_or_default()
            );
        }
        nodes.push(Node {
            name: name.clone(),
            href: format!("/services/{}", path_segment(name)),
            lines: vec![
                format!(
                    "{}/min · {} faults",
                    rate(recent.requests, minutes),
                    percent(fault_rate(recent), 1)
                ),
                format!("p99 {}", millis(recent.latency.quantile(0.99))),
            ],
            title,
            remote,
            degraded: !reasons.is_empty(),
        });
    }

    let edge_names: BTreeSet<&(String, String)> =
        edges_recent.keys().chain(edges_before.keys()).collect();
    let mut edges = Vec::with_capacity(edge_names.len());
    for key in edge_names {
        let (Some(&caller), Some(&callee)) =
            (index_of.get(key.0.as_str()), index_of.get(key.1.as_str()))
        else {
            continue;
        };
        let recent = edges_recent.get(key).unwrap_or(&empty);
        let before = edges_before.get(key).unwrap_or(&empty);
        let reasons = degradation(recent, minutes, before, BASELINE_MINUTES);
        let mut title = format!(
            "{} → {}\nlast {minutes} min: {}\n{} h before: {}",
            key.0,
            key.1,
            figures(recent, minutes),
            BASELINE_MINUTES / 60,
            figures(before, BASELINE_MINUTES)
        );
        for reason in &reasons {
            let _ = write!(title, "\ndegraded: {reason}");
        }
        edges.push(Edge {
            caller,
            callee,
            label: format!(
                "{}/min · {}",
                rate(recent.requests, minutes),
                percent(fault_rate(recent), 1)
            ),
            title,
            degraded: !reasons.is_empty(),
        });
    }

    let mut body = format!(
        "<h1>Service map</h1><p class=\"lead\">Calls of the last {minutes} min (requests per minute · fault rate), compared with the {} h before · <a href=\"?minutes=5\">5 min</a> · <a href=\"?minutes=15\">15 min</a> · <a href=\"?minutes=60\">1 h</a></p>",
        BASELINE_MINUTES / 60
    );
    if nodes.is_empty() {
        body.push_str("<p class=\"empty\">No calls in this range. Point an OpenTelemetry SDK or Collector at the OTLP ports.</p>");
        return Ok(page("Service map", Section::Map, &body));
    }
    let _ = write!(
        body,
        "<div class=\"scroll map-frame\">{}</div><p class=\"legend\"><span><i class=\"key service\"></i>service</span><span><i class=\"key remote\"></i>remote service (database, queue, external API)</span><span><i class=\"key degraded\"></i>degraded</span><span class=\"muted\">Hover a node or an edge for its figures; click a node for its page.</span></p>",
        Graph { nodes, edges }.render()
    );
    body.push_str("<h2>Degraded</h2>");
    if degraded_rows.is_empty() {
        body.push_str("<p class=\"empty\">Nothing: no fault rate or latency well above the hours before, and no SLO burning.</p>");
    } else {
        let _ = write!(
            body,
            "<div class=\"scroll\"><table id=\"degraded\"><thead><tr><th>service</th><th>why</th><th class=\"hide-small\">SLOs</th></tr></thead><tbody>{degraded_rows}</tbody></table></div>"
        );
    }
    Ok(page("Service map", Section::Map, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, faults: u64, latency_ms: f64) -> SignalStats {
        let mut stats = SignalStats::default();
        for index in 0..requests {
            stats.record(latency_ms, index < faults, false);
        }
        stats
    }

    #[test]
    fn steady_traffic_is_not_degraded() {
        let before = stats(1800, 2, 10.0);
        let recent = stats(150, 0, 11.0);
        assert!(degradation(&recent, 15, &before, 180).is_empty());
    }

    #[test]
    fn slower_or_failing_traffic_is_degraded_with_its_reason() {
        let before = stats(1800, 0, 10.0);
        let slow = stats(150, 0, 700.0);
        let reasons = degradation(&slow, 15, &before, 180);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].starts_with("p99 latency"), "{reasons:?}");
        let failing = stats(150, 30, 10.0);
        let reasons = degradation(&failing, 15, &before, 180);
        assert!(reasons[0].starts_with("fault rate 20.00 %"), "{reasons:?}");
    }

    #[test]
    fn a_fast_cache_jittering_is_not_degraded() {
        // 0.2 ms to 0.9 ms is four times slower but nobody would call it degraded.
        let before = stats(1800, 0, 0.2);
        let recent = stats(150, 0, 0.9);
        assert!(degradation(&recent, 15, &before, 180).is_empty());
    }

    #[test]
    fn traffic_that_stopped_is_degraded_but_quiet_services_are_not() {
        let before = stats(1800, 0, 10.0);
        let reasons = degradation(&SignalStats::default(), 15, &before, 180);
        assert!(reasons[0].starts_with("no requests"), "{reasons:?}");
        let rare = stats(20, 0, 10.0);
        assert!(degradation(&SignalStats::default(), 15, &rare, 180).is_empty());
    }
}
