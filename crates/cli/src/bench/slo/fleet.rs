//! The synthetic fleet that both sides of `bench slo` evaluate: services with a few operations
//! each, one availability and one latency SLO per operation, and for every minute the requests,
//! faults and slow requests of every operation (a daily traffic cycle, noise, and incidents).
//!
//! Every figure is a pure function of (seed, operation, minute), so the sloscope side, the
//! spans in its store, the Prometheus backfill and the live scrape target all see the same
//! traffic without anyone holding 30 days of it in memory.

use std::collections::BTreeMap;
use std::f64::consts::TAU;

use sloscope_slo::spec::{Budgeting, Indicator, Scope, SloSpec, Window};
use sloscope_slo::{AlertPolicy, BurnRule, Severity};

pub const OPERATIONS_PER_SERVICE: usize = 5;
/// Good latency: at most this long.
pub const LATENCY_THRESHOLD_MS: f64 = 300.0;
/// The same threshold as the `le` label of a Prometheus histogram bucket.
pub const LATENCY_BUCKET_LABEL: &str = "0.3";
/// Every SLO's window: rolling 30 days.
pub const SLO_PERIOD_DAYS: i64 = 30;
pub const MINUTES_PER_DAY: i64 = 24 * 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SloKind {
    Availability,
    Latency,
}

impl SloKind {
    /// The suffix of the SLO's name.
    pub fn short_name(self) -> &'static str {
        match self {
            SloKind::Availability => "avail",
            SloKind::Latency => "latency",
        }
    }
}

/// A period of elevated faults or slow requests on one operation.
#[derive(Clone, Debug)]
struct Incident {
    from_minute: i64,
    to_minute: i64,
    fault_ratio: f64,
    slow_ratio: f64,
}

/// One operation of one service, with the traffic it gets.
#[derive(Clone, Debug)]
pub struct Operation {
    pub service: String,
    pub name: String,
    /// Mean requests per minute over a day.
    mean_per_minute: f64,
    /// Where in its daily cycle the service is at midnight UTC (time zones differ).
    daily_phase: f64,
    fault_ratio: f64,
    slow_ratio: f64,
    incidents: Vec<Incident>,
}

/// One SLO of the fleet: which operation, which indicator, which objective.
#[derive(Clone, Debug)]
pub struct SloDefinition {
    pub operation: usize,
    pub kind: SloKind,
    /// A fraction: 0.999.
    pub objective: f64,
    /// Unique across the fleet; also the Sloth id (`<service>-<slo>`).
    pub name: String,
    /// The name within its service, Sloth's `sloth_slo`.
    pub short_name: String,
}

/// What one operation saw in one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinuteTraffic {
    pub requests: u64,
    /// Requests that failed on the server's side (status error).
    pub faults: u64,
    /// Requests slower than the latency threshold.
    pub slow: u64,
}

impl MinuteTraffic {
    /// The requests the SLO counts as bad.
    pub fn bad(&self, kind: SloKind) -> u64 {
        match kind {
            SloKind::Availability => self.faults,
            SloKind::Latency => self.slow,
        }
    }
}

pub struct Fleet {
    seed: u64,
    pub operations: Vec<Operation>,
    pub slos: Vec<SloDefinition>,
    /// The first minute after the generated history: "now" when the measurement starts.
    pub end_minute: i64,
    /// Days of history before `end_minute`.
    pub days: i64,
    pub incidents: usize,
}

/// Half the SLOs at 99.9 %, half at 99 %, crossed with the indicator.
fn objective(operation_index: usize, kind: SloKind) -> f64 {
    let strict = operation_index.is_multiple_of(2) == (kind == SloKind::Availability);
    if strict { 0.999 } else { 0.99 }
}

/// splitmix64's finaliser: a well-mixed 64-bit value from any input.
fn mix(value: u64) -> u64 {
    let mut mixed = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    mixed ^ (mixed >> 31)
}

/// Uniform draws in [0, 1) that depend only on their inputs.
struct Draws {
    state: u64,
}

impl Draws {
    fn new(seed: u64, first: u64, second: u64) -> Draws {
        Draws {
            state: mix(seed ^ mix(first ^ mix(second.rotate_left(29)))),
        }
    }

