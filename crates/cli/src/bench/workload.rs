//! The span workload of the ingest benchmark: traces of a small web shop (a frontend calling a
//! catalog, inventory, checkout and payments service, checkout publishing orders that a worker
//! consumes), encoded as OTLP `ExportTraceServiceRequest`s the way an SDK or a collector sends
//! them.
//!
//! Each span carries 10 attributes and each resource 10, in the shapes the OpenTelemetry
//! semantic conventions give HTTP servers and clients, databases, messaging and internal code,
//! so a span weighs about 470 bytes in protobuf. Kinds are mixed, about 2 % of spans end in
//! error (5xx answers and their callers, failed queries), latencies are log-normal and every
//! trace and span id is drawn afresh, so nothing repeats across the spans of a run. The same
//! seed gives the same workload.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::random::Random;

/// One export request, encoded, with the number of spans it holds.
pub struct EncodedRequest {
    pub body: Vec<u8>,
    pub spans: u64,
}

/// Where the traces of a request start: uniformly in `[start, start + length)`.
#[derive(Clone, Copy)]
pub struct TimeWindow {
    pub start_unix_nano: u64,
    pub length_nanos: u64,
}

/// What was generated, to print beside the figures.
#[derive(Clone, Copy, Default)]
pub struct Tally {
    pub requests: u64,
    /// Traces, each with exactly one frontend server span.
    pub traces: u64,
    pub spans: u64,
    pub bytes: u64,
    pub error_spans: u64,
    /// Spans per kind, indexed by the OTLP `SpanKind` value (0 unused).
    pub spans_by_kind: [u64; 6],
}

impl Tally {
    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.traces += other.traces;
        self.spans += other.spans;
        self.bytes += other.bytes;
        self.error_spans += other.error_spans;
        for (mine, theirs) in self.spans_by_kind.iter_mut().zip(other.spans_by_kind) {
            *mine += theirs;
        }
    }

    pub fn bytes_per_span(&self) -> f64 {
        self.bytes as f64 / self.spans.max(1) as f64
    }

    pub fn share(&self, count: u64) -> f64 {
        100.0 * count as f64 / self.spans.max(1) as f64
    }

    pub fn describe(&self) -> String {
        let kinds = [
            (SpanKind::Server, "server"),
            (SpanKind::Client, "client"),
            (SpanKind::Internal, "internal"),
            (SpanKind::Producer, "producer"),
            (SpanKind::Consumer, "consumer"),
        ];
        let mix: Vec<String> = kinds
            .iter()
            .map(|(kind, name)| {
                format!(
                    "{name} {:.0} %",
                    self.share(self.spans_by_kind[*kind as usize])
                )
            })
            .collect();
        format!(
            "{} requests, {} spans, {:.0} bytes per span in protobuf; {}; {:.1} % of spans in error",
            self.requests,
            self.spans,
            self.bytes_per_span(),
            mix.join(", "),
            self.share(self.error_spans)
        )
    }
}

struct Service {
    name: &'static str,
    version: &'static str,
    language: &'static str,
    sdk_version: &'static str,
    scope: &'static str,
    code_root: &'static str,
    port: i64,
    /// What the service sends as `User-Agent` when it calls another over HTTP.
    user_agent: &'static str,
    endpoints: &'static [Endpoint],
}

struct Endpoint {
    method: &'static str,
    route: &'static str,
    /// Median time spent in the handler itself, apart from its calls, in milliseconds.
    self_median_ms: f64,
    calls: &'static [Call],
}

