//! The shop: five services on a handful of pods, called by a day-shaped stream of shoppers.
//!
//! ```text
//! frontend ─┬─► customers ─► PostgreSQL (customers)
//!           ├─► catalog ──► Redis, PostgreSQL (catalog)
//!           └─► orders ───► PostgreSQL (orders), Redis, Kafka order-events ─► orders (consumer)
//!                 └──────► payments ─► api.paymentgateway.example (external)
//! ```
//!
//! [`Shop::step`] simulates a slice of model time: the requests that arrive in it become
//! traces (server, client, database, cache, producer and consumer spans with the attributes
//! OpenTelemetry instrumentations set), some of them log with their trace context, and every
//! pod reports CPU and memory every [`METRIC_INTERVAL_NANOS`]. Latencies are log-normal;
//! a pod's CPU follows the work it does, and a busy pod makes requests wait. Everything is
//! drawn from one seeded generator, so a seed and a start time replay the same telemetry.
//! The shop never looks at a clock: time is whatever the caller says.

use std::borrow::Cow;

use fastrand::Rng;

use crate::random::{MILLISECOND, chance, lognormal_nanos, poisson, weighted};
use crate::scenario::{Effects, Flaw, ROLLOUT_STEP_NANOS, Rollout, Scenario};
use crate::telemetry::{
    Attributes, LogRecord, MetricKind, MetricPoint, Resource, Severity, SpanEvent, SpanId,
    SpanKind, SpanRecord, Telemetry, TraceId,
};

pub const SECOND_NANOS: u64 = 1_000_000_000;
/// How often every pod reports its CPU, memory and pool metrics.
pub const METRIC_INTERVAL_NANOS: u64 = 15 * SECOND_NANOS;
/// The window over which a pod's CPU utilization is measured (and acts on latency).
const UTILIZATION_WINDOW_NANOS: u64 = 10 * SECOND_NANOS;
/// Frontend requests per second at the busiest hour; the quietest hour has 40 % of it.
pub const PEAK_REQUESTS_PER_SECOND: f64 = 8.0;
const PAYMENT_API: &str = "api.paymentgateway.example";
/// payments' HTTP client gives up on the payment API after this long.
const PAYMENT_API_TIMEOUT_NANOS: u64 = 5 * SECOND_NANOS;
/// How long a pod killed for running out of memory takes to come back.
const RESTART_NANOS: u64 = 20 * SECOND_NANOS;
const MEBIBYTE: f64 = 1024.0 * 1024.0;

const SELECT_CUSTOMER: &str = "SELECT id, name, email, tier FROM customers WHERE id = $1";
const SELECT_CUSTOMER_WITH_POINTS: &str = "SELECT c.id, c.name, c.email, c.tier, l.points FROM customers c LEFT JOIN loyalty_accounts l ON l.customer_id = c.id WHERE c.id = $1";
const SELECT_PRODUCT: &str =
    "SELECT id, name, description, price, stock FROM products WHERE id = $1";
const SELECT_PRODUCTS: &str =
    "SELECT id, name, price FROM products ORDER BY popularity DESC LIMIT $1";
const SELECT_ORDERS: &str =
    "SELECT id, status, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20";
const INSERT_ORDER: &str =
    "INSERT INTO orders (customer_id, status, total, created_at) VALUES ($1, $2, $3, now())";
const UPDATE_ORDER: &str = "UPDATE orders SET status = $1 WHERE id = $2";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Frontend,
    Customers,
    Orders,
    Payments,
    Catalog,
}

/// How a service is built and deployed.
struct Profile {
    version: &'static str,
    language: &'static str,
    scope: &'static str,
    replicas: usize,
    /// The CPU limit of one pod, in cores.
    cores: f64,
    /// Utilization with no requests (runtime, health checks).
    idle_cpu: f64,
    memory_base_mib: f64,
    memory_limit_mib: f64,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Frontend,
        Service::Customers,
        Service::Orders,
        Service::Payments,
        Service::Catalog,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::Customers => "customers",
            Service::Orders => "orders",
            Service::Payments => "payments",
            Service::Catalog => "catalog",
        }
    }

    fn profile(self) -> Profile {
        match self {
            Service::Frontend => Profile {
                version: "3.12.0",
                language: "nodejs",
                scope: "@opentelemetry/instrumentation-http",
                replicas: 3,
                cores: 0.25,
                idle_cpu: 0.03,
                memory_base_mib: 180.0,
                memory_limit_mib: 512.0,
            },
            Service::Customers => Profile {
                version: "1.4.1",
                language: "java",
                scope: "io.opentelemetry.spring-webmvc-6.0",
                replicas: 3,
                cores: 0.5,
                idle_cpu: 0.04,
                memory_base_mib: 620.0,
                memory_limit_mib: 1024.0,
            },
            Service::Orders => Profile {
                version: "2.3.7",
                language: "go",
                scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                replicas: 3,
                cores: 0.5,
                idle_cpu: 0.02,
                memory_base_mib: 90.0,
                memory_limit_mib: 256.0,
            },
            Service::Payments => Profile {
                version: "5.0.3",
                language: "java",
                scope: "io.opentelemetry.spring-webmvc-6.0",
                replicas: 2,
                cores: 0.5,
                idle_cpu: 0.04,
                memory_base_mib: 540.0,
                memory_limit_mib: 1024.0,
            },
            Service::Catalog => Profile {
                version: "3.2.0",
                language: "java",
                scope: "io.opentelemetry.spring-webmvc-6.0",
                replicas: 3,
                cores: 0.5,
                idle_cpu: 0.04,
                memory_base_mib: 400.0,
                memory_limit_mib: 1024.0,
            },
        }
    }
}

/// One running (or retired) pod: a process of one service at one version.
#[derive(Clone, Debug)]
struct Pod {
    service: Service,
    version: &'static str,
    /// Index into the shop's resources (one per pod and version).
    resource: usize,
    flaw: Option<Flaw>,
    /// Unix nanoseconds of the process start (cumulative metrics start here).
    started: u64,
    /// Not ready (restarting) until then.
    ready_from: u64,
    retired: bool,
    /// CPU utilization over the last window, 0 to 1 of the pod's limit (may exceed 1: demand).
    utilization: f64,
    /// CPU time of requests in the current window.
    busy_nanos: u64,
    /// Time connections of the database pool were held in the current metric interval.
    pool_busy_nanos: u64,
    memory_bytes: f64,
    /// This pod's share of a leak (pods do not leak in lockstep).
    leak_factor: f64,
    /// payments: attempts by outcome since the process started.
    attempts: [u64; 3],
}

