//! A small synthetic shop to investigate: `front` (the subject) calls `checkout`, which runs two
//! statements on `postgresql:shop` and calls `inventory` and `payments`; `payments` calls the
//! external `api.stripe.com`. Each window is generated from [`Params`] minute by minute, with
//! deterministic jitter, as the store would hand it out: whole traces of spans, per-minute
//! signals derived from them, logs of every service and per-minute resource metrics.

#![allow(dead_code)] // each test file uses a part of the world

use std::collections::BTreeMap;

use sloscope_investigate::{
    ChangeEvent, Exception, Inputs, LogLine, MetricSample, SpanRecord, Subject, Telemetry,
};
use sloscope_model::{
    MINUTE_NANOS, SignalKey, SignalKind, SignalRow, SignalStats, SpanKind, StatusCode, TimeRange,
};

pub const STATEMENT_ORDERS: &str = "SELECT id, total FROM orders WHERE customer_id = 4711";
pub const STATEMENT_CARTS: &str = "UPDATE carts SET state = 'done' WHERE id = 99";
pub const DATABASE: &str = "postgresql:shop";
pub const EXTERNAL: &str = "api.stripe.com";
pub const SERVICES: [&str; 4] = ["front", "checkout", "inventory", "payments"];

/// How the shop behaves during some minutes.
#[derive(Clone, Debug)]
pub struct Params {
    pub requests_per_minute: u32,
    /// Own time of each service's server span, ms.
    pub self_ms: BTreeMap<&'static str, f64>,
    /// Duration of each statement, ms (keyed by the statement as the code sends it).
    pub statement_ms: BTreeMap<&'static str, f64>,
    pub external_ms: f64,
    /// Time between a caller's client span and the callee's server span, ms, per edge.
    pub gap_ms: BTreeMap<(&'static str, &'static str), f64>,
    /// Share of requests a service fails by itself (status error up the call chain).
    pub fault_rate: BTreeMap<&'static str, f64>,
    /// A service that throws: (service, exception type, message, share of its requests).
    pub exception: Option<(&'static str, &'static str, &'static str, f64)>,
    pub versions: BTreeMap<&'static str, &'static str>,
    /// CPU utilisation of each service's pod, 0 to 1.
    pub cpu: BTreeMap<&'static str, f64>,
    /// Memory of each service's pod: MB at the window's first minute and growth per minute.
    pub memory_mb: BTreeMap<&'static str, (f64, f64)>,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            requests_per_minute: 60,
            self_ms: BTreeMap::from([
                ("front", 2.0),
                ("checkout", 5.0),
                ("inventory", 4.0),
                ("payments", 6.0),
            ]),
            statement_ms: BTreeMap::from([(STATEMENT_ORDERS, 3.0), (STATEMENT_CARTS, 2.0)]),
            external_ms: 30.0,
            gap_ms: BTreeMap::from([
                (("front", "checkout"), 1.0),
                (("checkout", "inventory"), 1.0),
                (("checkout", "payments"), 1.0),
            ]),
            fault_rate: BTreeMap::new(),
            exception: None,
            versions: SERVICES.iter().map(|service| (*service, "1.4.0")).collect(),
            cpu: SERVICES.iter().map(|service| (*service, 0.2)).collect(),
            memory_mb: SERVICES
                .iter()
                .map(|service| (*service, (400.0, 0.0)))
                .collect(),
        }
    }
}

/// The baseline, and the breach window before and after the fault's onset.
pub struct Scenario {
    pub baseline: Params,
    pub before_onset: Params,
    pub after_onset: Params,
    pub changes: Vec<ChangeEvent>,
}

/// Minutes of each window, and where the fault starts in the breach window.
pub const WINDOW_MINUTES: u64 = 30;
pub const BASELINE_START_MINUTE: u64 = 28_000_000;
pub const BREACH_START_MINUTE: u64 = BASELINE_START_MINUTE + 60;
pub const ONSET_MINUTE: u64 = BREACH_START_MINUTE + 10;

impl Scenario {
    /// A healthy shop in the baseline and before the onset, `fault` applied after it.
    pub fn with_fault(fault: impl FnOnce(&mut Params)) -> Scenario {
        let mut after_onset = Params::default();
        fault(&mut after_onset);
        Scenario {
            baseline: Params::default(),
            before_onset: Params::default(),
            after_onset,
            changes: Vec::new(),
        }
    }