enum Call {
    Http {
        service: usize,
        endpoint: usize,
    },
    External {
        host: &'static str,
        method: &'static str,
        path: &'static str,
        median_ms: f64,
    },
    Database(&'static Query),
    Internal {
        function: &'static str,
        median_ms: f64,
    },
    /// Publish to a topic; the worker's consumer continues the trace.
    Publish {
        topic: &'static str,
    },
}

struct Query {
    system: &'static str,
    namespace: &'static str,
    operation: &'static str,
    collection: &'static str,
    text: &'static str,
    server: &'static str,
    port: i64,
    median_ms: f64,
}

const FRONTEND: usize = 0;
const CATALOG: usize = 1;
const INVENTORY: usize = 2;
const CHECKOUT: usize = 3;
const PAYMENTS: usize = 4;
const WORKER: usize = 5;
const PODS_PER_SERVICE: usize = 3;

const PRODUCT_BY_ID: Query = Query {
    system: "postgresql",
    namespace: "catalog",
    operation: "SELECT",
    collection: "products",
    text: "SELECT p.id, p.name, p.price, p.currency, p.stock, p.updated_at FROM products p WHERE p.id = $1",
    server: "postgres-catalog.db.svc.cluster.local",
    port: 5432,
    median_ms: 1.8,
};
const PRODUCT_LIST: Query = Query {
    system: "postgresql",
    namespace: "catalog",
    operation: "SELECT",
    collection: "products",
    text: "SELECT id, name, price, currency FROM products WHERE category_id = $1 ORDER BY rank LIMIT 50",
    server: "postgres-catalog.db.svc.cluster.local",
    port: 5432,
    median_ms: 4.0,
};
const CACHE_GET: Query = Query {
    system: "redis",
    namespace: "0",
    operation: "GET",
    collection: "cache",
    text: "GET product:?",
    server: "redis.cache.svc.cluster.local",
    port: 6379,
    median_ms: 0.4,
};
const CART_GET: Query = Query {
    system: "redis",
    namespace: "1",
    operation: "HGETALL",
    collection: "carts",
    text: "HGETALL cart:?",
    server: "redis.cache.svc.cluster.local",
    port: 6379,
    median_ms: 0.5,
};
const STOCK_BY_SKU: Query = Query {
    system: "postgresql",
    namespace: "inventory",
    operation: "SELECT",
    collection: "stock",
    text: "SELECT sku, warehouse_id, quantity, reserved FROM stock WHERE sku = $1 AND warehouse_id = $2",
    server: "postgres-inventory.db.svc.cluster.local",
    port: 5432,
    median_ms: 1.5,
};
const STOCK_RESERVE: Query = Query {
    system: "postgresql",
    namespace: "inventory",
    operation: "UPDATE",
    collection: "stock",
    text: "UPDATE stock SET quantity = quantity - $1 WHERE sku = $2",
    server: "postgres-inventory.db.svc.cluster.local",
    port: 5432,
    median_ms: 2.5,
};
const ORDER_INSERT: Query = Query {
    system: "postgresql",
    namespace: "orders",
    operation: "INSERT",
    collection: "orders",
    text: "INSERT INTO orders (id, customer_id, total) VALUES ($1, $2, $3)",
    server: "postgres-orders.db.svc.cluster.local",
    port: 5432,
    median_ms: 3.0,
};
const ORDER_BY_ID: Query = Query {
    system: "postgresql",
    namespace: "orders",
    operation: "SELECT",
    collection: "orders",
    text: "SELECT id, customer_id, status, total, currency, created_at FROM orders WHERE id = $1",
    server: "postgres-orders.db.svc.cluster.local",
    port: 5432,
    median_ms: 1.6,
};
const ORDER_UPDATE: Query = Query {
    system: "postgresql",
    namespace: "orders",
    operation: "UPDATE",
    collection: "orders",
    text: "UPDATE orders SET status = 'confirmed', updated_at = now() WHERE id = $1",
    server: "postgres-orders.db.svc.cluster.local",
    port: 5432,
    median_ms: 2.0,
};
const PAYMENT_INSERT: Query = Query {
    system: "postgresql",
    namespace: "payments",
    operation: "INSERT",
    collection: "charges",
    text: "INSERT INTO charges (id, order_id, amount) VALUES ($1, $2, $3)",
    server: "postgres-payments.db.svc.cluster.local",
    port: 5432,
    median_ms: 2.2,
};

const SERVICES: [Service; 6] = [
    Service {
        name: "frontend",
        version: "2.14.1",
        language: "nodejs",
        sdk_version: "2.0.1",
        scope: "@opentelemetry/instrumentation-http",
        code_root: "/app/src/routes",
        port: 8080,
        user_agent: "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        endpoints: &[
            Endpoint {
                method: "GET",
                route: "/api/products/{id}",
                self_median_ms: 2.0,
                calls: &[
                    Call::Http {
                        service: CATALOG,
                        endpoint: 0,
                    },
                    Call::Http {
                        service: INVENTORY,
                        endpoint: 0,
                    },
                    Call::Internal {
                        function: "renderProductPage",
                        median_ms: 1.5,
                    },
                ],
            },
            Endpoint {
                method: "GET",
                route: "/api/cart",
                self_median_ms: 1.0,
                calls: &[
                    Call::Database(&CART_GET),
                    Call::Http {
                        service: CATALOG,
                        endpoint: 1,
                    },
                ],
            },
            Endpoint {
                method: "POST",
                route: "/api/checkout",
                self_median_ms: 3.0,
                calls: &[
                    Call::Internal {
                        function: "validateCart",
                        median_ms: 0.8,
                    },
                    Call::Http {
                        service: CHECKOUT,
                        endpoint: 0,
                    },
                ],
            },
            Endpoint {
                method: "GET",
                route: "/api/orders/{id}",
                self_median_ms: 1.0,
                calls: &[Call::Http {
                    service: CHECKOUT,
                    endpoint: 1,
                }],
            },
        ],
    },
    Service {
        name: "catalog",
        version: "1.8.0",
        language: "java",
        sdk_version: "2.10.0",
        scope: "io.opentelemetry.tomcat-10.0",
        code_root: "com.shop.catalog",
        port: 8080,
        user_agent: "Apache-HttpClient/5.3.1 (Java/21.0.5)",
        endpoints: &[
            Endpoint {
                method: "GET",
                route: "/products/{id}",
                self_median_ms: 1.5,
                calls: &[Call::Database(&CACHE_GET), Call::Database(&PRODUCT_BY_ID)],
            },
            Endpoint {
                method: "GET",
                route: "/products",
                self_median_ms: 2.5,
                calls: &[
                    Call::Database(&PRODUCT_LIST),
                    Call::Internal {
                        function: "ProductMapper.toSummaries",
                        median_ms: 0.6,
                    },
                ],
            },
        ],
    },
    Service {
        name: "inventory",
        version: "0.31.4",
        language: "go",
        sdk_version: "1.33.0",
        scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        code_root: "github.com/shop/inventory/internal/stock",
        port: 9090,
        user_agent: "Go-http-client/1.1",
        endpoints: &[
            Endpoint {
                method: "GET",
                route: "/inventory/{sku}",
                self_median_ms: 0.8,
                calls: &[Call::Database(&STOCK_BY_SKU)],
            },
            Endpoint {
                method: "POST",
                route: "/inventory/{sku}/reserve",
                self_median_ms: 1.0,
                calls: &[Call::Database(&STOCK_RESERVE)],
            },
        ],
    },
    Service {
        name: "checkout",
        version: "3.2.0",
        language: "go",
        sdk_version: "1.33.0",
        scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        code_root: "github.com/shop/checkout/internal/order",
        port: 8080,
        user_agent: "Go-http-client/1.1",
        endpoints: &[
            Endpoint {
                method: "POST",
                route: "/checkout",
                self_median_ms: 2.0,
                calls: &[
                    Call::Http {
                        service: INVENTORY,
                        endpoint: 1,
                    },
                    Call::Http {
                        service: PAYMENTS,
                        endpoint: 0,
                    },
                    Call::Database(&ORDER_INSERT),
                    Call::Publish { topic: "orders" },
                ],
            },
            Endpoint {
                method: "GET",
                route: "/orders/{id}",
                self_median_ms: 0.7,
                calls: &[Call::Database(&ORDER_BY_ID)],
            },
        ],
    },
    Service {
        name: "payments",
        version: "5.0.3",
        language: "java",
        sdk_version: "2.10.0",
        scope: "io.opentelemetry.spring-webmvc-6.0",
        code_root: "com.shop.payments",
        port: 8443,
        user_agent: "Java-http-client/21.0.5",
        endpoints: &[Endpoint {
            method: "POST",
            route: "/payments/charge",
            self_median_ms: 2.5,
            calls: &[
                Call::Internal {
                    function: "FraudScorer.score",
                    median_ms: 3.0,
                },
                Call::External {
                    host: "api.psp.example.com",
                    method: "POST",
                    path: "/v1/charges",
                    median_ms: 120.0,
                },
                Call::Database(&PAYMENT_INSERT),
            ],
        }],
    },
    Service {
        name: "orders-worker",
        version: "1.4.2",
        language: "python",
        sdk_version: "1.29.0",
        scope: "opentelemetry.instrumentation.confluent_kafka",
        code_root: "/app/worker",
        port: 0,
        user_agent: "python-requests/2.32.3",
        endpoints: &[],
    },
];

