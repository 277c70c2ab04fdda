//! Ranking: findings of all probes merged into causes, one per (service, kind), each with a
//! confidence in `[0, 1]`.
//!
//! - Findings of one cause combine like independent pieces of evidence (noisy-or of each
//!   probe's weight times the finding's score).
//! - A cause that explains another of the same service absorbs it as supporting evidence: a
//!   saturated CPU or a new version explains self time that grew; a new version explains a new
//!   error or a slower statement (those stay causes of their own too: their remedies differ).
//! - Other causes of the same service corroborate a little.
//! - A cause that is only a symptom of something downstream (a dependency's degradation, error
//!   logs of a caller) loses most of its confidence when a service it calls has a cause of its
//!   own: the deepest degraded component is preferred.
//! - A cause on a service the subject never calls, directly or not (its callers, mostly), cannot
//!   make the subject slow or failing: it keeps little of its confidence. More traffic from
//!   callers shows as load on the subject itself.
//!
//! Ties break on service name, then kind, so the order is the same for the same inputs.

use std::collections::BTreeMap;

use crate::context::Context;
use crate::finding::Finding;
use crate::remedies::remedies_for;
use crate::report::{Cause, CauseKind, Evidence, Figure};

/// Causes listed at most.
const MAX_CAUSES: usize = 10;
/// Causes below this confidence are left out.
const MIN_CONFIDENCE: f64 = 0.05;
/// Evidence rows kept per cause.
const MAX_EVIDENCE: usize = 8;
/// Figures kept per cause.
const MAX_FIGURES: usize = 4;
/// How much other causes of the same service add (times their confidence).
const CORROBORATION: f64 = 0.2;
/// What a symptom keeps of its confidence when something downstream has a cause.
const SYMPTOM_SHARE: f64 = 0.45;
/// A cause downstream explains a symptom when its confidence is at least this share of the
/// symptom's.
const EXPLAINING_SHARE: f64 = 0.75;
/// What a cause keeps of its confidence when the subject does not call its service.
const OUTSIDE_SHARE: f64 = 0.3;

/// A cause being assembled.
#[derive(Clone, Debug)]
struct Draft {
    service: String,
    kind: CauseKind,
    confidence: f64,
    /// Weighted findings, strongest first.
    findings: Vec<(f64, Finding)>,
    supporting: Vec<Evidence>,
    /// Figures of the causes this one explains.
    supporting_figures: Vec<Figure>,
}

impl Draft {
    /// Keeps `share` of the confidence, with the call graph's reason as evidence.
    fn discount(&mut self, share: f64, measure: &str, reason: String) {
        self.confidence *= share;
        self.supporting.push(Evidence {
            probe: String::from("dependencies"),
            summary: reason,
            measure: measure.to_owned(),
            baseline: None,
            breach: None,
        });
    }

    fn summary(&self) -> String {
        self.findings
            .first()
            .map(|(_, finding)| finding.summary.clone())
            .unwrap_or_default()
    }
}

fn combine(confidence: f64, more: f64) -> f64 {
    1.0 - (1.0 - confidence) * (1.0 - more.clamp(0.0, 1.0))
}

/// Whether a cause of `kind` can be the mere echo of a problem further down the call graph.
fn can_be_symptom(kind: CauseKind) -> bool {
    matches!(
        kind,
        CauseKind::Dependency | CauseKind::ErrorPattern | CauseKind::Unknown
    )
}

/// What a cause does with another cause of the same service that it explains.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Explained {
    /// The other is only a symptom of this one: its evidence moves here, the cause goes.
    Absorb,
    /// The other stays a cause (its remedy differs) but ranks below this one.
    Precede,
}

/// Which kinds a cause of `kind` on the same service explains, and how.
fn explains(kind: CauseKind) -> &'static [(CauseKind, Explained)] {
    use CauseKind::{
        CodeRegression, CpuSaturation, Dependency, ErrorPattern, ResourceExhaustion, SlowQuery,
    };
    use Explained::{Absorb, Precede};
    match kind {
        // A saturated resource makes the service's own code slower and its signals worse.
        CauseKind::CpuSaturation | CauseKind::ResourceExhaustion => {
            &[(CodeRegression, Absorb), (Dependency, Absorb)]
        }
        // A leak also fills the memory and keeps the collector (the CPU) busy, and a process
        // short of memory logs and fails in new ways.
        CauseKind::MemoryLeak => &[
            (CodeRegression, Absorb),
            (Dependency, Absorb),
            (ResourceExhaustion, Absorb),
            (CpuSaturation, Precede),
            (ErrorPattern, Precede),
        ],
        // More traffic than the service can take saturates its CPU and makes it shed requests.
        CauseKind::Load => &[
            (CodeRegression, Absorb),
            (Dependency, Absorb),
            (CpuSaturation, Precede),
            (ErrorPattern, Precede),
        ],
        // A new version explains what changed with it.
        CauseKind::Deployment => &[
            (CodeRegression, Absorb),
            (Dependency, Absorb),
            (ErrorPattern, Precede),
            (SlowQuery, Precede),
        ],
        _ => &[],
    }
}

