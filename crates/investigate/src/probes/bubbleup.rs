//! Where in the request: a BubbleUp-style diff of the bad requests of the subject against its
//! good ones in the breach window. Each request is described by what its trace below the
//! subject's span touched (services, operations, remote dependencies) and by the dimensions of
//! those spans (version, host, pod, endpoint, ...); a value over-represented among the bad
//! requests locates the breach.
//!
//! A request is bad when its span has an error status or is slower than the latency threshold
//! of the SLO, else than the baseline's p95 of the subject.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use sloscope_model::StatusCode;

use crate::context::{Context, NameHasher};
use crate::finding::{Finding, Probe, format_percent, round};
use crate::probes::subject_entries;
use crate::report::{CauseKind, ComparisonRow, Figure};
use crate::stats::quantile;

/// Fewer bad (or good) requests than this and no diff is attempted.
const MIN_REQUESTS: usize = 5;
/// The least difference of shares (bad minus good) worth reporting.
const MIN_DIFFERENCE: f64 = 0.2;
/// Values of an attribute drawn in its diff.
const MAX_VALUES: usize = 6;

/// What a request touched, with the service it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Attribute {
    owner: String,
    key: String,
    value: String,
}

impl Attribute {
    /// A version points at a deployment only when the baseline did not run it; a version the
    /// service already ran says no more than that the bad requests pass through the service.
    fn kind(&self, context: &Context) -> CauseKind {
        match self.key.as_str() {
            "service.version" => {
                let known = context
                    .baseline
                    .versions
                    .get(&self.owner)
                    .is_some_and(|versions| versions.contains_key(&self.value));
                if known {
                    CauseKind::Dependency
                } else {
                    CauseKind::Deployment
                }
            }
            "service" | "operation" | "dependency" => CauseKind::Dependency,
            _ => CauseKind::Unknown,
        }
    }

    fn describe(&self) -> String {
        match self.key.as_str() {
            "service" => format!("passing through {}", self.value),
            "operation" => format!("calling {} {}", self.owner, self.value),
            "dependency" => format!("{} calling {}", self.owner, self.value),
            _ => format!("{}={} on {}", self.key, self.value, self.owner),
        }
    }
}