/// What browsers send to the frontend.
const BROWSER_USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

/// Entry points at the frontend, with their share of traffic in percent.
const ENTRY_WEIGHTS: [(usize, u64); 4] = [(0, 50), (1, 25), (2, 10), (3, 15)];

const WORKER_CALLS: [Call; 2] = [
    Call::Database(&ORDER_UPDATE),
    Call::Internal {
        function: "send_confirmation_email",
        median_ms: 12.0,
    },
];

const MILLISECOND_NANOS: f64 = 1_000_000.0;
/// OTLP span flags: bit 8 says bit 9 is known, bit 9 says the parent is remote.
const FLAGS_PARENT_KNOWN: u32 = 0x100;
const FLAGS_PARENT_REMOTE: u32 = 0x200;

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn integer(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn boolean(key: &str, value: bool) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(value)),
        }),
        ..Default::default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn uuid(bytes: &[u8; 16]) -> String {
    let digits = hex(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &digits[..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        &digits[20..]
    )
}

fn ip_address(random: &mut Random) -> String {
    format!("10.42.{}.{}", random.below(16), 2 + random.below(250))
}

/// Fills the `{...}` segments of a route with plausible ids.
fn fill_route(random: &mut Random, route: &str) -> String {
    let mut path = String::with_capacity(route.len() + 8);
    for (index, segment) in route.split('/').enumerate() {
        if index > 0 {
            path.push('/');
        }
        match segment {
            "{id}" => path.push_str(&(10_000 + random.below(990_000)).to_string()),
            "{sku}" => path.push_str(&format!("SKU-{:05}", random.below(100_000))),
            other => path.push_str(other),
        }
    }
    path
}

fn build_resource(random: &mut Random, service: &Service) -> Resource {
    let pod_suffix: String = (0..5)
        .map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[random.below(27) as usize]))
        .collect();
    let replica_set = format!("{:x}", 0x6000_0000 + random.below(0x1000_0000));
    let attributes = vec![
        text("service.name", service.name),
        text("service.version", service.version),
        text("deployment.environment.name", "production"),
        text(
            "host.name",
            format!(
                "ip-10-0-{}-{}.eu-west-1.compute.internal",
                random.below(8),
                random.below(250)
            ),
        ),
        text(
            "k8s.pod.name",
            format!("{}-{replica_set}-{pod_suffix}", service.name),
        ),
        text("k8s.namespace.name", "shop"),
        text("telemetry.sdk.name", "opentelemetry"),
        text("telemetry.sdk.language", service.language),
        text("telemetry.sdk.version", service.sdk_version),
        text("cloud.region", "eu-west-1"),
    ];
    Resource {
        attributes,
        ..Default::default()
    }
}

