//! The faults the demo injects. Each scenario changes the shop from its start time in one
//! way (a deploy with a flaw, a dependency that times out, a load spike, a leak, a CPU hog,
//! a slow network path) and comes with the SLOs of the service it hurts, as YAML in the
//! format of `examples/slos/`. The shop reads a scenario's [`Effects`] at each moment; what
//! the fault *is* lives here, how the shop reacts to it lives in `shop`.

use std::fmt;
use std::str::FromStr;

use crate::shop::Service;

/// A fault scenario (`--scenario`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    SlowQueryAfterDeploy,
    DependencyOutage,
    TrafficSpike,
    MemoryLeak,
    CpuSaturation,
    NetworkDelay,
    BadDeployErrors,
}

/// A defect a new version ships with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// `GET /customers/{id}` joins a table on a column without an index.
    SlowCustomerQuery,
    /// `POST /orders` dereferences a nil promotion for some carts.
    NilPromotion,
}

/// A new version rolled out over the service's pods, one pod every [`ROLLOUT_STEP_NANOS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollout {
    pub service: Service,
    pub version: &'static str,
    pub flaw: Option<Flaw>,
}

/// The time between two pods of a rolling update.
pub const ROLLOUT_STEP_NANOS: u64 = 15 * 1_000_000_000;

/// How the scenario bends the shop at one moment; neutral before the fault.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Effects {
    /// Extra product-page views per second at the frontend (a campaign link gone viral).
    pub extra_product_views_per_second: f64,
    /// A background job's CPU share on every pod of a service.
    pub cpu_hog: Option<(Service, f64)>,
    /// Bytes per second every pod of a service leaks.
    pub leak_bytes_per_second: Option<(Service, f64)>,
    /// Extra one-way wire delay (median, ms) on calls from the first service to the second.
    pub network_delay_ms: Option<(Service, Service, f64)>,
    /// The share of calls to the external payment API that time out.
    pub payment_api_timeouts: f64,
}