    pub fn inputs(&self) -> Inputs {
        let baseline_range = minutes(BASELINE_START_MINUTE, WINDOW_MINUTES);
        let breach_range = minutes(BREACH_START_MINUTE, WINDOW_MINUTES);
        let mut generator = Generator::new(1);
        let baseline = generator.window(BASELINE_START_MINUTE, |_| &self.baseline);
        let breach = generator.window(BREACH_START_MINUTE, |minute| {
            if minute < ONSET_MINUTE {
                &self.before_onset
            } else {
                &self.after_onset
            }
        });
        Inputs {
            subject: Subject {
                service: String::from("front"),
                operation: None,
                window: breach_range,
                baseline: baseline_range,
            },
            slo: None,
            breach,
            baseline,
            changes: self.changes.clone(),
        }
    }
}

pub fn minute_nanos(minute: u64) -> u64 {
    minute * MINUTE_NANOS
}

fn minutes(first: u64, count: u64) -> TimeRange {
    TimeRange::new(minute_nanos(first), minute_nanos(first + count))
}

/// Generates telemetry with a deterministic pseudo-random jitter.
struct Generator {
    state: u64,
    next_span: u64,
    next_trace: u64,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            state: seed,
            next_span: 1,
            next_trace: 1,
        }
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        // SplitMix64.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^= mixed >> 31;
        (mixed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `value` with ±20 % jitter.
    fn jitter(&mut self, value: f64) -> f64 {
        value * (0.8 + 0.4 * self.uniform())
    }

    fn window<'p>(
        &mut self,
        first_minute: u64,
        params_at: impl Fn(u64) -> &'p Params,
    ) -> Telemetry {
        let mut telemetry = Telemetry::default();
        for minute in first_minute..first_minute + WINDOW_MINUTES {
            let params = params_at(minute);
            let requests = params.requests_per_minute;
            for request in 0..requests {
                let start = minute_nanos(minute)
                    + (request as u64 * MINUTE_NANOS) / requests as u64
                    + (self.uniform() * 1e6) as u64;
                self.request(params, start, &mut telemetry);
            }
            for service in SERVICES {
                let pod = format!("{service}-7d9f8-{}", 0);
                let cpu = params.cpu.get(service).copied().unwrap_or(0.2);
                let (memory_start, memory_growth) = params
                    .memory_mb
                    .get(service)
                    .copied()
                    .unwrap_or((400.0, 0.0));
                let elapsed = (minute - first_minute) as f64;
                let jitter_cpu = self.jitter(cpu).min(1.0);
                let memory = memory_start + memory_growth * elapsed + 5.0 * self.uniform();
                telemetry.metrics.push(MetricSample {
                    name: String::from("process.cpu.utilization"),
                    service: service.to_owned(),
                    instance: pod.clone(),
                    unit: String::from("1"),
                    time_unix_nano: minute_nanos(minute) + 30_000_000_000,
                    value: jitter_cpu,
                });
                telemetry.metrics.push(MetricSample {
                    name: String::from("process.memory.usage"),
                    service: service.to_owned(),
                    instance: pod,
                    unit: String::from("By"),
                    time_unix_nano: minute_nanos(minute) + 30_000_000_000,
                    value: memory * 1e6,
                });
            }
        }
        telemetry.signals = derive_signals(&telemetry.spans);
        telemetry
    }

    fn span_id(&mut self) -> [u8; 8] {
        let id = self.next_span;
        self.next_span += 1;
        id.to_be_bytes()
    }

    /// One request through the shop, starting at `start`. Returns nothing: spans and logs go
    /// into the telemetry.
    fn request(&mut self, params: &Params, start: u64, telemetry: &mut Telemetry) {
        let trace_number = self.next_trace;
        self.next_trace += 1;
        let mut trace_id = [0u8; 16];
        trace_id[8..].copy_from_slice(&trace_number.to_be_bytes());
        let mut builder = TraceBuilder {
            generator: self,
            params,
            trace_id,
            spans: Vec::new(),
            logs: Vec::new(),
        };
        builder.front(start);
        telemetry.spans.extend(builder.spans);
        telemetry.logs.extend(builder.logs);
    }
}

struct TraceBuilder<'g, 'p> {
    generator: &'g mut Generator,
    params: &'p Params,
    trace_id: [u8; 16],
    spans: Vec<SpanRecord>,
    logs: Vec<LogLine>,
}