/// The simulated shop. See the module documentation.
pub struct Shop {
    rng: Rng,
    scenario: Scenario,
    /// Unix nanoseconds of the fault.
    fault_at: u64,
    pods: Vec<Pod>,
    resources: Vec<Resource>,
    /// Rollouts not finished yet: (time of the next pod, rollout).
    rollouts: Vec<(u64, Rollout)>,
    /// Every rollout with its start, as a deploy pipeline would record them.
    deploys: Vec<(u64, Rollout)>,
    out: Telemetry,
    now: u64,
    next_window_at: u64,
    next_metrics_at: u64,
    next_order_id: u64,
    effects: Effects,
}

/// What a handler answered.
#[derive(Clone, Copy, Debug)]
struct Outcome {
    end: u64,
    /// HTTP status code; 0 when no answer came (timeout, refused connection).
    status: u16,
}

/// Where a handler runs: its pod, its trace, the span that called it and when it starts.
#[derive(Clone, Copy)]
struct Call {
    pod: usize,
    trace: TraceId,
    parent: SpanId,
    start: u64,
}

/// The pages of the shop and how often shoppers open them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Home,
    Product,
    Account,
    Checkout,
    Cart,
}

const PAGES: [(Page, f64); 5] = [
    (Page::Home, 25.0),
    (Page::Product, 40.0),
    (Page::Account, 12.0),
    (Page::Checkout, 10.0),
    (Page::Cart, 13.0),
];

/// The share of the peak rate at a time of day: lowest at 04:00 UTC (40 %), highest at 16:00.
pub fn daily_traffic_share(unix_nanos: u64) -> f64 {
    let hour = (unix_nanos / SECOND_NANOS % 86_400) as f64 / 3600.0;
    let phase = std::f64::consts::TAU * (hour - 4.0) / 24.0;
    0.4 + 0.6 * 0.5 * (1.0 - phase.cos())
}

impl Shop {
    /// A shop whose pods start at `start` and whose scenario strikes at `fault_at`.
    pub fn new(seed: u64, scenario: Scenario, start: u64, fault_at: u64) -> Shop {
        let mut shop = Shop {
            rng: Rng::with_seed(seed),
            scenario,
            fault_at,
            pods: Vec::new(),
            resources: Vec::new(),
            rollouts: Vec::new(),
            deploys: Vec::new(),
            out: Telemetry::default(),
            now: start,
            next_window_at: start + UTILIZATION_WINDOW_NANOS,
            next_metrics_at: start + METRIC_INTERVAL_NANOS,
            next_order_id: 100_000 + seed % 1_000 * 1_000,
            effects: Effects::default(),
        };
        for service in Service::ALL {
            for _ in 0..service.profile().replicas {
                // Pods came up at different times before the history starts.
                let started = start.saturating_sub(shop.rng.u64(3_600..7 * 86_400) * SECOND_NANOS);
                shop.add_pod(service, service.profile().version, None, started);
            }
        }
        // An uneventful deploy half-way through the history, so that a deployment alone is
        // not proof of guilt.
        let quiet_deploy_at = start + (fault_at.saturating_sub(start)) / 2;
        if fault_at > start + 2 * 3600 * SECOND_NANOS {
            shop.rollouts.push((
                quiet_deploy_at,
                Rollout {
                    service: Service::Catalog,
                    version: "3.2.1",
                    flaw: None,
                },
            ));
        }
        if let Some(rollout) = scenario.rollout() {
            shop.rollouts.push((fault_at, rollout));
        }
        shop.deploys = shop.rollouts.clone();
        shop
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    pub fn fault_at(&self) -> u64 {
        self.fault_at
    }

    /// Moves the fault (which must not have happened yet) to `at`: the live phase starts
    /// when the backfill is done, and the fault comes a fixed time after that.
    pub fn reschedule_fault(&mut self, at: u64) {
        debug_assert!(self.now <= self.fault_at && self.now <= at);
        if let Some(rollout) = self.scenario.rollout() {
            for (when, planned) in self.rollouts.iter_mut().chain(self.deploys.iter_mut()) {
                if *planned == rollout && *when == self.fault_at {
                    *when = at;
                }
            }
        }
        self.fault_at = at;
    }

    /// Every deploy (rollout start and what it rolls out), past and planned.
    pub fn deploys(&self) -> &[(u64, Rollout)] {
        &self.deploys
    }

    /// Model time simulated so far.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Every resource that has emitted or will emit telemetry (indexed by the records).
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// The versions of `service` running now.
    pub fn running_versions(&self, service: Service) -> Vec<&'static str> {
        let mut versions: Vec<&'static str> = self
            .pods
            .iter()
            .filter(|pod| pod.service == service && !pod.retired)
            .map(|pod| pod.version)
            .collect();
        versions.sort();
        versions.dedup();
        versions
    }

    /// Takes what was emitted so far.
    pub fn drain(&mut self) -> Telemetry {
        std::mem::take(&mut self.out)
    }

    /// Simulates model time up to `until`: requests arriving before it, rollouts, CPU windows
    /// and metric reports due before it. Spans of requests that arrive before `until` may
    /// end after it.
    pub fn step(&mut self, until: u64) {
        const TICK: u64 = SECOND_NANOS;
        while self.now < until {
            let tick_end = (self.now / TICK + 1) * TICK;
            let tick_end = tick_end.min(until);
            self.tick(self.now, tick_end);
            self.now = tick_end;
        }
    }

