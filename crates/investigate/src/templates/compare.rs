//! Which log templates appeared or grew between a baseline window and an incident window.
//!
//! Both windows go through one miner, so a message of either window lands in the same template
//! as its peers of the other. Counts are compared as shares of each window's messages, so a
//! window twice as long (or twice the traffic) does not make every template look grown.

use std::collections::BTreeMap;

use super::{TemplateId, TemplateMiner};

/// A template whose share of the messages grew from the baseline to the incident window, or
/// that the baseline never had.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PatternChange {
    /// The template text, `<*>` at each wildcard.
    pub template: String,
    pub baseline_count: u64,
    pub incident_count: u64,
    /// The baseline window has no message of this template.
    pub is_new: bool,
    /// The template's share of the incident window's messages over its share of the
    /// baseline's. For a new template, the share over that of a single baseline message: a
    /// lower bound of the growth, finite so that changes still sort by it.
    pub growth_ratio: f64,
    /// The first incident message of the template.
    pub example: String,
}

/// Which grown templates are worth reporting. New templates are always reported.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareConfig {
    /// Fewer incident messages than this is noise for a template the baseline had.
    pub min_incident_count: u64,
    /// The least growth ratio reported for a template the baseline had.
    pub min_growth_ratio: f64,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            min_incident_count: 3,
            min_growth_ratio: 2.0,
        }
    }
}

/// [`compare_with`] the default thresholds.
pub fn compare(baseline: &[&str], incident: &[&str]) -> Vec<PatternChange> {
    compare_with(baseline, incident, &CompareConfig::default())
}