pub(crate) fn run<'a>(context: &Context<'a>) -> Vec<Finding> {
    let index = &context.breach.spans;
    let spans: &'a [crate::input::SpanRecord] = index.spans;
    let entries = subject_entries(context, &context.breach);
    if entries.len() < 2 * MIN_REQUESTS {
        return Vec::new();
    }
    let thresholds = Thresholds::of(context);
    let is_slow = |position: usize| {
        let span = &index.spans[position];
        thresholds
            .of_operation(&span.operation)
            .is_some_and(|threshold| span.duration_nanos as f64 / 1e6 > threshold)
    };
    let is_bad =
        |position: usize| index.spans[position].status == StatusCode::Error || is_slow(position);
    let bad_count = entries.iter().filter(|position| is_bad(**position)).count();
    let good_count = entries.len() - bad_count;
    if bad_count < MIN_REQUESTS || good_count < MIN_REQUESTS {
        return Vec::new();
    }
    // Against the baseline's own p95, about one request in twenty is slow by definition: the
    // diff is only worth it when clearly more are.
    let failed = entries
        .iter()
        .filter(|position| index.spans[**position].status == StatusCode::Error)
        .count();
    if thresholds.from_baseline && failed < MIN_REQUESTS {
        let expected = thresholds.quantile_miss * entries.len() as f64;
        let z = (bad_count as f64 - expected) / expected.max(1.0).sqrt();
        if z < 3.0 {
            return Vec::new();
        }
    }

    // Intern attributes (borrowed from the spans) so a request is a sorted list of small ids.
    // Attributes are few (services, operations, low-cardinality dimensions): the fast hash of
    // names serves.
    let mut ids: HashMap<(&'a str, &'a str, &'a str), u32, BuildHasherDefault<NameHasher>> =
        HashMap::default();
    let mut attributes: Vec<(&'a str, &'a str, &'a str)> = Vec::new();
    let mut bad_hits: Vec<u32> = Vec::new();
    let mut good_hits: Vec<u32> = Vec::new();
    let mut touched: Vec<u32> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    for entry in entries {
        touched.clear();
        stack.clear();
        stack.push(*entry);
        while let Some(position) = stack.pop() {
            let span = &spans[position];
            stack.extend(index.children(position).iter().map(|child| *child as usize));
            let mut intern = |attribute: (&'a str, &'a str, &'a str)| {
                let next = attributes.len() as u32;
                let id = *ids.entry(attribute).or_insert(next);
                if id == next {
                    attributes.push(attribute);
                }
                touched.push(id);
            };
            if position != *entry {
                intern((&span.service, "service", &span.service));
                if index.is_entry(position) {
                    intern((&span.service, "operation", &span.operation));
                }
            }
            if !span.remote_service.is_empty() && index.remote_children(position).next().is_none() {
                intern((&span.remote_service, "dependency", &span.remote_service));
            }
            for (key, value) in &span.dimensions {
                intern((&span.service, key, value));
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let hits = if is_bad(*entry) {
            &mut bad_hits
        } else {
            &mut good_hits
        };
        if hits.len() < attributes.len() {
            hits.resize(attributes.len(), 0);
        }
        for id in &touched {
            hits[*id as usize] += 1;
        }
    }
    let attributes: Vec<Attribute> = attributes
        .into_iter()
        .map(|(owner, key, value)| Attribute {
            owner: owner.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
        })
        .collect();
    bad_hits.resize(attributes.len(), 0);
    good_hits.resize(attributes.len(), 0);

    // The best attribute per (owner, kind), with the runners-up as evidence.
    let mut best: BTreeMap<(String, CauseKind), Vec<(f64, usize)>> = BTreeMap::new();
    for (id, attribute) in attributes.iter().enumerate() {
        let bad_share = bad_hits[id] as f64 / bad_count as f64;
        let good_share = good_hits[id] as f64 / good_count as f64;
        let difference = bad_share - good_share;
        if difference < MIN_DIFFERENCE || bad_hits[id] < MIN_REQUESTS as u32 {
            continue;
        }
        let kind = attribute.kind(context);
        if attribute.owner == context.subject() && kind == CauseKind::Dependency {
            continue; // the subject's own operations are the symptom being explained
        }
        best.entry((attribute.owner.clone(), kind))
            .or_default()
            .push((difference, id));
    }
    let mut findings = Vec::new();
    for ((owner, kind), mut candidates) in best {
        candidates.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| attributes[a.1].cmp(&attributes[b.1]))
        });
        let (difference, lead) = candidates[0];
        let lead_attribute = &attributes[lead];
        let bad_share = bad_hits[lead] as f64 / bad_count as f64;
        let good_share = good_hits[lead] as f64 / good_count as f64;
        let mut finding = Finding::new(
            Probe::BubbleUp,
            &owner,
            kind,
            difference,
            format!(
                "{} of the bad requests of {} are {} against {} of the good ones",
                format_percent(bad_share),
                context.subject(),
                lead_attribute.describe(),
                format_percent(good_share)
            ),
        );
        // The attribute diff: every value of the lead's attribute, bad against good.
        let mut values: Vec<ComparisonRow> = attributes
            .iter()
            .enumerate()
            .filter(|(_, other)| {
                other.owner == lead_attribute.owner && other.key == lead_attribute.key
            })
            .map(|(id, other)| ComparisonRow {
                label: other.value.clone(),
                baseline: round(good_hits[id] as f64 / good_count as f64),
                breach: round(bad_hits[id] as f64 / bad_count as f64),
            })
            .collect();
        values.sort_by(|a, b| {
            b.breach
                .total_cmp(&a.breach)
                .then_with(|| b.baseline.total_cmp(&a.baseline))
                .then_with(|| a.label.cmp(&b.label))
        });
        values.truncate(MAX_VALUES);
        finding.figures.push(Figure::Comparison {
            title: format!(
                "requests of {} by {} of {}",
                context.subject(),
                lead_attribute.key,
                lead_attribute.owner
            ),
            unit: String::from("%"),
            columns: [String::from("good requests"), String::from("bad requests")],
            rows: values,
        });
        for (_, id) in candidates.iter().take(3) {
            let attribute = &attributes[*id];
            finding = finding.with(
                format!(
                    "share of requests {}: bad (breach) against good (baseline column)",
                    attribute.describe()
                ),
                "share_of_requests",
                Some(good_hits[*id] as f64 / good_count as f64),
                Some(bad_hits[*id] as f64 / bad_count as f64),
            );
        }
        findings.push(finding);
    }
    findings
}

/// Slower than this (ms) is bad: the SLO's latency threshold, else the baseline's p95 of the
/// same operation of the subject (of all its operations, for one the baseline saw too rarely).
struct Thresholds {
    overall: Option<f64>,
    per_operation: BTreeMap<String, f64>,
    /// Whether the thresholds are the baseline's quantiles (rather than the SLO's threshold).
    from_baseline: bool,
    /// The share of requests over a baseline quantile threshold by definition.
    quantile_miss: f64,
}

impl Thresholds {
    const QUANTILE: f64 = 0.95;
    const MIN_SAMPLES: usize = 20;

    fn of(context: &Context<'_>) -> Thresholds {
        if let Some(threshold) = context.inputs.slo.as_ref().and_then(|slo| slo.threshold_ms) {
            return Thresholds {
                overall: Some(threshold),
                per_operation: BTreeMap::new(),
                from_baseline: false,
                quantile_miss: 0.0,
            };
        }
        let index = &context.baseline.spans;
        let mut durations: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut all = Vec::new();
        for position in subject_entries(context, &context.baseline) {
            let span = &index.spans[*position];
            let ms = span.duration_nanos as f64 / 1e6;
            durations
                .entry(span.operation.as_str())
                .or_default()
                .push(ms);
            all.push(ms);
        }
        let overall = (all.len() >= Self::MIN_SAMPLES)
            .then(|| quantile(&all, Self::QUANTILE))
            .flatten();
        let per_operation = durations
            .into_iter()
            .filter(|(_, values)| values.len() >= Self::MIN_SAMPLES)
            .filter_map(|(operation, values)| {
                quantile(&values, Self::QUANTILE).map(|value| (operation.to_owned(), value))
            })
            .collect();
        Thresholds {
            overall,
            per_operation,
            from_baseline: true,
            quantile_miss: 1.0 - Self::QUANTILE,
        }
    }

    fn of_operation(&self, operation: &str) -> Option<f64> {
        self.per_operation.get(operation).copied().or(self.overall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{call, inputs, request_start, telemetry};

    /// `front` calls `fast` on even requests and `slow` on odd ones.
    fn window(first_minute: u64, slow_ms: f64) -> crate::input::Telemetry {
        let mut spans = Vec::new();
        for request in 0..200u32 {
            let start = request_start(first_minute, request, 20);
            let trace = first_minute as u32 * 1000 + request;
            let (callee, callee_ms) = if request % 2 == 0 {
                ("fast", 10.0 + f64::from(request % 7))
            } else {
                ("slow", slow_ms + f64::from(request % 7))
            };
            spans.extend(call(
                trace,
                trace * 3,
                "front",
                callee,
                start,
                2.0,
                1.0,
                callee_ms,
            ));
        }
        telemetry(spans, Vec::new(), Vec::new())
    }

    #[test]
    fn the_callee_of_the_slow_requests_stands_out() {
        let inputs = inputs("front", window(0, 10.0), window(10, 200.0));
        let context = Context::build(&inputs);
        let findings = run(&context);
        let slow = findings
            .iter()
            .find(|finding| finding.service == "slow")
            .expect("slow stands out");
        assert_eq!(slow.kind, CauseKind::Dependency);
        // Every bad request went through `slow`, a third of the good ones did.
        assert!(slow.score > 0.5, "{slow:#?}");
        assert!(findings.iter().all(|finding| finding.service != "fast"));
    }

    #[test]
    fn nothing_stands_out_when_nothing_got_worse() {
        let inputs = inputs("front", window(0, 10.0), window(10, 10.0));
        let context = Context::build(&inputs);
        assert!(run(&context).is_empty(), "{:#?}", run(&context));
    }
}