    fn tick(&mut self, from: u64, to: u64) {
        self.effects = self
            .scenario
            .effects((from >= self.fault_at).then(|| from - self.fault_at));
        self.advance_rollouts(to);
        while self.next_window_at <= to {
            let at = self.next_window_at;
            self.close_utilization_window(at);
            self.next_window_at += UTILIZATION_WINDOW_NANOS;
        }
        while self.next_metrics_at <= to {
            let at = self.next_metrics_at;
            self.report_metrics(at);
            self.next_metrics_at += METRIC_INTERVAL_NANOS;
        }
        let span_seconds = (to - from) as f64 / SECOND_NANOS as f64;
        let rate = PEAK_REQUESTS_PER_SECOND * daily_traffic_share(from);
        let arrivals = poisson(&mut self.rng, rate * span_seconds);
        for _ in 0..arrivals {
            let start = from + self.rng.u64(0..to - from);
            let page = PAGES[weighted(&mut self.rng, &PAGES.map(|(_, weight)| weight))].0;
            self.frontend(page, start);
        }
        let extra = self.effects.extra_product_views_per_second;
        if extra > 0.0 {
            for _ in 0..poisson(&mut self.rng, extra * span_seconds) {
                let start = from + self.rng.u64(0..to - from);
                self.frontend(Page::Product, start);
            }
        }
    }

    // ----- pods, rollouts, resources ------------------------------------------------------

    fn add_pod(
        &mut self,
        service: Service,
        version: &'static str,
        flaw: Option<Flaw>,
        started: u64,
    ) -> usize {
        let profile = service.profile();
        let replica_set = replica_set_hash(service, version);
        let suffix: String = (0..5)
            .map(|_| {
                let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
                alphabet[self.rng.usize(0..alphabet.len())] as char
            })
            .collect();
        let pod_name = format!("{}-{replica_set}-{suffix}", service.name());
        let node = format!(
            "ip-10-0-{}-{}.ec2.internal",
            self.rng.u8(1..4),
            self.rng.u8(10..250)
        );
        let attributes: Attributes = vec![
            ("service.name", service.name().into()),
            ("service.namespace", "shop".into()),
            ("service.version", version.into()),
            ("service.instance.id", pod_name.clone().into()),
            ("deployment.environment.name", "production".into()),
            ("host.name", node.clone().into()),
            ("k8s.namespace.name", "shop".into()),
            ("k8s.deployment.name", service.name().into()),
            ("k8s.pod.name", pod_name.into()),
            ("k8s.node.name", node.into()),
            ("telemetry.sdk.name", "opentelemetry".into()),
            ("telemetry.sdk.language", profile.language.into()),
        ];
        self.resources.push(Resource {
            service: service.name(),
            scope: profile.scope,
            attributes,
        });
        self.pods.push(Pod {
            service,
            version,
            resource: self.resources.len() - 1,
            flaw,
            started,
            ready_from: started,
            retired: false,
            utilization: profile.idle_cpu,
            busy_nanos: 0,
            pool_busy_nanos: 0,
            memory_bytes: profile.memory_base_mib * MEBIBYTE,
            leak_factor: 0.75 + 0.5 * self.rng.f64(),
            attempts: [0; 3],
        });
        self.pods.len() - 1
    }

    /// Replaces one old pod per rollout step with a pod of the new version.
    fn advance_rollouts(&mut self, until: u64) {
        let mut index = 0;
        while index < self.rollouts.len() {
            let (at, rollout) = self.rollouts[index];
            if at >= until {
                index += 1;
                continue;
            }
            let old = self.pods.iter().position(|pod| {
                pod.service == rollout.service && !pod.retired && pod.version != rollout.version
            });
            match old {
                Some(old) => {
                    self.pods[old].retired = true;
                    let new = self.add_pod(rollout.service, rollout.version, rollout.flaw, at);
                    let startup_seconds = 2.0 + 6.0 * self.rng.f64();
                    self.log(
                        new,
                        at,
                        Severity::Info,
                        format!(
                            "{} {} started in {startup_seconds:.1} seconds",
                            rollout.service.name(),
                            rollout.version,
                        ),
                        None,
                    );
                    self.rollouts[index].0 = at + ROLLOUT_STEP_NANOS;
                }
                None => {
                    self.rollouts.remove(index);
                }
            }
        }
    }

    /// A ready pod of `service` at `at`, chosen at random (the load balancer); None when every
    /// pod is restarting.
    fn pick_pod(&mut self, service: Service, at: u64) -> Option<usize> {
        let ready: Vec<usize> = (0..self.pods.len())
            .filter(|&index| {
                let pod = &self.pods[index];
                pod.service == service && !pod.retired && pod.started <= at && pod.ready_from <= at
            })
            .collect();
        if ready.is_empty() {
            return None;
        }
        Some(ready[self.rng.usize(0..ready.len())])
    }

    fn close_utilization_window(&mut self, at: u64) {
        let effects = self.effects;
        for index in 0..self.pods.len() {
            let pod = &mut self.pods[index];
            if pod.retired {
                continue;
            }
            let profile = pod.service.profile();
            let demand = pod.busy_nanos as f64 / (UTILIZATION_WINDOW_NANOS as f64 * profile.cores);
            let hog = match effects.cpu_hog {
                Some((service, share)) if service == pod.service => share,
                _ => 0.0,
            };
            let limit = profile.memory_limit_mib * MEBIBYTE;
            // A heap close to its limit spends its time collecting garbage.
            let pressure = heap_pressure(pod.memory_bytes, limit);
            pod.utilization = profile.idle_cpu + demand + hog + 0.5 * pressure * pressure;
            pod.busy_nanos = 0;
            if let Some((service, bytes_per_second)) = effects.leak_bytes_per_second
                && service == pod.service
                && pod.ready_from <= at
            {
                pod.memory_bytes += bytes_per_second
                    * pod.leak_factor
                    * (UTILIZATION_WINDOW_NANOS as f64 / SECOND_NANOS as f64);
                if pod.memory_bytes >= limit {
                    // OOMKilled: the container restarts with a fresh heap.
                    pod.memory_bytes = profile.memory_base_mib * MEBIBYTE;
                    pod.ready_from = at + RESTART_NANOS;
                    pod.started = at;
                    pod.utilization = profile.idle_cpu;
                }
            }
        }
    }