/// What the user sees in the demo's story for one scenario.
#[derive(Clone, Copy, Debug)]
pub struct Story {
    /// One line: what happens at the fault.
    pub fault: &'static str,
    /// The service whose SLOs come with the scenario.
    pub service: Service,
    /// The SLO that is expected to page.
    pub paging_slo: &'static str,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::SlowQueryAfterDeploy,
        Scenario::DependencyOutage,
        Scenario::TrafficSpike,
        Scenario::MemoryLeak,
        Scenario::CpuSaturation,
        Scenario::NetworkDelay,
        Scenario::BadDeployErrors,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::SlowQueryAfterDeploy => "slow-query-after-deploy",
            Scenario::DependencyOutage => "dependency-outage",
            Scenario::TrafficSpike => "traffic-spike",
            Scenario::MemoryLeak => "memory-leak",
            Scenario::CpuSaturation => "cpu-saturation",
            Scenario::NetworkDelay => "network-delay",
            Scenario::BadDeployErrors => "bad-deploy-errors",
        }
    }

    pub fn story(self) -> Story {
        match self {
            Scenario::SlowQueryAfterDeploy => Story {
                fault: "customers v1.4.2 rolls out; its GET /customers/{id} joins loyalty_accounts on a column without an index",
                service: Service::Customers,
                paging_slo: "customers-latency",
            },
            Scenario::DependencyOutage => Story {
                fault: "the external payment API (api.paymentgateway.example) stops answering; payments' calls time out after 5 s",
                service: Service::Payments,
                paging_slo: "payments-availability",
            },
            Scenario::TrafficSpike => Story {
                fault: "a campaign link sends 36 extra product-page views per second to the frontend",
                service: Service::Frontend,
                paging_slo: "frontend-product-latency",
            },
            Scenario::MemoryLeak => Story {
                fault: "catalog's product cache stops evicting: every pod leaks about 8 MiB/s until the heap is full",
                service: Service::Catalog,
                paging_slo: "catalog-latency",
            },
            Scenario::CpuSaturation => Story {
                fault: "a report export job starts on every orders pod and takes all the CPU their limits allow",
                service: Service::Orders,
                paging_slo: "orders-list-latency",
            },
            Scenario::NetworkDelay => Story {
                fault: "the network path from orders to payments starts losing packets: about 600 ms more each way",
                service: Service::Orders,
                paging_slo: "orders-checkout-latency",
            },
            Scenario::BadDeployErrors => Story {
                fault: "orders v2.4.0 rolls out; POST /orders panics on carts without a promotion code (most of them)",
                service: Service::Orders,
                paging_slo: "orders-availability",
            },
        }
    }

    /// The version this scenario rolls out at the fault, if any.
    pub fn rollout(self) -> Option<Rollout> {
        match self {
            Scenario::SlowQueryAfterDeploy => Some(Rollout {
                service: Service::Customers,
                version: "1.4.2",
                flaw: Some(Flaw::SlowCustomerQuery),
            }),
            Scenario::BadDeployErrors => Some(Rollout {
                service: Service::Orders,
                version: "2.4.0",
                flaw: Some(Flaw::NilPromotion),
            }),
            _ => None,
        }
    }

    /// The scenario's effects `since_fault` nanoseconds after the fault (None: before it).
    pub fn effects(self, since_fault: Option<u64>) -> Effects {
        let Some(since_fault) = since_fault else {
            return Effects::default();
        };
        let seconds = since_fault as f64 / 1e9;
        let mut effects = Effects::default();
        match self {
            // Deploys act through the pods that run the new version.
            Scenario::SlowQueryAfterDeploy | Scenario::BadDeployErrors => {}
            Scenario::DependencyOutage => effects.payment_api_timeouts = 0.9,
            // The campaign's traffic builds up over 20 seconds.
            Scenario::TrafficSpike => {
                effects.extra_product_views_per_second = 36.0 * (seconds / 20.0).min(1.0)
            }
            Scenario::MemoryLeak => {
                effects.leak_bytes_per_second = Some((Service::Catalog, 8.0 * 1024.0 * 1024.0))
            }
            Scenario::CpuSaturation => effects.cpu_hog = Some((Service::Orders, 1.0)),
            Scenario::NetworkDelay => {
                effects.network_delay_ms = Some((Service::Orders, Service::Payments, 600.0))
            }
        }
        effects
    }

    /// The SLOs of the affected service, one YAML document each (sloscope's SLO format).
    pub fn slo_yaml(self) -> String {
        let slos: &[SloText] = match self {
            Scenario::SlowQueryAfterDeploy => &[CUSTOMERS_LATENCY, CUSTOMERS_AVAILABILITY],
            Scenario::DependencyOutage => &[PAYMENTS_AVAILABILITY, PAYMENTS_LATENCY],
            Scenario::TrafficSpike => &[FRONTEND_PRODUCT_LATENCY, FRONTEND_AVAILABILITY],
            Scenario::MemoryLeak => &[CATALOG_LATENCY, CATALOG_AVAILABILITY],
            Scenario::CpuSaturation => &[ORDERS_LIST_LATENCY, ORDERS_AVAILABILITY],
            Scenario::NetworkDelay => &[ORDERS_CHECKOUT_LATENCY, ORDERS_AVAILABILITY],
            Scenario::BadDeployErrors => &[ORDERS_AVAILABILITY, ORDERS_CHECKOUT_LATENCY],
        };
        let mut text = format!(
            "# SLOs of {} for the `{}` demo scenario (written by `sloscope demo`).\n",
            self.story().service.name(),
            self.name()
        );
        for (index, slo) in slos.iter().enumerate() {
            if index > 0 {
                text.push_str("---\n");
            }
            text.push_str(&slo.render());
        }
        text
    }

    /// The SLOs of [`Scenario::slo_yaml`] as (name, indicator, threshold in ms, operation):
    /// what the shop's tests check the traffic against.
    pub fn slo_targets(self) -> Vec<SloTarget> {
        let slos: &[SloText] = match self {
            Scenario::SlowQueryAfterDeploy => &[CUSTOMERS_LATENCY, CUSTOMERS_AVAILABILITY],
            Scenario::DependencyOutage => &[PAYMENTS_AVAILABILITY, PAYMENTS_LATENCY],
            Scenario::TrafficSpike => &[FRONTEND_PRODUCT_LATENCY, FRONTEND_AVAILABILITY],
            Scenario::MemoryLeak => &[CATALOG_LATENCY, CATALOG_AVAILABILITY],
            Scenario::CpuSaturation => &[ORDERS_LIST_LATENCY, ORDERS_AVAILABILITY],
            Scenario::NetworkDelay => &[ORDERS_CHECKOUT_LATENCY, ORDERS_AVAILABILITY],
            Scenario::BadDeployErrors => &[ORDERS_AVAILABILITY, ORDERS_CHECKOUT_LATENCY],
        };
        slos.iter()
            .map(|slo| SloTarget {
                name: slo.name,
                service: slo.service,
                operation: slo.operation,
                latency_threshold_ms: slo.latency_threshold_ms,
                objective_percent: slo.objective_percent,
                // sloscope's default.
                min_events: slo.min_events.unwrap_or(20),
            })
            .collect()
    }
}

/// What an SLO counts, in terms the shop's tests can apply to spans.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SloTarget {
    pub name: &'static str,
    pub service: Service,
    pub operation: Option<&'static str>,
    /// None: an availability SLO.
    pub latency_threshold_ms: Option<f64>,
    pub objective_percent: f64,
    /// Events an alert window needs before a rule may fire.
    pub min_events: u32,
}

/// One SLO of a scenario. Every SLO has a 7-day window, so the SRE Workbook's page rule
/// scales to 14.4x over 14 minutes and 1 minute: with a 99.9 % objective a fault that spoils
/// a few percent of the requests pages within a minute or two, and the normal traffic (a
/// few bad requests in ten thousand) never does.
struct SloText {
    name: &'static str,
    description: &'static str,
    service: Service,
    operation: Option<&'static str>,
    latency_threshold_ms: Option<f64>,
    objective_percent: f64,
    /// Low-traffic services: fewer events per alert window than the default 20.
    min_events: Option<u32>,
    team: &'static str,
}

