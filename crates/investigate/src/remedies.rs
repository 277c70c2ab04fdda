//! Corrective actions per kind of cause, each tied to the evidence that motivates it. The
//! catalogue is generic (what a responder usually does for this kind of cause); the evidence
//! makes it specific (which version, which statement, which pool).

use crate::report::{CauseKind, Evidence, Remedy};

/// What to do about a cause; `because` of each remedy quotes the evidence it rests on.
pub(crate) fn remedies_for(
    kind: CauseKind,
    service: &str,
    summary: &str,
    evidence: &[Evidence],
) -> Vec<Remedy> {
    let first = |probe: &str| {
        evidence
            .iter()
            .find(|item| item.probe == probe)
            .map_or_else(|| summary.to_owned(), |item| item.summary.clone())
    };
    let measured = |measure_part: &str| {
        evidence
            .iter()
            .find(|item| item.measure.contains(measure_part))
            .map_or_else(|| summary.to_owned(), |item| item.summary.clone())
    };
    let remedy = |action: String, because: String| Remedy { action, because };
    match kind {
        CauseKind::Deployment => vec![
            remedy(
                format!("roll back {service} to the version it ran before"),
                first("changes"),
            ),
            remedy(
                format!(
                    "compare the two versions of {service} on the failing path before redeploying"
                ),
                summary.to_owned(),
            ),
        ],
        CauseKind::SlowQuery => vec![
            remedy(
                String::from(
                    "add an index for the statement's filter and join columns, or rewrite it (EXPLAIN it first)",
                ),
                measured("statement_ms"),
            ),
            remedy(
                format!("cache the statement's result in {service} if it is read-mostly"),
                measured("per_request"),
            ),
        ],
        CauseKind::Dependency => vec![
            remedy(
                format!(
                    "put a timeout and a circuit breaker on calls to {service} so callers fail fast"
                ),
                summary.to_owned(),
            ),
            remedy(
                format!(
                    "serve a fallback or a cached answer while {service} is degraded, and page its owners"
                ),
                first("dependencies"),
            ),
        ],
        CauseKind::ErrorPattern => vec![
            remedy(
                format!("fix or handle the failing path in {service} that the new errors name"),
                summary.to_owned(),
            ),
            remedy(
                format!("if {service} changed recently, roll the change back"),
                first("error_patterns"),
            ),
        ],
        CauseKind::Load => vec![
            remedy(
                format!("scale out {service} (more replicas) or up"),
                measured("requests_per_minute"),
            ),
            remedy(
                format!("rate-limit or shed the excess traffic to {service}, and find its source"),
                summary.to_owned(),
            ),
        ],
        CauseKind::CpuSaturation => vec![
            remedy(
                format!("scale {service} out, or raise its CPU limit"),
                first("resources"),
            ),
            remedy(
                format!("look for a noisy neighbour or a hot loop on {service}'s host: profile it"),
                summary.to_owned(),
            ),
        ],
        CauseKind::MemoryLeak => vec![
            remedy(
                format!(
                    "fix the leak in {service}: take heap dumps a few minutes apart and compare them"
                ),
                first("resources"),
            ),
            remedy(
                format!("as a stopgap, restart {service} on a schedule or raise its memory limit"),
                summary.to_owned(),
            ),
        ],
        CauseKind::ResourceExhaustion => vec![
            remedy(
                format!("raise the pool size or limit of {service} that ran out"),
                first("resources"),
            ),
            remedy(
                format!(
                    "find what holds the resources of {service} (leaked connections, slow holders)"
                ),
                summary.to_owned(),
            ),
        ],
        CauseKind::Network => vec![
            remedy(
                format!(
                    "check the network path and the host of {service} (packet loss, DNS, a saturated node, a sidecar)"
                ),
                first("network"),
            ),
            remedy(
                format!("set timeouts and retries with backoff on calls to {service}"),
                summary.to_owned(),
            ),
        ],
        CauseKind::CodeRegression => vec![
            remedy(
                format!("profile {service}: the code of the operation whose own time grew"),
                first("self_time"),
            ),
            remedy(
                format!("cache or batch the expensive work of {service}"),
                summary.to_owned(),
            ),
        ],
        CauseKind::Unknown => vec![remedy(
            format!("look at {service} first: the breach concentrates there"),
            summary.to_owned(),
        )],
    }
}