pub(crate) fn rank(context: &Context<'_>, findings: Vec<Finding>) -> Vec<Cause> {
    let mut drafts: BTreeMap<(String, CauseKind), Draft> = BTreeMap::new();
    for finding in findings {
        let weighted = finding.probe.weight() * finding.score;
        let draft = drafts
            .entry((finding.service.clone(), finding.kind))
            .or_insert_with(|| Draft {
                service: finding.service.clone(),
                kind: finding.kind,
                confidence: 0.0,
                findings: Vec::new(),
                supporting: Vec::new(),
                supporting_figures: Vec::new(),
            });
        draft.confidence = combine(draft.confidence, weighted);
        draft.findings.push((weighted, finding));
    }
    for draft in drafts.values_mut() {
        draft.findings.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.probe.cmp(&b.1.probe))
                .then_with(|| a.1.summary.cmp(&b.1.summary))
        });
    }

    discount_outside(context, &mut drafts);
    absorb(&mut drafts);
    corroborate(&mut drafts);
    discount_symptoms(context, &mut drafts);

    let mut ordered: Vec<Draft> = drafts
        .into_values()
        .filter(|draft| draft.confidence >= MIN_CONFIDENCE)
        .collect();
    ordered.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    ordered.truncate(MAX_CAUSES);
    ordered
        .into_iter()
        .enumerate()
        .map(|(position, draft)| finish(position + 1, draft))
        .collect()
}

/// Moves explained causes into the cause that explains them (same service), or ranks them
/// below it.
fn absorb(drafts: &mut BTreeMap<(String, CauseKind), Draft>) {
    let keys: Vec<(String, CauseKind)> = drafts.keys().cloned().collect();
    let mut preceded: Vec<((String, CauseKind), (String, CauseKind))> = Vec::new();
    for (service, kind) in &keys {
        for (explained, how) in explains(*kind) {
            let explained_key = (service.clone(), *explained);
            let Some(explained_draft) = drafts.get(&explained_key).cloned() else {
                continue;
            };
            let Some(explainer) = drafts.get_mut(&(service.clone(), *kind)) else {
                continue;
            };
            // A weak suspicion does not push a strong cause of its own remedy down.
            if *how == Explained::Precede
                && explainer.confidence < EXPLAINING_SHARE * explained_draft.confidence
            {
                continue;
            }
            explainer.confidence = combine(explainer.confidence, 0.5 * explained_draft.confidence);
            for (_, finding) in &explained_draft.findings {
                explainer
                    .supporting
                    .extend(finding.evidence.iter().cloned());
                explainer
                    .supporting_figures
                    .extend(finding.figures.iter().cloned());
            }
            match how {
                Explained::Absorb => {
                    drafts.remove(&explained_key);
                }
                Explained::Precede => {
                    preceded.push((explained_key, (service.clone(), *kind)));
                }
            }
        }
    }
    for (explained, explainer) in preceded {
        let Some(ceiling) = drafts.get(&explainer).map(|draft| draft.confidence) else {
            continue;
        };
        if let Some(draft) = drafts.get_mut(&explained) {
            draft.confidence = draft.confidence.min(0.95 * ceiling);
        }
    }
}

fn corroborate(drafts: &mut BTreeMap<(String, CauseKind), Draft>) {
    let mut best_other: BTreeMap<(String, CauseKind), f64> = BTreeMap::new();
    for (service, kind) in drafts.keys() {
        let other = drafts
            .iter()
            .filter(|((other_service, other_kind), _)| {
                other_service == service && other_kind != kind
            })
            .map(|(_, draft)| draft.confidence)
            .fold(0.0, f64::max);
        best_other.insert((service.clone(), *kind), other);
    }
    for (key, draft) in drafts.iter_mut() {
        let other = best_other.get(key).copied().unwrap_or(0.0);
        draft.confidence = combine(draft.confidence, CORROBORATION * other);
    }
}