    fn report_metrics(&mut self, at: u64) {
        for index in 0..self.pods.len() {
            let pod = self.pods[index].clone();
            if pod.retired || pod.started > at {
                continue;
            }
            let profile = pod.service.profile();
            let jitter = 1.0 + 0.03 * crate::random::standard_normal(&mut self.rng);
            let resource = pod.resource;
            let cpu = (pod.utilization * jitter).clamp(0.0, 1.0);
            self.point(
                resource,
                pod.started,
                at,
                "process.cpu.utilization",
                "CPU used, as a share of the container's CPU limit",
                "1",
                MetricKind::Gauge,
                cpu,
                Vec::new(),
            );
            // The heap saws up and down around its live size between collections.
            let memory = pod.memory_bytes * (1.0 + 0.04 * self.rng.f64());
            self.point(
                resource,
                pod.started,
                at,
                "process.memory.usage",
                "Resident memory of the process",
                "By",
                MetricKind::UpDownCounter,
                memory.round(),
                Vec::new(),
            );
            self.point(
                resource,
                pod.started,
                at,
                "container.memory.limit",
                "Memory limit of the container",
                "By",
                MetricKind::Gauge,
                profile.memory_limit_mib * MEBIBYTE,
                Vec::new(),
            );
            let pool = match pod.service {
                Service::Customers => Some(("customers-hikari", 10.0)),
                Service::Orders => Some(("orders-pgx", 20.0)),
                Service::Catalog => Some(("catalog-hikari", 10.0)),
                _ => None,
            };
            if let Some((pool_name, maximum)) = pool {
                // Little's law: connections held on average = time held / interval.
                let used = (self.pods[index].pool_busy_nanos as f64 / METRIC_INTERVAL_NANOS as f64)
                    .min(maximum)
                    .round();
                self.pods[index].pool_busy_nanos = 0;
                for (state, value) in [("used", used), ("idle", maximum - used)] {
                    self.point(
                        resource,
                        pod.started,
                        at,
                        "db.client.connection.count",
                        "Connections of the pool by state",
                        "{connection}",
                        MetricKind::UpDownCounter,
                        value,
                        vec![
                            ("db.client.connection.pool.name", pool_name.into()),
                            ("db.client.connection.state", state.into()),
                        ],
                    );
                }
                self.point(
                    resource,
                    pod.started,
                    at,
                    "db.client.connection.max",
                    "The most connections the pool opens",
                    "{connection}",
                    MetricKind::UpDownCounter,
                    maximum,
                    vec![("db.client.connection.pool.name", pool_name.into())],
                );
            }
            if pod.service == Service::Payments {
                for (outcome, count) in ["success", "declined", "error"].iter().zip(pod.attempts) {
                    self.point(
                        resource,
                        pod.started,
                        at,
                        "payments_attempts_total",
                        "Payment attempts by outcome",
                        "{attempt}",
                        MetricKind::Counter,
                        count as f64,
                        vec![("outcome", (*outcome).into())],
                    );
                }
            }
        }
    }

    // ----- the services ----------------------------------------------------------------

    fn frontend(&mut self, page: Page, start: u64) {
        // With no frontend pod ready the load balancer answers; no span is recorded.
        let Some(pod) = self.pick_pod(Service::Frontend, start) else {
            return;
        };
        let trace = self.trace_id();
        let span_id = self.span_id();
        // The calls this request makes, children of its server span.
        let inner = Call {
            pod,
            trace,
            parent: span_id,
            start,
        };
        let route = match page {
            Page::Home => "/",
            Page::Product => "/products/{id}",
            Page::Account => "/account",
            Page::Checkout => "/checkout",
            Page::Cart => "/cart",
        };
        let method = if page == Page::Checkout {
            "POST"
        } else {
            "GET"
        };
        let mut now = start + self.contention_wait(pod);
        let customer = self.rng.u32(1..50_000);
        let product = self.rng.u32(1..5_000);
        let mut status = 200;
        // Shed load when far past capacity, as the ingress does.
        let utilization = self.pods[pod].utilization;
        if utilization > 1.15 && chance(&mut self.rng, 1.0 - 1.15 / utilization) {
            status = 503;
        }
        let mut calls: Vec<(Service, &'static str, String, &'static str, bool)> = Vec::new();
        match page {
            Page::Home => calls.push((
                Service::Catalog,
                "GET",
                "/products?page=1".into(),
                "/products",
                true,
            )),
            Page::Product => {
                calls.push((
                    Service::Catalog,
                    "GET",
                    format!("/products/{product}"),
                    "/products/{id}",
                    true,
                ));
                if chance(&mut self.rng, 0.6) {
                    calls.push((
                        Service::Customers,
                        "GET",
                        format!("/customers/{customer}"),
                        "/customers/{id}",
                        false,
                    ));
                }
            }
            Page::Account => {
                calls.push((
                    Service::Customers,
                    "GET",
                    format!("/customers/{customer}"),
                    "/customers/{id}",
                    true,
                ));
                calls.push((
                    Service::Orders,
                    "GET",
                    format!("/orders?customer={customer}"),
                    "/orders",
                    true,
                ));
            }
            Page::Checkout => {
                calls.push((
                    Service::Customers,
                    "GET",
                    format!("/customers/{customer}"),
                    "/customers/{id}",
                    true,
                ));
                calls.push((Service::Orders, "POST", "/orders".into(), "/orders", true));
            }
            Page::Cart => {
                if chance(&mut self.rng, 0.5) {
                    calls.push((
                        Service::Customers,
                        "GET",
                        format!("/customers/{customer}"),
                        "/customers/{id}",
                        false,
                    ));
                }
                calls.push((
                    Service::Catalog,
                    "GET",
                    format!("/products/{product}"),
                    "/products/{id}",
                    true,
                ));
            }
        }
        now += self.cpu(pod, 5.0, 0.5);
        if status == 200 {
            for (callee, callee_method, path, callee_route, required) in calls {
                let outcome = self.http_call(inner, now, callee, callee_method, path, callee_route);
                now = outcome.end;
                if outcome.status == 0 || outcome.status >= 500 {
                    status = 502;
                    self.log(
                        pod,
                        now,
                        Severity::Error,
                        format!(
                            "upstream {} failed with {} for {method} {route}",
                            callee.name(),
                            if outcome.status == 0 {
                                "no answer".to_owned()
                            } else {
                                outcome.status.to_string()
                            }
                        ),
                        Some((trace, span_id)),
                    );
                    break;
                }
                if outcome.status == 404 && required {
                    status = 404;
                    break;
                }
            }
        }
        if status == 200 {
            // Server-side rendering.
            now += self.cpu(pod, 18.0, 0.5);
        }
        let path = match page {
            Page::Product => format!("/products/{product}"),
            _ => route.to_owned(),
        };
        // The frontend's span is the root of the trace.
        self.server_span_with(
            inner,
            span_id,
            None,
            (method, route, path),
            now,
            status,
            Vec::new(),
            Vec::new(),
            None,
        );
    }