    fn unit(&mut self) -> f64 {
        self.state = mix(self.state);
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        (low.ln() + self.unit() * (high.ln() - low.ln())).exp()
    }

    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + (self.unit() * (high - low) as f64) as i64
    }

    /// A Poisson draw: by inversion for small means, by the normal approximation above.
    fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean >= 12.0 {
            let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
            let normal = radius * (TAU * self.unit()).cos();
            return (mean + mean.sqrt() * normal).round().max(0.0) as u64;
        }
        let target = self.unit();
        let mut probability = (-mean).exp();
        let mut cumulative = probability;
        let mut count = 0u64;
        while target > cumulative && count < 200 {
            count += 1;
            probability *= mean / count as f64;
            cumulative += probability;
        }
        count
    }
}

impl Fleet {
    /// `slo_count` SLOs over `slo_count / 2` operations, five per service; `days` of history
    /// ending just before `end_minute`.
    pub fn new(slo_count: usize, days: i64, end_minute: i64, seed: u64) -> Fleet {
        let operation_count = slo_count.div_ceil(2);
        let history_start = end_minute - days * MINUTES_PER_DAY;
        let mut operations = Vec::with_capacity(operation_count);
        let mut incidents = 0;
        for index in 0..operation_count {
            let service_index = index / OPERATIONS_PER_SERVICE;
            let mut draws = Draws::new(seed, 0xF1EE7, index as u64);
            let mut service_draws = Draws::new(seed, 0x5E41CE, service_index as u64);
            // Outside incidents an operation spends 5 % to 80 % of each SLO's error budget.
            let fault_budget = 1.0 - objective(index, SloKind::Availability);
            let slow_budget = 1.0 - objective(index, SloKind::Latency);
            let mut operation = Operation {
                service: format!("svc{service_index:04}"),
                name: format!("op{}", index % OPERATIONS_PER_SERVICE + 1),
                mean_per_minute: draws.log_uniform(4.0, 100.0),
                daily_phase: service_draws.unit() * TAU,
                fault_ratio: fault_budget * draws.log_uniform(0.05, 0.8),
                slow_ratio: slow_budget * draws.log_uniform(0.05, 0.8),
                incidents: Vec::new(),
            };
            // One operation in twenty had an incident in the window; one in a hundred has one
            // going on while the measurement runs, so that alerts fire and resolve.
            if draws.unit() < 0.05 && days > 0 {
                let from_minute = draws.between(history_start, end_minute - 180);
                let faults = draws.unit() < 0.6;
                let severity = draws.log_uniform(0.005, 0.3);
                operation.incidents.push(Incident {
                    from_minute,
                    to_minute: from_minute + draws.between(5, 240),
                    fault_ratio: if faults { severity } else { 0.0 },
                    slow_ratio: if faults { 0.0 } else { severity },
                });
            }
            if draws.unit() < 0.01 {
                let severity = draws.log_uniform(0.05, 0.5);
                operation.incidents.push(Incident {
                    from_minute: end_minute - 40,
                    to_minute: end_minute + 60,
                    fault_ratio: severity,
                    slow_ratio: severity / 2.0,
                });
            }
            incidents += operation.incidents.len();
            operations.push(operation);
        }
        let mut slos = Vec::with_capacity(slo_count);
        for (index, operation) in operations.iter().enumerate() {
            for kind in [SloKind::Availability, SloKind::Latency] {
                if slos.len() == slo_count {
                    break;
                }
                let short_name = format!("{}-{}", operation.name, kind.short_name());
                slos.push(SloDefinition {
                    operation: index,
                    kind,
                    objective: objective(index, kind),
                    name: format!("{}-{short_name}", operation.service),
                    short_name,
                });
            }
        }
        Fleet {
            seed,
            operations,
            slos,
            end_minute,
            days,
            incidents,
        }
    }

    pub fn service_count(&self) -> usize {
        self.operations.len().div_ceil(OPERATIONS_PER_SERVICE)
    }

    pub fn history_start(&self) -> i64 {
        self.end_minute - self.days * MINUTES_PER_DAY
    }

