//! Service-level root-cause accuracy as Nezha reports it: a fault counts for top-k when its
//! service is among the first k distinct services of the ranked causes.

/// Published service-level accuracy on Train Ticket (Nezha, FSE 2023; both recorded days, 45
/// faults): (method, top-1, top-3, top-5) in percent.
pub const PUBLISHED: [(&str, f64, f64, f64); 3] = [
    ("Nezha", 86.7, 97.8, 97.8),
    ("MicroRank", 15.6, 24.4, 35.6),
    ("PDiagnose", 8.9, 13.3, 22.2),
];

/// The 1-based rank of `truth` among the distinct services of `ranked`, in order.
pub fn service_rank<'a>(ranked: impl IntoIterator<Item = &'a str>, truth: &str) -> Option<usize> {
    let mut distinct: Vec<&str> = Vec::new();
    for service in ranked {
        if !distinct.contains(&service) {
            distinct.push(service);
        }
    }
    distinct
        .iter()
        .position(|service| *service == truth)
        .map(|index| index + 1)
}

/// The first `count` distinct services of `ranked`, in order.
pub fn top_services<'a>(ranked: impl IntoIterator<Item = &'a str>, count: usize) -> Vec<&'a str> {
    let mut distinct: Vec<&str> = Vec::new();
    for service in ranked {
        if distinct.len() == count {
            break;
        }
        if !distinct.contains(&service) {
            distinct.push(service);
        }
    }
    distinct
}

/// Hits at top-1, top-3 and top-5 over a number of cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accuracy {
    pub cases: usize,
    pub top1: usize,
    pub top3: usize,
    pub top5: usize,
}

impl Accuracy {
    pub fn add(&mut self, rank: Option<usize>) {
        self.cases += 1;
        if let Some(rank) = rank {
            self.top1 += usize::from(rank <= 1);
            self.top3 += usize::from(rank <= 3);
            self.top5 += usize::from(rank <= 5);
        }
    }

    /// Hits as a percentage of the cases (0 without cases).
    pub fn percent(&self, hits: usize) -> f64 {
        if self.cases == 0 {
            return 0.0;
        }
        100.0 * hits as f64 / self.cases as f64
    }
}

/// Accuracy over all cases and per fault type (types in order of first appearance).
pub fn tally<'a>(
    ranks: impl IntoIterator<Item = (&'a str, Option<usize>)>,
) -> (Accuracy, Vec<(String, Accuracy)>) {
    let mut overall = Accuracy::default();
    let mut by_type: Vec<(String, Accuracy)> = Vec::new();
    for (kind, rank) in ranks {
        overall.add(rank);
        let position = match by_type.iter().position(|(known, _)| known == kind) {
            Some(position) => position,
            None => {
                by_type.push((kind.to_owned(), Accuracy::default()));
                by_type.len() - 1
            }
        };
        by_type[position].1.add(rank);
    }
    (overall, by_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_counts_distinct_services() {
        let ranked = ["a", "a", "b", "a", "c"];
        assert_eq!(service_rank(ranked, "a"), Some(1));
        assert_eq!(service_rank(ranked, "b"), Some(2));
        assert_eq!(service_rank(ranked, "c"), Some(3));
        assert_eq!(service_rank(ranked, "d"), None);
        assert_eq!(top_services(ranked, 2), vec!["a", "b"]);
    }

    #[test]
    fn tally_per_type_and_overall() {
        let (overall, by_type) = tally([
            ("return", Some(1)),
            ("exception", Some(3)),
            ("return", Some(5)),
            ("return", None),
        ]);
        assert_eq!(
            overall,
            Accuracy {
                cases: 4,
                top1: 1,
                top3: 2,
                top5: 3
            }
        );
        assert_eq!(by_type[0].0, "return");
        assert_eq!(by_type[0].1.cases, 3);
        assert_eq!(by_type[1].1.top3, 1);
        assert!((overall.percent(overall.top5) - 75.0).abs() < 1e-9);
    }
}