    fn customers(&mut self, call: Call, route: &'static str) -> Outcome {
        let pod = call.pod;
        let (span_id, inner, mut now) = self.arrive(call, 1.2, 0.4);
        let customer = self.rng.u32(1..50_000);
        let (statement, median_ms, sigma) = match self.pods[pod].flaw {
            // A sequential scan of loyalty_accounts for every customer.
            Some(Flaw::SlowCustomerQuery) => (SELECT_CUSTOMER_WITH_POINTS, 380.0, 0.35),
            _ => (SELECT_CUSTOMER, 2.0, 0.6),
        };
        let mut db_time = lognormal_nanos(&mut self.rng, median_ms, sigma);
        // Now and then a row lock held by a batch update.
        if chance(&mut self.rng, 0.000_15) {
            db_time += lognormal_nanos(&mut self.rng, 500.0, 0.5);
        }
        let found = chance(&mut self.rng, 0.99);
        let db = self.db_span(
            inner,
            now,
            db_time,
            "customers",
            "SELECT",
            "customers",
            statement,
            i64::from(found),
        );
        now = db.end;
        let status = if db.status >= 500 {
            500
        } else if found {
            200
        } else {
            404
        };
        now += self.cpu(pod, 0.8, 0.4);
        if db_time > 200 * MILLISECOND {
            self.log(
                pod,
                now,
                Severity::Warn,
                format!("slow query ({} ms): {statement}", db_time / MILLISECOND),
                Some((call.trace, span_id)),
            );
        } else if chance(&mut self.rng, 0.05) {
            self.log(
                pod,
                now,
                Severity::Info,
                format!(
                    "customer {customer} loaded in {} ms",
                    (now - call.start) / MILLISECOND
                ),
                Some((call.trace, span_id)),
            );
        }
        let path = format!("/customers/{customer}");
        self.server_span(call, span_id, "GET", route, path, now, status, Vec::new())
    }

    fn catalog(&mut self, call: Call, route: &'static str, path: String) -> Outcome {
        let pod = call.pod;
        let (span_id, inner, mut now) = self.arrive(call, 1.5, 0.5);
        // A heap under pressure stops the world now and then.
        let profile = Service::Catalog.profile();
        let pressure = heap_pressure(
            self.pods[pod].memory_bytes,
            profile.memory_limit_mib * MEBIBYTE,
        );
        if pressure > 0.0 && chance(&mut self.rng, 0.9 * pressure) {
            let pause = lognormal_nanos(&mut self.rng, 350.0, 0.5);
            now += pause;
            if chance(&mut self.rng, 0.2) {
                self.log(
                    pod,
                    now,
                    Severity::Warn,
                    format!(
                        "GC pause of {} ms (heap {:.0} % of {} MiB after collection)",
                        pause / MILLISECOND,
                        100.0 * self.pods[pod].memory_bytes / (profile.memory_limit_mib * MEBIBYTE),
                        profile.memory_limit_mib
                    ),
                    Some((call.trace, span_id)),
                );
            }
        }
        if chance(&mut self.rng, 0.000_1) {
            now += lognormal_nanos(&mut self.rng, 400.0, 0.5);
        }
        let (key, statement, db_median_ms, hit_ratio) = if route == "/products" {
            (
                "catalog:products:page:1".to_owned(),
                SELECT_PRODUCTS,
                9.0,
                0.95,
            )
        } else {
            let product = path.rsplit('/').next().unwrap_or("1").to_owned();
            (
                format!("catalog:product:{product}"),
                SELECT_PRODUCT,
                2.5,
                0.9,
            )
        };
        let hit = chance(&mut self.rng, hit_ratio);
        let cache = self.cache_span(inner, now, "GET", &key, "catalog-cache");
        now = cache.end;
        if !hit {
            let db_time = lognormal_nanos(&mut self.rng, db_median_ms, 0.5);
            let db = self.db_span(
                inner, now, db_time, "catalog", "SELECT", "products", statement, 1,
            );
            now = db.end;
            let set = self.cache_span(inner, now, "SET", &key, "catalog-cache");
            now = set.end;
            if chance(&mut self.rng, 0.1) {
                self.log(
                    pod,
                    now,
                    Severity::Info,
                    format!("cache miss for {key}, loaded from database"),
                    Some((call.trace, span_id)),
                );
            }
        }
        now += self.cpu(pod, 1.0, 0.5);
        self.server_span(call, span_id, "GET", route, path, now, 200, Vec::new())
    }