/// Causes on services the subject does not reach through its calls keep little confidence.
fn discount_outside(context: &Context<'_>, drafts: &mut BTreeMap<(String, CauseKind), Draft>) {
    let subject = context.subject();
    if !context.graph.contains(subject) {
        return; // no calls of the subject are known: nothing to tell callers from callees
    }
    let reached = context.graph.downstream(subject);
    for ((service, _), draft) in drafts.iter_mut() {
        if service == subject || reached.contains(service) {
            continue;
        }
        draft.discount(
            OUTSIDE_SHARE,
            "outside_call_graph",
            format!(
                "{subject} does not call {service}, directly or through others: {service} cannot be why {subject} breached"
            ),
        );
    }
}

fn discount_symptoms(context: &Context<'_>, drafts: &mut BTreeMap<(String, CauseKind), Draft>) {
    // The strongest cause of each service, before any discount.
    let mut strongest: BTreeMap<String, f64> = BTreeMap::new();
    for ((service, _), draft) in drafts.iter() {
        let entry = strongest.entry(service.clone()).or_insert(0.0);
        *entry = entry.max(draft.confidence);
    }
    let mut downstream_cache: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for ((service, kind), draft) in drafts.iter_mut() {
        if !can_be_symptom(*kind) {
            continue;
        }
        let below = downstream_cache.entry(service.clone()).or_insert_with(|| {
            context
                .graph
                .downstream(service)
                .into_iter()
                .filter_map(|callee| {
                    strongest
                        .get(&callee)
                        .map(|confidence| (callee, *confidence))
                })
                .collect()
        });
        let explaining = below
            .iter()
            .filter(|(_, confidence)| {
                *confidence >= 0.3_f64.max(EXPLAINING_SHARE * draft.confidence)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
        if let Some((callee, _)) = explaining {
            draft.discount(
                SYMPTOM_SHARE,
                "downstream_cause",
                format!(
                    "{callee}, which {service} calls, has a cause of its own: this may be its echo"
                ),
            );
        }
    }
}

fn finish(rank: usize, draft: Draft) -> Cause {
    let summary = draft.summary();
    let mut own: Vec<&Evidence> = Vec::new();
    for (_, finding) in &draft.findings {
        for item in &finding.evidence {
            if !own.contains(&item) {
                own.push(item);
            }
        }
    }
    // The cause's two strongest numbers, then what it explains (the slower statement of a new
    // version, say), then the rest of its own.
    let mut evidence: Vec<Evidence> = Vec::new();
    let ordered = own
        .iter()
        .take(2)
        .copied()
        .chain(draft.supporting.iter().take(3))
        .chain(own.iter().skip(2).copied());
    for item in ordered {
        if evidence.len() == MAX_EVIDENCE {
            break;
        }
        if !evidence.contains(item) {
            evidence.push(item.clone());
        }
    }
    // Its own strongest drawing, then the slow or failed span of what it explains (the slower
    // statement of a new version), then the rest of its own, then the rest of what it explains.
    let own_figures: Vec<&Figure> = draft
        .findings
        .iter()
        .flat_map(|(_, finding)| &finding.figures)
        .collect();
    let (traces, others): (Vec<&Figure>, Vec<&Figure>) = draft
        .supporting_figures
        .iter()
        .partition(|figure| matches!(figure, Figure::Trace { .. }));
    let mut figures: Vec<Figure> = Vec::new();
    let ordered = own_figures
        .iter()
        .take(1)
        .chain(traces.iter().take(1))
        .chain(own_figures.iter().skip(1))
        .chain(others.iter().take(1))
        .copied();
    for figure in ordered {
        // Two spans of one trace are one picture: the first drawing of it is kept.
        let shown = figures.iter().any(|other| {
            other == figure
                || matches!(
                    (other, figure),
                    (Figure::Trace { trace_id: a, .. }, Figure::Trace { trace_id: b, .. }) if a == b
                )
        });
        if figures.len() < MAX_FIGURES && !shown {
            figures.push(figure.clone());
        }
    }
    let remedies = remedies_for(draft.kind, &draft.service, &summary, &evidence);
    Cause {
        rank,
        service: draft.service,
        kind: draft.kind,
        summary,
        confidence: crate::finding::round(draft.confidence.clamp(0.0, 1.0)),
        evidence,
        figures,
        remedies,
    }
}