/// The templates new in the incident window, most frequent first, then the grown ones, the
/// highest growth first (more incident messages, then the template text, break ties).
pub fn compare_with(
    baseline: &[&str],
    incident: &[&str],
    config: &CompareConfig,
) -> Vec<PatternChange> {
    let mut miner = TemplateMiner::default();
    let baseline_ids: Vec<TemplateId> = baseline.iter().map(|line| miner.add(line)).collect();
    let incident_ids: Vec<TemplateId> = incident.iter().map(|line| miner.add(line)).collect();

    // Templates absorbed while mining count in the template that absorbed them.
    let mut baseline_counts: BTreeMap<TemplateId, u64> = BTreeMap::new();
    for id in baseline_ids {
        *baseline_counts.entry(miner.resolve(id)).or_default() += 1;
    }
    let mut incident_counts: BTreeMap<TemplateId, (u64, usize)> = BTreeMap::new();
    for (position, id) in incident_ids.into_iter().enumerate() {
        let entry = incident_counts
            .entry(miner.resolve(id))
            .or_insert((0, position));
        entry.0 += 1;
    }

    let baseline_total = baseline.len().max(1) as f64;
    let incident_total = incident.len().max(1) as f64;
    let mut changes = Vec::new();
    for (id, (incident_count, first_position)) in incident_counts {
        let baseline_count = baseline_counts.get(&id).copied().unwrap_or(0);
        let is_new = baseline_count == 0;
        let incident_share = incident_count as f64 / incident_total;
        let baseline_share = baseline_count.max(1) as f64 / baseline_total;
        let growth_ratio = incident_share / baseline_share;
        let reported = is_new
            || (incident_count >= config.min_incident_count
                && growth_ratio >= config.min_growth_ratio);
        if !reported {
            continue;
        }
        let Some(template) = miner.template(id) else {
            continue;
        };
        changes.push(PatternChange {
            template: template.text().to_owned(),
            baseline_count,
            incident_count,
            is_new,
            growth_ratio,
            example: incident[first_position].to_owned(),
        });
    }
    changes.sort_by(|left, right| {
        right
            .is_new
            .cmp(&left.is_new)
            .then_with(|| {
                if left.is_new {
                    right.incident_count.cmp(&left.incident_count)
                } else {
                    right.growth_ratio.total_cmp(&left.growth_ratio)
                }
            })
            .then_with(|| right.incident_count.cmp(&left.incident_count))
            .then_with(|| left.template.cmp(&right.template))
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(lines: &mut Vec<String>, count: usize, make: impl Fn(usize) -> String) {
        lines.extend((0..count).map(make));
    }

    fn as_strs(lines: &[String]) -> Vec<&str> {
        lines.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_new_error_comes_first_then_the_grown_one() {
        let mut baseline = Vec::new();
        repeat(&mut baseline, 95, |index| {
            format!("GET /api/orders/{index} 200 in {index} ms")
        });
        repeat(&mut baseline, 5, |index| {
            format!("retrying payment {index} after timeout")
        });
        let mut incident = Vec::new();
        repeat(&mut incident, 60, |index| {
            format!("GET /api/orders/{index} 200 in {index} ms")
        });
        repeat(&mut incident, 30, |index| {
            format!("retrying payment {index} after timeout")
        });
        repeat(&mut incident, 10, |index| {
            format!("connection refused to db-{} after {index} ms", index % 3)
        });

        let changes = compare(&as_strs(&baseline), &as_strs(&incident));
        assert_eq!(changes.len(), 2, "{changes:#?}");

        let new = &changes[0];
        assert!(new.is_new);
        assert_eq!(new.template, "connection refused to <*> after <*>");
        assert_eq!((new.baseline_count, new.incident_count), (0, 10));
        assert_eq!(new.example, "connection refused to db-0 after 0 ms");
        // Against one baseline message in 100: a share of 10 % is 10 times that.
        assert!((new.growth_ratio - 10.0).abs() < 1e-9);

        let grown = &changes[1];
        assert!(!grown.is_new);
        assert_eq!(grown.template, "retrying payment <*> after timeout");
        assert_eq!((grown.baseline_count, grown.incident_count), (5, 30));
        assert!((grown.growth_ratio - 6.0).abs() < 1e-9);
    }

    #[test]
    fn shares_not_counts_make_growth() {
        // Twice the traffic in the incident window, the same mix: nothing grew.
        let mut baseline = Vec::new();
        repeat(&mut baseline, 90, |index| format!("served request {index}"));
        repeat(&mut baseline, 10, |index| format!("slow query {index} ms"));
        let mut incident = Vec::new();
        repeat(&mut incident, 180, |index| {
            format!("served request {index}")
        });
        repeat(&mut incident, 20, |index| format!("slow query {index} ms"));
        assert!(compare(&as_strs(&baseline), &as_strs(&incident)).is_empty());
    }

    #[test]
    fn a_grown_template_needs_enough_messages() {
        let mut baseline = Vec::new();
        repeat(&mut baseline, 99, |index| format!("served request {index}"));
        repeat(&mut baseline, 1, |index| format!("cache eviction {index}"));
        let mut incident = Vec::new();
        repeat(&mut incident, 98, |index| format!("served request {index}"));
        repeat(&mut incident, 2, |index| format!("cache eviction {index}"));
        let baseline = as_strs(&baseline);
        let incident = as_strs(&incident);
        assert!(compare(&baseline, &incident).is_empty());
        let config = CompareConfig {
            min_incident_count: 2,
            ..CompareConfig::default()
        };
        let changes = compare_with(&baseline, &incident, &config);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].template, "cache eviction <*>");
    }

    #[test]
    fn new_templates_sort_by_count_and_an_empty_baseline_makes_all_new() {
        let incident = [
            "disk full on /dev/sda1",
            "worker crashed: OutOfMemoryError",
            "disk full on /dev/sdb1",
        ];
        let changes = compare(&[], &incident);
        let summary: Vec<(&str, u64, bool)> = changes
            .iter()
            .map(|change| {
                (
                    change.template.as_str(),
                    change.incident_count,
                    change.is_new,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("disk full on <*>", 2, true),
                ("worker crashed: OutOfMemoryError", 1, true),
            ]
        );
    }

    #[test]
    fn pattern_changes_render_as_json() {
        let changes = compare(&["a b c"], &["x y z"]);
        let json = serde_json::to_value(&changes).unwrap();
        assert_eq!(json[0]["template"], "x y z");
        assert_eq!(json[0]["is_new"], true);
    }
}