/// Generates export requests; one per thread, each with its own seed.
pub struct Workload {
    random: Random,
    /// `resources[service][pod]`.
    resources: Vec<Vec<Resource>>,
    tally: Tally,
    /// A fault: statements on this database namespace take this many times longer.
    slow_database: Option<(&'static str, f64)>,
}

/// The spans of the request being built, by service and pod, plus the pods of the current trace.
struct RequestSpans {
    spans: Vec<Vec<Span>>,
    trace_pods: [usize; SERVICES.len()],
    trace_id: [u8; 16],
    count: u64,
    error_count: u64,
    count_by_kind: [u64; 6],
}

impl RequestSpans {
    fn push(&mut self, service: usize, span: Span) {
        self.count += 1;
        if span
            .status
            .as_ref()
            .is_some_and(|status| status.code == StatusCode::Error as i32)
        {
            self.error_count += 1;
        }
        if let Some(slot) = usize::try_from(span.kind)
            .ok()
            .and_then(|kind| self.count_by_kind.get_mut(kind))
        {
            *slot += 1;
        }
        self.spans[service * PODS_PER_SERVICE + self.trace_pods[service]].push(span);
    }
}

/// How a call ended, for its caller's status.
struct Outcome {
    end: u64,
    failed: bool,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        // Resources depend on a fixed seed so every thread and run sees the same pods.
        let mut resource_random = Random::new(0x5EED);
        let resources = SERVICES
            .iter()
            .map(|service| {
                (0..PODS_PER_SERVICE)
                    .map(|_| build_resource(&mut resource_random, service))
                    .collect()
            })
            .collect();
        Workload {
            random: Random::new(seed),
            resources,
            tally: Tally::default(),
            slow_database: None,
        }
    }