    /// The traffic of one operation in one minute.
    pub fn traffic(&self, operation_index: usize, minute: i64) -> MinuteTraffic {
        let operation = &self.operations[operation_index];
        let mut draws = Draws::new(self.seed, operation_index as u64, minute as u64);
        let time_of_day = minute.rem_euclid(MINUTES_PER_DAY) as f64 / MINUTES_PER_DAY as f64;
        let daily = 1.0 + 0.5 * (TAU * time_of_day + operation.daily_phase).sin();
        let requests = draws.poisson(operation.mean_per_minute * daily);
        let mut fault_ratio = operation.fault_ratio;
        let mut slow_ratio = operation.slow_ratio;
        for incident in &operation.incidents {
            if (incident.from_minute..incident.to_minute).contains(&minute) {
                fault_ratio = fault_ratio.max(incident.fault_ratio);
                slow_ratio = slow_ratio.max(incident.slow_ratio);
            }
        }
        let faults = draws.poisson(requests as f64 * fault_ratio).min(requests);
        let slow = draws.poisson(requests as f64 * slow_ratio).min(requests);
        MinuteTraffic {
            requests,
            faults,
            slow,
        }
    }

    /// A well-mixed number for the span generator (trace ids, latencies).
    pub fn noise(&self, operation_index: usize, minute: i64, request: u64) -> u64 {
        mix(self.seed ^ mix(operation_index as u64 ^ mix(minute as u64 ^ mix(request))))
    }

    /// The sloscope spec of one SLO: the operation's requests, 30 rolling days, and the alert
    /// rules Sloth generates (the Workbook's two pages plus its two tickets, 1d/2h at 3x and
    /// 3d/6h at 1x), so both sides alert on the same conditions.
    pub fn spec(&self, slo: &SloDefinition) -> SloSpec {
        let operation = &self.operations[slo.operation];
        let period_minutes = SLO_PERIOD_DAYS * MINUTES_PER_DAY;
        let mut alerting = AlertPolicy::workbook(period_minutes);
        alerting.burn_rules = sloth_burn_rules();
        SloSpec {
            name: slo.name.clone(),
            description: String::new(),
            service: operation.service.clone(),
            environment: None,
            scope: Scope::Operation {
                operation: operation.name.clone(),
            },
            indicator: match slo.kind {
                SloKind::Availability => Indicator::Availability,
                SloKind::Latency => Indicator::Latency {
                    threshold_ms: LATENCY_THRESHOLD_MS,
                },
            },
            objective: slo.objective,
            window: Window::Rolling {
                days: SLO_PERIOD_DAYS as u32,
            },
            budgeting: Budgeting::Occurrences,
            alerting,
            exclusions: Vec::new(),
            labels: BTreeMap::new(),
        }
    }
}

/// Sloth's default multi-window multi-burn-rate rules for a 30-day period.
pub fn sloth_burn_rules() -> Vec<BurnRule> {
    let rule = |severity, burn_rate, long_minutes: i64, short_minutes: i64| BurnRule {
        severity,
        burn_rate,
        long_minutes,
        short_minutes,
    };
    vec![
        rule(Severity::Page, 14.4, 60, 5),
        rule(Severity::Page, 6.0, 6 * 60, 30),
        rule(Severity::Ticket, 3.0, MINUTES_PER_DAY, 2 * 60),
        rule(Severity::Ticket, 1.0, 3 * MINUTES_PER_DAY, 6 * 60),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_is_a_function_of_its_inputs() {
        let fleet = Fleet::new(100, 2, 29_000_000, 7);
        let again = Fleet::new(100, 2, 29_000_000, 7);
        for minute in 28_997_000..28_997_100 {
            assert_eq!(fleet.traffic(3, minute), again.traffic(3, minute));
        }
        assert_eq!(fleet.slos.len(), 100);
        assert_eq!(fleet.service_count(), 10);
    }

    #[test]
    fn traffic_has_the_mean_it_was_given() {
        let fleet = Fleet::new(20, 1, 29_000_000, 3);
        let operation = &fleet.operations[0];
        let minutes = 0..MINUTES_PER_DAY;
        let total: u64 = minutes
            .clone()
            .map(|offset| fleet.traffic(0, 28_000_000 + offset).requests)
            .sum();
        let mean = total as f64 / MINUTES_PER_DAY as f64;
        let expected = operation.mean_per_minute;
        assert!(
            (mean - expected).abs() < 0.1 * expected + 1.0,
            "mean {mean}, expected {expected}"
        );
    }

    #[test]
    fn names_are_unique_and_valid() {
        let fleet = Fleet::new(1_001, 1, 29_000_000, 1);
        let names: std::collections::BTreeSet<&str> =
            fleet.slos.iter().map(|slo| slo.name.as_str()).collect();
        assert_eq!(names.len(), 1_001);
        assert!(
            fleet
                .slos
                .iter()
                .all(|slo| sloscope_slo::parse::is_valid_name(&slo.name))
        );
    }
}