const MS: f64 = 1e6;

impl TraceBuilder<'_, '_> {
    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        service: &str,
        operation: &str,
        kind: SpanKind,
        parent: Option<[u8; 8]>,
        start: u64,
        duration: u64,
        remote: &str,
    ) -> usize {
        let span_id = self.generator.span_id();
        let version = self
            .params
            .versions
            .get(service)
            .copied()
            .unwrap_or("1.4.0");
        self.spans.push(SpanRecord {
            trace_id: self.trace_id,
            span_id,
            parent_span_id: parent,
            service: service.to_owned(),
            version: version.to_owned(),
            operation: operation.to_owned(),
            kind,
            remote_service: remote.to_owned(),
            start_unix_nano: start,
            duration_nanos: duration,
            status: StatusCode::Unset,
            db_statement: None,
            dimensions: vec![
                (String::from("service.version"), version.to_owned()),
                (String::from("k8s.pod.name"), format!("{service}-7d9f8-0")),
            ],
            exceptions: Vec::new(),
        });
        self.spans.len() - 1
    }

    fn log(&mut self, service: &str, time: u64, severity_number: i32, body: String) {
        self.logs.push(LogLine {
            time_unix_nano: time,
            service: service.to_owned(),
            severity_number,
            body,
            trace_id: Some(self.trace_id),
        });
    }

    fn fails(&mut self, service: &str) -> bool {
        let rate = self.params.fault_rate.get(service).copied().unwrap_or(0.0);
        rate > 0.0 && self.generator.uniform() < rate
    }

    fn self_time(&mut self, service: &str) -> u64 {
        let ms = self.params.self_ms.get(service).copied().unwrap_or(1.0);
        (self.generator.jitter(ms) * MS) as u64
    }

    /// A call from `caller` to `callee`: a client span around the callee's server span.
    /// Returns the client span's end and whether the call failed.
    fn call(
        &mut self,
        caller: &str,
        caller_span: [u8; 8],
        callee: &str,
        operation: &str,
        start: u64,
        serve: impl FnOnce(&mut Self, [u8; 8], u64) -> (u64, bool),
    ) -> (u64, bool) {
        let gap = self
            .params
            .gap_ms
            .get(&(caller, callee))
            .copied()
            .unwrap_or(1.0);
        let half_gap = (self.generator.jitter(gap) * MS / 2.0) as u64;
        let client = self.span(
            caller,
            operation,
            SpanKind::Client,
            Some(caller_span),
            start,
            0,
            callee,
        );
        let client_id = self.spans[client].span_id;
        let server_start = start + half_gap;
        let server = self.span(
            callee,
            operation,
            SpanKind::Server,
            Some(client_id),
            server_start,
            0,
            "",
        );
        let server_id = self.spans[server].span_id;
        let (server_end, failed) = serve(self, server_id, server_start);
        self.spans[server].duration_nanos = server_end - server_start;
        let end = server_end + half_gap;
        self.spans[client].duration_nanos = end - start;
        if failed {
            self.spans[server].status = StatusCode::Error;
            self.spans[client].status = StatusCode::Error;
        }
        (end, failed)
    }

    fn front(&mut self, start: u64) {
        let root = self.span(
            "front",
            "GET /checkout",
            SpanKind::Server,
            None,
            start,
            0,
            "",
        );
        let root_id = self.spans[root].span_id;
        let own = self.self_time("front");
        let (end, failed) = self.call(
            "front",
            root_id,
            "checkout",
            "POST /checkout",
            start + own / 2,
            |builder, parent, at| builder.checkout(parent, at),
        );
        let end = end + own / 2;
        self.spans[root].duration_nanos = end - start;
        if failed {
            self.spans[root].status = StatusCode::Error;
            self.log(
                "front",
                end,
                17,
                format!(
                    "checkout failed for session {}: upstream error",
                    self.trace_id[15]
                ),
            );
        } else {
            self.log(
                "front",
                end,
                9,
                format!("GET /checkout 200 in {} ms", (end - start) / 1_000_000),
            );
        }
    }

    fn checkout(&mut self, parent: [u8; 8], start: u64) -> (u64, bool) {
        let mut at = start + self.self_time("checkout");
        for statement in [STATEMENT_ORDERS, STATEMENT_CARTS] {
            let ms = self
                .params
                .statement_ms
                .get(statement)
                .copied()
                .unwrap_or(2.0);
            let duration = (self.generator.jitter(ms) * MS) as u64;
            let operation = statement.split_whitespace().next().unwrap_or("QUERY");
            let position = self.span(
                "checkout",
                operation,
                SpanKind::Client,
                Some(parent),
                at,
                duration,
                DATABASE,
            );
            self.spans[position].db_statement = Some(statement.to_owned());
            at += duration;
        }
        let (after_inventory, inventory_failed) = self.call(
            "checkout",
            parent,
            "inventory",
            "POST /reserve",
            at,
            |builder, parent, at| builder.inventory(parent, at),
        );
        at = after_inventory;
        let mut failed = inventory_failed;
        if !failed {
            let (after_payments, payments_failed) = self.call(
                "checkout",
                parent,
                "payments",
                "POST /charge",
                at,
                |builder, parent, at| builder.payments(parent, at),
            );
            at = after_payments;
            failed = payments_failed;
        }
        failed |= self.fails("checkout");
        if failed {
            self.log(
                "checkout",
                at,
                17,
                format!(
                    "order {} not placed: a downstream call failed",
                    self.trace_id[15]
                ),
            );
        } else {
            self.log(
                "checkout",
                at,
                9,
                format!(
                    "order {} placed with {} items",
                    self.trace_id[15],
                    self.trace_id[14] % 5 + 1
                ),
            );
        }
        (at, failed)
    }

    fn inventory(&mut self, _parent: [u8; 8], start: u64) -> (u64, bool) {
        let end = start + self.self_time("inventory");
        let mut failed = self.fails("inventory");
        if let Some((service, kind, message, rate)) = self.params.exception
            && service == "inventory"
            && self.generator.uniform() < rate
        {
            failed = true;
            if let Some(span) = self
                .spans
                .iter_mut()
                .rev()
                .find(|span| span.service == "inventory")
            {
                span.exceptions.push(Exception {
                    kind: kind.to_owned(),
                    message: message.to_owned(),
                });
            }
            self.log(
                "inventory",
                end,
                17,
                format!(
                    "failed to reserve stock for item {}: {message}",
                    self.trace_id[15]
                ),
            );
        } else {
            self.log(
                "inventory",
                end,
                9,
                format!(
                    "reserved {} units of item {}",
                    self.trace_id[14] % 3 + 1,
                    self.trace_id[15]
                ),
            );
        }
        (end, failed)
    }

    fn payments(&mut self, parent: [u8; 8], start: u64) -> (u64, bool) {
        let own = self.self_time("payments");
        let external_start = start + own / 2;
        let external = (self.generator.jitter(self.params.external_ms) * MS) as u64;
        self.span(
            "payments",
            "POST /v1/charges",
            SpanKind::Client,
            Some(parent),
            external_start,
            external,
            EXTERNAL,
        );
        let end = external_start + external + own / 2;
        let failed = self.fails("payments");
        if failed {
            self.log(
                "payments",
                end,
                17,
                format!(
                    "charge {} declined: card processor unavailable",
                    self.trace_id[15]
                ),
            );
        } else {
            self.log(
                "payments",
                end,
                9,
                format!("charge {} captured", self.trace_id[15]),
            );
        }
        (end, failed)
    }
}

/// Per-minute signals as the store derives them: server keys for entry spans, dependency keys
/// for client spans.
fn derive_signals(spans: &[SpanRecord]) -> Vec<SignalRow> {
    let mut rows: BTreeMap<(i64, SignalKey), SignalStats> = BTreeMap::new();
    for span in spans {
        let (kind, remote_service, remote_operation) = match span.kind {
            SpanKind::Server => (SignalKind::Server, String::new(), String::new()),
            SpanKind::Client => (
                SignalKind::Dependency,
                span.remote_service.clone(),
                span.operation.clone(),
            ),
            _ => continue,
        };
        let key = SignalKey {
            kind,
            environment: String::new(),
            service: span.service.clone(),
            operation: span.operation.clone(),
            remote_service,
            remote_operation,
            version: span.version.clone(),
        };
        let minute = (span.start_unix_nano / MINUTE_NANOS) as i64;
        rows.entry((minute, key)).or_default().record(
            span.duration_nanos as f64 / 1e6,
            span.status == StatusCode::Error,
            false,
        );
    }
    rows.into_iter()
        .map(|((minute, key), stats)| SignalRow { minute, key, stats })
        .collect()
}