    fn orders(&mut self, call: Call, method: &'static str) -> Outcome {
        let pod = call.pod;
        let (span_id, inner, mut now) = self.arrive(call, 0.8, 0.4);
        let customer = self.rng.u32(1..50_000);
        if chance(&mut self.rng, 0.000_1) {
            now += lognormal_nanos(&mut self.rng, 400.0, 0.5);
        }
        if method == "GET" {
            let key = format!("orders:customer:{customer}");
            let cache = self.cache_span(inner, now, "GET", &key, "orders-cache");
            now = cache.end;
            if !chance(&mut self.rng, 0.7) {
                let db_time = lognormal_nanos(&mut self.rng, 4.0, 0.5);
                let db = self.db_span(
                    inner,
                    now,
                    db_time,
                    "orders",
                    "SELECT",
                    "orders",
                    SELECT_ORDERS,
                    5,
                );
                now = db.end;
                let set = self.cache_span(inner, now, "SET", &key, "orders-cache");
                now = set.end;
            }
            now += self.cpu(pod, 0.6, 0.4);
            let path = format!("/orders?customer={customer}");
            return self.server_span(call, span_id, "GET", "/orders", path, now, 200, Vec::new());
        }
        // POST /orders: insert, charge, confirm, announce.
        let order = self.next_order_id;
        self.next_order_id += 1;
        let total = 5.0 + 200.0 * self.rng.f64();
        if self.pods[pod].flaw == Some(Flaw::NilPromotion) && chance(&mut self.rng, 0.7) {
            now += self.cpu(pod, 0.3, 0.3);
            let message = "runtime error: invalid memory address or nil pointer dereference";
            self.log(
                pod,
                now,
                Severity::Error,
                format!("panic recovered in POST /orders: {message} (customer {customer}, cart without promotion)"),
                Some((call.trace, span_id)),
            );
            let event = SpanEvent {
                time: now,
                name: "exception",
                attributes: vec![
                    ("exception.type", "runtime.Error".into()),
                    ("exception.message", message.into()),
                    (
                        "exception.stacktrace",
                        "goroutine 1841 [running]:\nshop/orders/pricing.(*Cart).ApplyPromotion(...)\n\t/src/pricing/promotion.go:88\nshop/orders/api.(*Handler).CreateOrder(...)\n\t/src/api/orders.go:142".into(),
                    ),
                ],
            };
            return self.server_span_with(
                call,
                span_id,
                Some(call.parent),
                ("POST", "/orders", "/orders".into()),
                now,
                500,
                Vec::new(),
                vec![event],
                Some(message.to_owned()),
            );
        }
        let insert_time = lognormal_nanos(&mut self.rng, 3.0, 0.5);
        let insert = self.db_span(
            inner,
            now,
            insert_time,
            "orders",
            "INSERT",
            "orders",
            INSERT_ORDER,
            1,
        );
        now = insert.end;
        let payment = self.http_call(
            inner,
            now,
            Service::Payments,
            "POST",
            format!("/payments?order={order}"),
            "/payments",
        );
        now = payment.end;
        let status = match payment.status {
            200 => 201,
            402 => 402,
            0 | 500.. => 502,
            other => other,
        };
        if status == 201 {
            let update_time = lognormal_nanos(&mut self.rng, 2.5, 0.5);
            let update = self.db_span(
                inner,
                now,
                update_time,
                "orders",
                "UPDATE",
                "orders",
                UPDATE_ORDER,
                1,
            );
            now = update.end;
            let producer = self.publish(inner, now, order);
            now = producer.0;
            let cache = self.cache_span(
                inner,
                now,
                "DEL",
                &format!("orders:customer:{customer}"),
                "orders-cache",
            );
            now = cache.end;
            self.log(
                pod,
                now,
                Severity::Info,
                format!("order {order} created for customer {customer}: {total:.2} EUR"),
                Some((call.trace, span_id)),
            );
            self.consume(call.trace, producer.1, now, order);
        } else if status == 502 {
            self.log(
                pod,
                now,
                Severity::Error,
                format!("order {order} failed: payments answered {}", payment.status),
                Some((call.trace, span_id)),
            );
        }
        now += self.cpu(pod, 0.8, 0.4);
        self.server_span(
            call,
            span_id,
            "POST",
            "/orders",
            "/orders".into(),
            now,
            status,
            vec![("app.order.id", (order as i64).into())],
        )
    }