    /// Injects a fault: every statement on database `namespace` takes `factor` times longer
    /// (a missing index, a lock).
    pub fn with_slow_database(mut self, namespace: &'static str, factor: f64) -> Workload {
        self.slow_database = Some((namespace, factor));
        self
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// One request of whole traces holding at least `min_spans` spans, encoded.
    pub fn encoded_request(&mut self, min_spans: u64, window: TimeWindow) -> EncodedRequest {
        let (request, spans) = self.request(min_spans, window);
        let body = request.encode_to_vec();
        self.tally.bytes += body.len() as u64;
        EncodedRequest { body, spans }
    }

    pub fn request(
        &mut self,
        min_spans: u64,
        window: TimeWindow,
    ) -> (ExportTraceServiceRequest, u64) {
        let mut request_spans = RequestSpans {
            spans: vec![Vec::new(); SERVICES.len() * PODS_PER_SERVICE],
            trace_pods: [0; SERVICES.len()],
            trace_id: [0; 16],
            count: 0,
            error_count: 0,
            count_by_kind: [0; 6],
        };
        while request_spans.count < min_spans {
            self.trace(&mut request_spans, window);
            self.tally.traces += 1;
        }
        let mut resource_spans = Vec::new();
        for (slot, spans) in request_spans.spans.into_iter().enumerate() {
            if spans.is_empty() {
                continue;
            }
            let service = &SERVICES[slot / PODS_PER_SERVICE];
            resource_spans.push(ResourceSpans {
                resource: Some(
                    self.resources[slot / PODS_PER_SERVICE][slot % PODS_PER_SERVICE].clone(),
                ),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: service.scope.to_owned(),
                        version: service.sdk_version.to_owned(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
                }],
                schema_url: String::new(),
            });
        }
        self.tally.requests += 1;
        self.tally.spans += request_spans.count;
        self.tally.error_spans += request_spans.error_count;
        for (total, count) in self
            .tally
            .spans_by_kind
            .iter_mut()
            .zip(request_spans.count_by_kind)
        {
            *total += count;
        }
        (
            ExportTraceServiceRequest { resource_spans },
            request_spans.count,
        )
    }

    fn trace(&mut self, out: &mut RequestSpans, window: TimeWindow) {
        out.trace_id = self.random.id();
        for pod in out.trace_pods.iter_mut() {
            *pod = self.random.below(PODS_PER_SERVICE as u64) as usize;
        }
        let mut draw = self.random.below(100);
        let mut entry = 0;
        for (endpoint, weight) in ENTRY_WEIGHTS {
            if draw < weight {
                entry = endpoint;
                break;
            }
            draw -= weight;
        }
        let start = window.start_unix_nano + self.random.below(window.length_nanos.max(1));
        self.server_span(out, FRONTEND, entry, None, start);
    }

    fn gap(&mut self) -> u64 {
        20_000 + self.random.below(200_000)
    }

    fn duration(&mut self, median_ms: f64, sigma: f64) -> u64 {
        (self.random.log_normal(median_ms, sigma) * MILLISECOND_NANOS) as u64 + 1_000
    }

    fn base_span(
        &self,
        out: &RequestSpans,
        span_id: [u8; 8],
        parent: Option<([u8; 8], bool)>,
        name: String,
        kind: SpanKind,
    ) -> Span {
        let (parent_span_id, flags) = match parent {
            None => (Vec::new(), FLAGS_PARENT_KNOWN),
            Some((parent_id, false)) => (parent_id.to_vec(), FLAGS_PARENT_KNOWN),
            Some((parent_id, true)) => {
                (parent_id.to_vec(), FLAGS_PARENT_KNOWN | FLAGS_PARENT_REMOTE)
            }
        };
        Span {
            trace_id: out.trace_id.to_vec(),
            span_id: span_id.to_vec(),
            parent_span_id,
            flags,
            name,
            kind: kind as i32,
            ..Default::default()
        }
    }

    /// A server span and its calls; `caller` is the calling service and client span, `None` for
    /// requests from browsers.
    fn server_span(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        endpoint_index: usize,
        caller: Option<(usize, [u8; 8])>,
        start: u64,
    ) -> Outcome {
        let service = &SERVICES[service_index];
        let endpoint = &service.endpoints[endpoint_index];
        let span_id: [u8; 8] = self.random.id();
        let mut cursor = start + self.gap();
        let mut downstream_failed = false;
        for call in endpoint.calls {
            let outcome = self.call(out, service_index, call, span_id, cursor);
            downstream_failed |= outcome.failed;
            cursor = outcome.end + self.gap();
        }
        let end = cursor + self.duration(endpoint.self_median_ms, 0.9);
        let status_code: i64 =
            if (downstream_failed && self.random.chance(0.3)) || self.random.chance(0.018) {
                *self.random.pick(&[500, 500, 502, 503])
            } else if self.random.chance(0.03) {
                *self.random.pick(&[400, 404, 404, 409])
            } else if endpoint.method == "POST" {
                201
            } else {
                200
            };
        let failed = status_code >= 500;
        let path = fill_route(&mut self.random, endpoint.route);
        let client_address = ip_address(&mut self.random);
        let server_address = if service_index == FRONTEND {
            "shop.example.com".to_owned()
        } else {
            format!("{}.shop.svc.cluster.local", service.name)
        };
        let user_agent = match caller {
            Some((caller_service, _)) => SERVICES[caller_service].user_agent,
            None => *self.random.pick(&BROWSER_USER_AGENTS),
        };
        let parent = caller.map(|(_, client_span_id)| (client_span_id, true));
        let mut span = self.base_span(
            out,
            span_id,
            parent,
            format!("{} {}", endpoint.method, endpoint.route),
            SpanKind::Server,
        );
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span.attributes = vec![
            text("http.request.method", endpoint.method),
            text("http.route", endpoint.route),
            text("url.path", path),
            text("url.scheme", "http"),
            integer("http.response.status_code", status_code),
            text("server.address", server_address),
            integer("server.port", service.port),
            text("user_agent.original", user_agent),
            text("client.address", client_address),
            text("network.protocol.version", "1.1"),
        ];
        span.status = Some(status(failed, ""));
        out.push(service_index, span);
        Outcome { end, failed }
    }