impl SloText {
    fn render(&self) -> String {
        let mut text = String::new();
        text.push_str("apiVersion: sloscope/v1\nkind: SLO\n");
        text.push_str(&format!("name: {}\n", self.name));
        text.push_str(&format!("description: {}\n", self.description));
        text.push_str(&format!("service: {}\n", self.service.name()));
        text.push_str("environment: production\n");
        if let Some(operation) = self.operation {
            text.push_str(&format!("operation: \"{operation}\"\n"));
        }
        match self.latency_threshold_ms {
            Some(threshold) => text.push_str(&format!(
                "indicator:\n  latency: {{threshold_ms: {threshold}}}\n"
            )),
            None => text.push_str("indicator: availability\n"),
        }
        text.push_str(&format!("objective: {}\n", self.objective_percent));
        text.push_str("window: 7d\n");
        if let Some(min_events) = self.min_events {
            text.push_str(&format!(
                "alerting:\n  min_events: {min_events}   # a few checkouts a minute at night\n"
            ));
        }
        text.push_str(&format!("labels: {{team: {}}}\n", self.team));
        text
    }
}

const CUSTOMERS_LATENCY: SloText = SloText {
    name: "customers-latency",
    description: "Customers answers within 300 ms",
    service: Service::Customers,
    operation: None,
    latency_threshold_ms: Some(300.0),
    objective_percent: 99.9,
    min_events: None,
    team: "customers",
};

const CUSTOMERS_AVAILABILITY: SloText = SloText {
    name: "customers-availability",
    description: "Customers answers without faults",
    service: Service::Customers,
    operation: None,
    latency_threshold_ms: None,
    objective_percent: 99.9,
    min_events: None,
    team: "customers",
};

const PAYMENTS_AVAILABILITY: SloText = SloText {
    name: "payments-availability",
    description: "Payments are charged without faults",
    service: Service::Payments,
    operation: None,
    latency_threshold_ms: None,
    objective_percent: 99.9,
    min_events: Some(10),
    team: "payments",
};

const PAYMENTS_LATENCY: SloText = SloText {
    name: "payments-latency",
    description: "Payments are charged within 2 s",
    service: Service::Payments,
    operation: Some("POST /payments"),
    latency_threshold_ms: Some(2000.0),
    objective_percent: 99.5,
    min_events: Some(10),
    team: "payments",
};

const FRONTEND_PRODUCT_LATENCY: SloText = SloText {
    name: "frontend-product-latency",
    description: "Product pages render within 800 ms",
    service: Service::Frontend,
    operation: Some("GET /products/{id}"),
    latency_threshold_ms: Some(800.0),
    objective_percent: 99.9,
    min_events: None,
    team: "web",
};

const FRONTEND_AVAILABILITY: SloText = SloText {
    name: "frontend-availability",
    description: "The shop's pages answer without faults",
    service: Service::Frontend,
    operation: None,
    latency_threshold_ms: None,
    objective_percent: 99.9,
    min_events: None,
    team: "web",
};

const CATALOG_LATENCY: SloText = SloText {
    name: "catalog-latency",
    description: "Catalog answers within 250 ms",
    service: Service::Catalog,
    operation: None,
    latency_threshold_ms: Some(250.0),
    objective_percent: 99.9,
    min_events: None,
    team: "catalog",
};

const CATALOG_AVAILABILITY: SloText = SloText {
    name: "catalog-availability",
    description: "Catalog answers without faults",
    service: Service::Catalog,
    operation: None,
    latency_threshold_ms: None,
    objective_percent: 99.9,
    min_events: None,
    team: "catalog",
};

const ORDERS_LIST_LATENCY: SloText = SloText {
    name: "orders-list-latency",
    description: "Order lists load within 200 ms",
    service: Service::Orders,
    operation: Some("GET /orders"),
    latency_threshold_ms: Some(200.0),
    objective_percent: 99.9,
    min_events: Some(10),
    team: "orders",
};

const ORDERS_CHECKOUT_LATENCY: SloText = SloText {
    name: "orders-checkout-latency",
    description: "Orders are placed (payment included) within 1.5 s",
    service: Service::Orders,
    operation: Some("POST /orders"),
    latency_threshold_ms: Some(1500.0),
    objective_percent: 99.9,
    min_events: Some(10),
    team: "orders",
};

const ORDERS_AVAILABILITY: SloText = SloText {
    name: "orders-availability",
    description: "Orders answers without faults",
    service: Service::Orders,
    operation: None,
    latency_threshold_ms: None,
    objective_percent: 99.9,
    min_events: Some(10),
    team: "orders",
};

impl fmt::Display for Scenario {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown scenario `{given}`; one of: {known}")]
pub struct UnknownScenario {
    given: String,
    known: String,
}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(text: &str) -> Result<Scenario, UnknownScenario> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == text)
            .ok_or_else(|| UnknownScenario {
                given: text.to_owned(),
                known: Scenario::ALL.map(Scenario::name).join(", "),
            })
    }
}