    /// The producer span of `order-events`; returns its end and id.
    fn publish(&mut self, call: Call, start: u64, order: u64) -> (u64, SpanId) {
        let span_id = self.span_id();
        let end = start + lognormal_nanos(&mut self.rng, 1.5, 0.5);
        let resource = self.pods[call.pod].resource;
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: call.trace,
            span_id,
            parent_span_id: Some(call.parent),
            name: Cow::Borrowed("send order-events"),
            kind: SpanKind::Producer,
            start,
            end,
            error: None,
            attributes: vec![
                ("messaging.system", "kafka".into()),
                ("messaging.destination.name", "order-events".into()),
                ("messaging.operation.type", "send".into()),
                ("messaging.operation.name", "send".into()),
                ("messaging.kafka.message.key", order.to_string().into()),
                ("server.address", "kafka-0.kafka".into()),
            ],
            events: Vec::new(),
        });
        (end, span_id)
    }

    /// The orders notifier consumes `order-events` a little later, in the same trace.
    fn consume(&mut self, trace: TraceId, producer: SpanId, published: u64, order: u64) {
        let start = published + lognormal_nanos(&mut self.rng, 40.0, 0.8);
        let Some(pod) = self.pick_pod(Service::Orders, start) else {
            return;
        };
        let span_id = self.span_id();
        let inner = Call {
            pod,
            trace,
            parent: span_id,
            start,
        };
        let mut now = start + self.cpu(pod, 2.0, 0.5);
        let cache = self.cache_span(
            inner,
            now,
            "SET",
            &format!("orders:confirmation:{order}"),
            "orders-cache",
        );
        now = cache.end + self.cpu(pod, 1.0, 0.5);
        if chance(&mut self.rng, 0.2) {
            self.log(
                pod,
                now,
                Severity::Info,
                format!("confirmation e-mail queued for order {order}"),
                Some((trace, span_id)),
            );
        }
        let resource = self.pods[pod].resource;
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: trace,
            span_id,
            parent_span_id: Some(producer),
            name: Cow::Borrowed("process order-events"),
            kind: SpanKind::Consumer,
            start,
            end: now,
            error: None,
            attributes: vec![
                ("messaging.system", "kafka".into()),
                ("messaging.destination.name", "order-events".into()),
                ("messaging.operation.type", "process".into()),
                ("messaging.operation.name", "process".into()),
                ("messaging.consumer.group.name", "orders-notifier".into()),
                ("messaging.kafka.message.key", order.to_string().into()),
            ],
            events: Vec::new(),
        });
    }

    fn payments(&mut self, call: Call) -> Outcome {
        let pod = call.pod;
        let (span_id, _, mut now) = self.arrive(call, 2.0, 0.4);
        let order = self.rng.u32(100_000..999_999);
        let amount = 5.0 + 200.0 * self.rng.f64();
        let client_id = self.span_id();
        let timed_out = chance(&mut self.rng, self.effects.payment_api_timeouts);
        let (api_status, api_time) = if timed_out {
            (0, PAYMENT_API_TIMEOUT_NANOS)
        } else {
            let time = lognormal_nanos(&mut self.rng, 180.0, 0.45);
            let draw = self.rng.f64();
            let status = if draw < 0.000_1 {
                500
            } else if draw < 0.035 {
                402
            } else {
                200
            };
            (status, time)
        };
        let api_start = now;
        now += api_time;
        let mut attributes: Attributes = vec![
            ("http.request.method", "POST".into()),
            ("server.address", PAYMENT_API.into()),
            ("server.port", 443_i64.into()),
            (
                "url.full",
                format!("https://{PAYMENT_API}/v1/charges").into(),
            ),
            ("url.template", "/v1/charges".into()),
        ];
        let mut events = Vec::new();
        let error = match api_status {
            0 => {
                attributes.push(("error.type", "java.net.SocketTimeoutException".into()));
                events.push(SpanEvent {
                    time: now,
                    name: "exception",
                    attributes: vec![
                        ("exception.type", "java.net.SocketTimeoutException".into()),
                        ("exception.message", "Read timed out".into()),
                    ],
                });
                Some("Read timed out".to_owned())
            }
            status => {
                attributes.push(("http.response.status_code", i64::from(status).into()));
                (status >= 400).then(|| status.to_string())
            }
        };
        let resource = self.pods[pod].resource;
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: call.trace,
            span_id: client_id,
            parent_span_id: Some(span_id),
            name: Cow::Borrowed("POST"),
            kind: SpanKind::Client,
            start: api_start,
            end: now,
            error,
            attributes,
            events,
        });
        now += self.cpu(pod, 1.0, 0.4);
        let (status, outcome) = match api_status {
            200 => (200, 0),
            402 => (402, 1),
            0 => (504, 2),
            _ => (502, 2),
        };
        self.pods[pod].attempts[outcome] += 1;
        let trace = Some((call.trace, span_id));
        match status {
            200 => self.log(
                pod,
                now,
                Severity::Info,
                format!("charge for order {order} succeeded: {amount:.2} EUR"),
                trace,
            ),
            402 => self.log(
                pod,
                now,
                Severity::Warn,
                format!("charge for order {order} declined: insufficient_funds"),
                trace,
            ),
            504 => self.log(
                pod,
                now,
                Severity::Error,
                format!(
                    "payment provider call failed for order {order}: Read timed out after {} ms",
                    PAYMENT_API_TIMEOUT_NANOS / MILLISECOND
                ),
                trace,
            ),
            _ => self.log(
                pod,
                now,
                Severity::Error,
                format!("payment provider answered {api_status} for order {order}"),
                trace,
            ),
        }
        self.server_span(
            call,
            span_id,
            "POST",
            "/payments",
            format!("/payments?order={order}"),
            now,
            status,
            Vec::new(),
        )
    }

    // ----- span helpers --------------------------------------------------------------------

    /// An HTTP call from `call`'s pod to `callee`: the client span, the wire both ways, and
    /// the callee's handling on one of its pods.
    fn http_call(
        &mut self,
        call: Call,
        start: u64,
        callee: Service,
        method: &'static str,
        path: String,
        route: &'static str,
    ) -> Outcome {
        let caller = self.pods[call.pod].service;
        let client_id = self.span_id();
        let (outbound, inbound) = self.wire(caller, callee);
        let arrival = start + outbound;
        let answer = match self.pick_pod(callee, arrival) {
            Some(pod) => {
                let inner = Call {
                    pod,
                    trace: call.trace,
                    parent: client_id,
                    start: arrival,
                };
                let outcome = match callee {
                    Service::Customers => self.customers(inner, route),
                    Service::Catalog => self.catalog(inner, route, path.clone()),
                    Service::Orders => self.orders(inner, method),
                    Service::Payments => self.payments(inner),
                    Service::Frontend => Outcome {
                        end: arrival,
                        status: 404,
                    },
                };
                Outcome {
                    end: outcome.end + inbound,
                    status: outcome.status,
                }
            }
            // Every pod is restarting: the mesh answers at once.
            None => Outcome {
                end: arrival + MILLISECOND,
                status: 503,
            },
        };
        let mut attributes: Attributes = vec![
            ("http.request.method", method.into()),
            ("server.address", callee.name().into()),
            ("server.port", 8080_i64.into()),
            (
                "url.full",
                format!("http://{}:8080{path}", callee.name()).into(),
            ),
            ("url.template", route.into()),
            ("http.response.status_code", i64::from(answer.status).into()),
        ];
        if answer.status == 503 {
            attributes.push(("error.type", "503".into()));
        }
        let resource = self.pods[call.pod].resource;
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: call.trace,
            span_id: client_id,
            parent_span_id: Some(call.parent),
            name: Cow::Borrowed(method),
            kind: SpanKind::Client,
            start,
            end: answer.end,
            // HTTP client spans are errors from 400 on (semantic conventions).
            error: (answer.status >= 400).then(|| answer.status.to_string()),
            attributes,
            events: Vec::new(),
        });
        answer
    }

    /// One-way delays to and from `callee`: a fraction of a millisecond in the cluster, more
    /// on a degraded path.
    fn wire(&mut self, caller: Service, callee: Service) -> (u64, u64) {
        let mut outbound = lognormal_nanos(&mut self.rng, 0.35, 0.5);
        let mut inbound = lognormal_nanos(&mut self.rng, 0.35, 0.5);
        if let Some((from, to, median_ms)) = self.effects.network_delay_ms
            && from == caller
            && to == callee
        {
            outbound += lognormal_nanos(&mut self.rng, median_ms, 0.5);
            inbound += lognormal_nanos(&mut self.rng, median_ms, 0.5);
        }
        (outbound, inbound)
    }

    #[allow(clippy::too_many_arguments)]
    fn db_span(
        &mut self,
        call: Call,
        start: u64,
        duration: u64,
        database: &'static str,
        operation: &'static str,
        collection: &'static str,
        statement: &'static str,
        rows: i64,
    ) -> Outcome {
        let span_id = self.span_id();
        let failed = chance(&mut self.rng, 0.000_05);
        let end = start + duration;
        self.pods[call.pod].pool_busy_nanos += duration;
        let mut attributes: Attributes = vec![
            ("db.system", "postgresql".into()),
            ("db.namespace", database.into()),
            ("db.operation.name", operation.into()),
            ("db.collection.name", collection.into()),
            ("db.query.text", statement.into()),
            (
                "server.address",
                format!("{database}-db.shop.internal").into(),
            ),
            ("server.port", 5432_i64.into()),
        ];
        if !failed {
            attributes.push(("db.response.returned_rows", rows.into()));
        }
        let resource = self.pods[call.pod].resource;
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: call.trace,
            span_id,
            parent_span_id: Some(call.parent),
            name: Cow::Owned(format!("{operation} {collection}")),
            kind: SpanKind::Client,
            start,
            end,
            error: failed.then(|| "connection reset by peer".to_owned()),
            attributes,
            events: Vec::new(),
        });
        Outcome {
            end,
            status: if failed { 500 } else { 200 },
        }
    }

    fn cache_span(
        &mut self,
        call: Call,
        start: u64,
        command: &'static str,
        key: &str,
        address: &'static str,
    ) -> Outcome {
        let span_id = self.span_id();
        let end = start + lognormal_nanos(&mut self.rng, 0.4, 0.5);
        let resource = self.pods[call.pod].resource;
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: call.trace,
            span_id,
            parent_span_id: Some(call.parent),
            name: Cow::Borrowed(command),
            kind: SpanKind::Client,
            start,
            end,
            error: None,
            attributes: vec![
                ("db.system", "redis".into()),
                ("db.operation.name", command.into()),
                ("db.query.text", format!("{command} {key}").into()),
                ("server.address", address.into()),
                ("server.port", 6379_i64.into()),
            ],
            events: Vec::new(),
        });
        Outcome { end, status: 200 }
    }

    /// The server span of a handler called by `call.parent`.
    #[allow(clippy::too_many_arguments)]
    fn server_span(
        &mut self,
        call: Call,
        span_id: SpanId,
        method: &'static str,
        route: &'static str,
        path: String,
        end: u64,
        status: u16,
        extra: Attributes,
    ) -> Outcome {
        self.server_span_with(
            call,
            span_id,
            Some(call.parent),
            (method, route, path),
            end,
            status,
            extra,
            Vec::new(),
            None,
        )
    }

    /// A server span; `request` is (method, route, path). `message` is the status message of
    /// a fault (the status code when None).
    #[allow(clippy::too_many_arguments)]
    fn server_span_with(
        &mut self,
        call: Call,
        span_id: SpanId,
        parent_span_id: Option<SpanId>,
        request: (&'static str, &'static str, String),
        end: u64,
        status: u16,
        extra: Attributes,
        events: Vec<SpanEvent>,
        message: Option<String>,
    ) -> Outcome {
        let (method, route, path) = request;
        let mut attributes: Attributes = vec![
            ("http.request.method", method.into()),
            ("http.route", route.into()),
            ("url.path", path.into()),
            ("url.scheme", "http".into()),
            ("http.response.status_code", i64::from(status).into()),
            ("network.protocol.version", "1.1".into()),
        ];
        attributes.extend(extra);
        let resource = self.pods[call.pod].resource;
        // Server spans are errors only from 500 on (semantic conventions).
        let error = (status >= 500).then(|| message.unwrap_or_else(|| status.to_string()));
        self.out.spans.push(SpanRecord {
            resource,
            trace_id: call.trace,
            span_id,
            parent_span_id,
            name: Cow::Owned(format!("{method} {route}")),
            kind: SpanKind::Server,
            start: call.start,
            end,
            error,
            attributes,
            events,
        });
        Outcome { end, status }
    }

    fn log(
        &mut self,
        pod: usize,
        time: u64,
        severity: Severity,
        body: String,
        trace: Option<(TraceId, SpanId)>,
    ) {
        let resource = self.pods[pod].resource;
        self.out.logs.push(LogRecord {
            resource,
            time,
            severity,
            body,
            trace,
            attributes: Vec::new(),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn point(
        &mut self,
        resource: usize,
        start: u64,
        time: u64,
        name: &'static str,
        description: &'static str,
        unit: &'static str,
        kind: MetricKind,
        value: f64,
        attributes: Attributes,
    ) {
        self.out.points.push(MetricPoint {
            resource,
            name,
            description,
            unit,
            kind,
            start,
            time,
            value,
            attributes,
        });
    }

    /// A request arriving at `call.pod`: its span id, the call its children make, and when its
    /// first stretch of work ends (after waiting for CPU, `cpu_median_ms` of it).
    fn arrive(&mut self, call: Call, cpu_median_ms: f64, sigma: f64) -> (SpanId, Call, u64) {
        let span_id = self.span_id();
        let now =
            call.start + self.contention_wait(call.pod) + self.cpu(call.pod, cpu_median_ms, sigma);
        let inner = Call {
            parent: span_id,
            ..call
        };
        (span_id, inner, now)
    }

    /// A stretch of CPU work on `pod` (log-normal around `median_ms`), counted towards its
    /// utilization.
    fn cpu(&mut self, pod: usize, median_ms: f64, sigma: f64) -> u64 {
        let work = lognormal_nanos(&mut self.rng, median_ms, sigma);
        self.pods[pod].busy_nanos += work;
        work
    }

    /// How long a request waits for CPU on a busy pod: nothing below 60 % utilization, tens of
    /// milliseconds near the limit, seconds past it (queues grow while demand exceeds supply).
    fn contention_wait(&mut self, pod: usize) -> u64 {
        let utilization = self.pods[pod].utilization;
        if utilization < 0.6 {
            return 0;
        }
        let median_ms = if utilization < 0.95 {
            40.0 * ((utilization - 0.6) / 0.35).powi(2)
        } else {
            40.0 + 2_000.0 * (utilization - 0.95)
        };
        lognormal_nanos(&mut self.rng, median_ms, 0.7)
    }

    fn trace_id(&mut self) -> TraceId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.rng.u64(1..).to_be_bytes());
        id[8..].copy_from_slice(&self.rng.u64(..).to_be_bytes());
        id
    }

    fn span_id(&mut self) -> SpanId {
        self.rng.u64(1..).to_be_bytes()
    }
}

/// How hard a garbage collector works, 0 to 1: from 70 % of the memory limit on, collections
/// come more often and last longer, until the container is killed at the limit.
fn heap_pressure(memory_bytes: f64, limit_bytes: f64) -> f64 {
    ((memory_bytes / limit_bytes - 0.7) / 0.3).clamp(0.0, 1.0)
}

/// The ReplicaSet hash Kubernetes puts in pod names: stable for a service and version.
fn replica_set_hash(service: Service, version: &str) -> String {
    // FNV-1a, rendered in the alphabet Kubernetes uses.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in service.name().bytes().chain(version.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|index| alphabet[((hash >> (index * 6)) % alphabet.len() as u64) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests;