    fn call(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        call: &Call,
        parent: [u8; 8],
        start: u64,
    ) -> Outcome {
        match call {
            Call::Http {
                service: callee,
                endpoint,
            } => self.http_call(out, service_index, *callee, *endpoint, parent, start),
            Call::External {
                host,
                method,
                path,
                median_ms,
            } => self.external_call(
                out,
                service_index,
                host,
                method,
                path,
                *median_ms,
                parent,
                start,
            ),
            Call::Database(query) => self.database_call(out, service_index, query, parent, start),
            Call::Internal {
                function,
                median_ms,
            } => self.internal_span(out, service_index, function, *median_ms, parent, start),
            Call::Publish { topic } => self.publish(out, service_index, topic, parent, start),
        }
    }

    fn http_call(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        callee: usize,
        endpoint_index: usize,
        parent: [u8; 8],
        start: u64,
    ) -> Outcome {
        let span_id: [u8; 8] = self.random.id();
        let network = self.duration(0.15, 0.5);
        let callee_outcome = self.server_span(
            out,
            callee,
            endpoint_index,
            Some((service_index, span_id)),
            start + network,
        );
        let end = callee_outcome.end + network;
        let callee_service = &SERVICES[callee];
        let endpoint = &callee_service.endpoints[endpoint_index];
        let status_code: i64 = if callee_outcome.failed {
            500
        } else if endpoint.method == "POST" {
            201
        } else {
            200
        };
        let query = if endpoint.method == "GET" {
            "?currency=EUR&locale=en-GB"
        } else {
            ""
        };
        let url = format!(
            "http://{}:{}{}{query}",
            callee_service.name,
            callee_service.port,
            fill_route(&mut self.random, endpoint.route)
        );
        let peer_address = ip_address(&mut self.random);
        let body_size = if endpoint.method == "POST" {
            200 + self.random.below(2_000) as i64
        } else {
            0
        };
        let mut span = self.base_span(
            out,
            span_id,
            Some((parent, false)),
            endpoint.method.to_owned(),
            SpanKind::Client,
        );
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span.attributes = vec![
            text("http.request.method", endpoint.method),
            text("url.full", url),
            text("url.template", endpoint.route),
            text("server.address", callee_service.name),
            integer("server.port", callee_service.port),
            integer("http.response.status_code", status_code),
            text("network.peer.address", peer_address),
            text("network.protocol.version", "1.1"),
            text("peer.service", callee_service.name),
            integer("http.request.body.size", body_size),
        ];
        span.status = Some(status(callee_outcome.failed, ""));
        out.push(service_index, span);
        Outcome {
            end,
            failed: callee_outcome.failed,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn external_call(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        host: &str,
        method: &str,
        path: &str,
        median_ms: f64,
        parent: [u8; 8],
        start: u64,
    ) -> Outcome {
        let span_id: [u8; 8] = self.random.id();
        let end = start + self.duration(median_ms, 0.6);
        let failed = self.random.chance(0.02);
        let status_code: i64 = if failed { 502 } else { 200 };
        let peer_address = format!(
            "34.{}.{}.{}",
            self.random.below(256),
            self.random.below(256),
            1 + self.random.below(254)
        );
        let mut span = self.base_span(
            out,
            span_id,
            Some((parent, false)),
            method.to_owned(),
            SpanKind::Client,
        );
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span.attributes = vec![
            text("http.request.method", method),
            text("url.full", format!("https://{host}{path}")),
            text("url.template", path),
            text("server.address", host),
            integer("server.port", 443),
            integer("http.response.status_code", status_code),
            text("network.peer.address", peer_address),
            text("network.protocol.version", "2"),
            text("peer.service", "psp"),
            integer(
                "http.request.body.size",
                300 + self.random.below(400) as i64,
            ),
        ];
        span.status = Some(status(failed, ""));
        out.push(service_index, span);
        Outcome { end, failed }
    }

    fn database_call(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        query: &Query,
        parent: [u8; 8],
        start: u64,
    ) -> Outcome {
        let span_id: [u8; 8] = self.random.id();
        let slowdown = match self.slow_database {
            Some((namespace, factor)) if namespace == query.namespace => factor,
            _ => 1.0,
        };
        let end = start + self.duration(query.median_ms * slowdown, 0.9);
        let failed = self.random.chance(0.01);
        let returned_rows = if query.operation == "SELECT" {
            1 + self.random.below(50) as i64
        } else {
            1
        };
        let peer_address = ip_address(&mut self.random);
        let mut span = self.base_span(
            out,
            span_id,
            Some((parent, false)),
            format!("{} {}", query.operation, query.collection),
            SpanKind::Client,
        );
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span.attributes = vec![
            text("db.system.name", query.system),
            text("db.namespace", query.namespace),
            text("db.operation.name", query.operation),
            text("db.collection.name", query.collection),
            text("db.query.text", query.text),
            text("server.address", query.server),
            integer("server.port", query.port),
            text("network.peer.address", peer_address),
            integer("db.response.returned_rows", returned_rows),
            text(
                "db.response.status_code",
                if failed { "40001" } else { "00000" },
            ),
        ];
        span.status = Some(status(
            failed,
            if failed {
                "could not serialize access due to concurrent update"
            } else {
                ""
            },
        ));
        out.push(service_index, span);
        Outcome { end, failed }
    }

    fn internal_span(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        function: &str,
        median_ms: f64,
        parent: [u8; 8],
        start: u64,
    ) -> Outcome {
        let service = &SERVICES[service_index];
        let span_id: [u8; 8] = self.random.id();
        let end = start + self.duration(median_ms, 0.7);
        let request_id = uuid(&self.random.id::<16>());
        let mut span = self.base_span(
            out,
            span_id,
            Some((parent, false)),
            function.to_owned(),
            SpanKind::Internal,
        );
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span.attributes = vec![
            text(
                "code.function.name",
                format!("{}.{function}", service.code_root),
            ),
            text(
                "code.file.path",
                format!(
                    "{}/{}.src",
                    service.code_root.replace('.', "/"),
                    service.name
                ),
            ),
            integer("code.line.number", 20 + self.random.below(400) as i64),
            integer("thread.id", 1 + self.random.below(64) as i64),
            text(
                "thread.name",
                format!("http-nio-8080-exec-{}", self.random.below(16)),
            ),
            text(
                "app.tenant.id",
                format!("tenant-{:04}", self.random.below(500)),
            ),
            boolean("app.cache.hit", self.random.chance(0.7)),
            integer("app.items.count", self.random.below(40) as i64),
            text(
                "app.feature.flag",
                *self
                    .random
                    .pick(&["new-pricing", "control", "fast-checkout"]),
            ),
            text("app.request.id", request_id),
        ];
        span.status = Some(status(false, ""));
        out.push(service_index, span);
        Outcome { end, failed: false }
    }

    /// A producer span in the caller and, after a queueing delay, the worker's consumer span
    /// with its own calls. The caller only waits for the producer.
    fn publish(
        &mut self,
        out: &mut RequestSpans,
        service_index: usize,
        topic: &str,
        parent: [u8; 8],
        start: u64,
    ) -> Outcome {
        let producer_id: [u8; 8] = self.random.id();
        let producer_end = start + self.duration(1.2, 0.5);
        let partition = self.random.below(12);
        let offset = self.random.below(50_000_000) as i64;
        let message_id = hex(&self.random.id::<8>());
        let body_size = 400 + self.random.below(1_500) as i64;
        let mut producer = self.base_span(
            out,
            producer_id,
            Some((parent, false)),
            format!("send {topic}"),
            SpanKind::Producer,
        );
        producer.start_time_unix_nano = start;
        producer.end_time_unix_nano = producer_end;
        producer.attributes =
            messaging_attributes("send", topic, partition, offset, &message_id, body_size);
        producer.status = Some(status(false, ""));
        out.push(service_index, producer);

        let consumer_id: [u8; 8] = self.random.id();
        let consumer_start = producer_end + self.duration(40.0, 1.0);
        let mut cursor = consumer_start + self.gap();
        let mut failed = false;
        for call in &WORKER_CALLS {
            let outcome = self.call(out, WORKER, call, consumer_id, cursor);
            failed |= outcome.failed;
            cursor = outcome.end + self.gap();
        }
        let mut consumer = self.base_span(
            out,
            consumer_id,
            Some((producer_id, true)),
            format!("process {topic}"),
            SpanKind::Consumer,
        );
        consumer.start_time_unix_nano = consumer_start;
        consumer.end_time_unix_nano = cursor + self.duration(0.5, 0.5);
        consumer.attributes =
            messaging_attributes("process", topic, partition, offset, &message_id, body_size);
        consumer.status = Some(status(failed, ""));
        out.push(WORKER, consumer);
        Outcome {
            end: producer_end,
            failed: false,
        }
    }
}

fn status(failed: bool, message: &str) -> Status {
    if failed {
        Status {
            code: StatusCode::Error as i32,
            message: message.to_owned(),
        }
    } else {
        Status::default()
    }
}

fn messaging_attributes(
    operation: &str,
    topic: &str,
    partition: u64,
    offset: i64,
    message_id: &str,
    body_size: i64,
) -> Vec<KeyValue> {
    vec![
        text("messaging.system", "kafka"),
        text("messaging.operation.type", operation),
        text("messaging.operation.name", operation),
        text("messaging.destination.name", topic),
        text("messaging.destination.partition.id", partition.to_string()),
        integer("messaging.kafka.offset", offset),
        text("messaging.message.id", message_id),
        integer("messaging.message.body.size", body_size),
        text("messaging.consumer.group.name", "orders-worker"),
        text("server.address", "kafka.shop.svc.cluster.local"),
    ]
}

/// Generates `total_spans` spans (rounded up to whole requests) on `threads` threads.
pub fn generate_pool(
    total_spans: u64,
    spans_per_request: u64,
    window: TimeWindow,
    seed: u64,
    threads: usize,
) -> (Vec<EncodedRequest>, Tally) {
    let threads = threads.max(1) as u64;
    let per_thread = total_spans.div_ceil(threads);
    let parts: Vec<(Vec<EncodedRequest>, Tally)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread_index| {
                scope.spawn(move || {
                    let mut workload =
                        Workload::new(seed.wrapping_mul(1_000).wrapping_add(thread_index));
                    let mut requests = Vec::new();
                    let mut spans = 0;
                    while spans < per_thread {
                        let request = workload
                            .encoded_request(spans_per_request.min(per_thread - spans), window);
                        spans += request.spans;
                        requests.push(request);
                    }
                    (requests, workload.tally())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    });
    let mut pool = Vec::new();
    let mut tally = Tally::default();
    for (requests, part_tally) in parts {
        pool.extend(requests);
        tally.merge(&part_tally);
    }
    (pool, tally)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const NOW: u64 = 1_790_000_000_000_000_000;

    fn window() -> TimeWindow {
        TimeWindow {
            start_unix_nano: NOW - 60_000_000_000,
            length_nanos: 60_000_000_000,
        }
    }

    #[test]
    fn spans_weigh_about_470_bytes_with_ten_attributes() {
        let mut workload = Workload::new(1);
        let (request, spans) = workload.request(1_000, window());
        let bytes = request.encoded_len() as f64 / spans as f64;
        assert!((430.0..510.0).contains(&bytes), "{bytes} bytes per span");
        for resource_spans in &request.resource_spans {
            assert_eq!(
                resource_spans
                    .resource
                    .as_ref()
                    .map(|resource| resource.attributes.len()),
                Some(10)
            );
            for span in &resource_spans.scope_spans[0].spans {
                assert_eq!(span.attributes.len(), 10, "{}", span.name);
                assert!(span.end_time_unix_nano > span.start_time_unix_nano);
            }
        }
    }

    #[test]
    fn ids_are_unique_and_parents_exist_in_the_trace() {
        let mut workload = Workload::new(2);
        let (request, _) = workload.request(5_000, window());
        let spans: Vec<&Span> = request
            .resource_spans
            .iter()
            .flat_map(|resource| resource.scope_spans[0].spans.iter())
            .collect();
        let span_ids: HashSet<(&[u8], &[u8])> = spans
            .iter()
            .map(|span| (span.trace_id.as_slice(), span.span_id.as_slice()))
            .collect();
        assert_eq!(span_ids.len(), spans.len());
        for span in &spans {
            if !span.parent_span_id.is_empty() {
                assert!(
                    span_ids.contains(&(span.trace_id.as_slice(), span.parent_span_id.as_slice())),
                    "orphan {}",
                    span.name
                );
            }
        }
    }

    #[test]
    fn about_two_percent_of_spans_fail() {
        let mut workload = Workload::new(3);
        for _ in 0..20 {
            workload.request(1_000, window());
        }
        let share = workload.tally().share(workload.tally().error_spans);
        assert!((1.0..3.5).contains(&share), "{share} % errors");
    }
}
