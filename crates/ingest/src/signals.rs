//! Application signals derived from spans, with the semantics of CloudWatch Application
//! Signals (DESIGN.md): which spans count as requests a service answers (server signals) or
//! makes (dependency signals), how their operation and remote target are named, what is a fault
//! and what an error, and a guard that bounds the operations per service.
//!
//! The output is per-minute deltas that the caller merges into its rollups; keeping them,
//! evaluating SLOs over them and persisting the guard are other stages' work.
//!
//! Spans of one batch are grouped by borrowed key parts (the resource by pointer, names as
//! slices of attribute values), so the strings of a [`SignalKey`] are built once per distinct
//! key and batch rather than once per span.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ptr;

use sloscope_model::{
    AttrValue, OTHER_OPERATION, Resource, SignalKey, SignalKind, SignalStats, Span, SpanKind,
    StatusCode, minute_of,
};

/// Per-minute stats of each signal key, as one call of [`derive_signals`] adds them.
pub type SignalDeltas = HashMap<(i64, SignalKey), SignalStats>;

/// The remote service of a CLIENT or PRODUCER span that names no peer, database, messaging
/// system or server address.
pub const UNKNOWN_REMOTE_SERVICE: &str = "unknown_remote_service";

/// gRPC codes that mean the server failed, as opposed to the client asking wrongly: UNKNOWN,
/// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
const GRPC_SERVER_ERRORS: [i64; 6] = [2, 4, 12, 13, 14, 15];

const NANOS_PER_MILLI: f64 = 1_000_000.0;

/// Bounds the distinct operations of each (environment, service): once `limit` server
/// operations are known, new ones fold into [`OTHER_OPERATION`]; likewise for dependency
/// targets (remote service and operation pairs), where a new operation of a known remote
/// service folds to that service's `other` operation and a new remote service folds whole. Every
/// folded request is counted, per service, so that the fold is reported rather than hidden.
#[derive(Debug)]
pub struct OperationGuard {
    limit: usize,
    /// Environment, then service, then what that service has been seen doing.
    environments: HashMap<String, HashMap<String, KnownOperations>>,
    folded_by_service: HashMap<String, u64>,
    total_folded: u64,
}

#[derive(Debug, Default)]
struct KnownOperations {
    server: HashSet<String>,
    /// Remote service, then its remote operations.
    dependency: HashMap<String, HashSet<String>>,
    dependency_targets: usize,
}

/// What the guard lets a key carry.
enum Admitted {
    AsIs,
    Folded,
}

impl OperationGuard {
    pub fn new(limit: usize) -> OperationGuard {
        OperationGuard {
            limit,
            environments: HashMap::new(),
            folded_by_service: HashMap::new(),
            total_folded: 0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Requests folded into `other` so far, per service name (all environments together).
    pub fn folded(&self) -> impl Iterator<Item = (&str, u64)> {
        self.folded_by_service
            .iter()
            .map(|(service, requests)| (service.as_str(), *requests))
    }

    pub fn total_folded(&self) -> u64 {
        self.total_folded
    }

    /// Called once per distinct key of a batch, not per span, so the key copies are cheap.
    fn known_operations(&mut self, environment: &str, service: &str) -> &mut KnownOperations {
        self.environments
            .entry(environment.to_owned())
            .or_default()
            .entry(service.to_owned())
            .or_default()
    }

    fn count_folded(&mut self, service: &str, requests: u64) {
        self.total_folded += requests;
        match self.folded_by_service.get_mut(service) {
            Some(folded) => *folded += requests,
            None => {
                self.folded_by_service.insert(service.to_owned(), requests);
            }
        }
    }

    fn admit_server(&mut self, resource: &Resource, operation: &str, requests: u64) -> Admitted {
        let limit = self.limit;
        let known = self.known_operations(&resource.environment, &resource.service);
        if known.server.contains(operation) {
            return Admitted::AsIs;
        }
        if known.server.len() < limit {
            known.server.insert(operation.to_owned());
            return Admitted::AsIs;
        }
        self.count_folded(&resource.service, requests);
        Admitted::Folded
    }

    /// Returns whether the remote service, and whether the remote operation, are kept.
    fn admit_dependency(
        &mut self,
        resource: &Resource,
        remote_service: &str,
        remote_operation: &str,
        requests: u64,
    ) -> (Admitted, Admitted) {
        let limit = self.limit;
        let known = self.known_operations(&resource.environment, &resource.service);
        let under_limit = known.dependency_targets < limit;
        let admitted = match known.dependency.get_mut(remote_service) {
            Some(operations) if operations.contains(remote_operation) => {
                (Admitted::AsIs, Admitted::AsIs)
            }
            Some(operations) if under_limit => {
                operations.insert(remote_operation.to_owned());
                known.dependency_targets += 1;
                (Admitted::AsIs, Admitted::AsIs)
            }
            Some(_) => (Admitted::AsIs, Admitted::Folded),
            None if under_limit => {
                let operations = HashSet::from([remote_operation.to_owned()]);
                known
                    .dependency
                    .insert(remote_service.to_owned(), operations);
                known.dependency_targets += 1;
                (Admitted::AsIs, Admitted::AsIs)
            }
            None => (Admitted::Folded, Admitted::Folded),
        };
        if matches!(admitted.1, Admitted::Folded) {
            self.count_folded(&resource.service, requests);
        }
        admitted
    }
}

/// A name built from at most two attribute values and a separator. Grouping by the parts
/// instead of the joined text saves an allocation per span; two different part lists that join
/// to the same text end up in the same [`SignalKey`] anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Name<'a> {
    head: &'a str,
    separator: &'static str,
    tail: &'a str,
}

impl<'a> Name<'a> {
    fn single(text: &'a str) -> Name<'a> {
        Name {
            head: text,
            separator: "",
            tail: "",
        }
    }

    fn joined(head: &'a str, separator: &'static str, tail: &'a str) -> Name<'a> {
        Name {
            head,
            separator,
            tail,
        }
    }

    fn render(&self) -> String {
        let mut rendered =
            String::with_capacity(self.head.len() + self.separator.len() + self.tail.len());
        rendered.push_str(self.head);
        rendered.push_str(self.separator);
        rendered.push_str(self.tail);
        rendered
    }
}

/// The attributes signal derivation reads, found in one pass over the span's attributes and
/// one over its resource's, instead of a linear search per key. Each field has a slot for its
/// current semantic-convention key and one for the older key, so that the precedence is the
/// one of looking each up in turn: current key (span, then resource), then older key.
#[derive(Default)]
struct SpanFacts<'a> {
    http_method: Slots<'a>,
    http_route: Slots<'a>,
    url_template: Slots<'a>,
    http_status: Slots<'a>,
    grpc_status: Slots<'a>,
    peer_service: Slots<'a>,
    db_system: Slots<'a>,
    db_namespace: Slots<'a>,
    db_operation: Slots<'a>,
    messaging_system: Slots<'a>,
    messaging_destination: Slots<'a>,
    server_address: Slots<'a>,
    rpc_service: Slots<'a>,
    rpc_method: Slots<'a>,
}

#[derive(Default)]
struct Slots<'a> {
    current: Option<&'a AttrValue>,
    older: Option<&'a AttrValue>,
}

impl<'a> Slots<'a> {
    fn value(&self) -> Option<&'a AttrValue> {
        self.current.or(self.older)
    }

    /// The text, if set and not empty (an empty current value falls back to the older key).
    fn text(&self) -> Option<&'a str> {
        let non_empty = |value: Option<&'a AttrValue>| {
            value
                .and_then(AttrValue::as_str)
                .filter(|text| !text.is_empty())
        };
        non_empty(self.current).or_else(|| non_empty(self.older))
    }

    fn integer(&self) -> Option<i64> {
        self.value().and_then(AttrValue::as_i64)
    }
}

impl<'a> SpanFacts<'a> {
    fn of(span: &'a Span) -> SpanFacts<'a> {
        let mut facts = SpanFacts::default();
        facts.read(&span.attributes.0);
        facts.read(&span.resource.attributes.0);
        facts
    }

    /// Fills the slots still empty from `attributes`.
    fn read(&mut self, attributes: &'a [(String, AttrValue)]) {
        for (key, value) in attributes {
            let (slots, is_current) = match key.as_str() {
                "http.request.method" => (&mut self.http_method, true),
                "http.method" => (&mut self.http_method, false),
                "http.route" => (&mut self.http_route, true),
                "url.template" => (&mut self.url_template, true),
                "http.response.status_code" => (&mut self.http_status, true),
                "http.status_code" => (&mut self.http_status, false),
                "rpc.grpc.status_code" => (&mut self.grpc_status, true),
                "peer.service" => (&mut self.peer_service, true),
                "db.system.name" => (&mut self.db_system, true),
                "db.system" => (&mut self.db_system, false),
                "db.namespace" => (&mut self.db_namespace, true),
                "db.name" => (&mut self.db_namespace, false),
                "db.operation.name" => (&mut self.db_operation, true),
                "db.operation" => (&mut self.db_operation, false),
                "messaging.system" => (&mut self.messaging_system, true),
                "messaging.destination.name" => (&mut self.messaging_destination, true),
                "server.address" => (&mut self.server_address, true),
                "net.peer.name" => (&mut self.server_address, false),
                "rpc.service" => (&mut self.rpc_service, true),
                "rpc.method" => (&mut self.rpc_method, true),
                _ => continue,
            };
            let slot = if is_current {
                &mut slots.current
            } else {
                &mut slots.older
            };
            slot.get_or_insert(value);
        }
    }
}

fn server_name<'a>(span: &'a Span, facts: &SpanFacts<'a>) -> Name<'a> {
    match (facts.http_route.text(), facts.http_method.text()) {
        (Some(route), Some(method)) => Name::joined(method, " ", route),
        (Some(route), None) => Name::single(route),
        // Never `url.path` or `http.target`: raw paths carry ids and would explode cardinality.
        (None, _) => Name::single(&span.name),
    }
}

fn remote_service_name<'a>(facts: &SpanFacts<'a>) -> Name<'a> {
    if let Some(peer) = facts.peer_service.text() {
        return Name::single(peer);
    }
    if let Some(system) = facts.db_system.text() {
        return match facts.db_namespace.text() {
            Some(namespace) => Name::joined(system, ":", namespace),
            None => Name::single(system),
        };
    }
    if let Some(system) = facts.messaging_system.text() {
        return match facts.messaging_destination.text() {
            Some(destination) => Name::joined(system, ":", destination),
            None => Name::single(system),
        };
    }
    if let Some(address) = facts.server_address.text() {
        return Name::single(address);
    }
    Name::single(UNKNOWN_REMOTE_SERVICE)
}

fn remote_operation_name<'a>(span: &'a Span, facts: &SpanFacts<'a>) -> Name<'a> {
    if let Some(operation) = facts.db_operation.text() {
        return Name::single(operation);
    }
    if let Some(method) = facts.http_method.text()
        && let Some(route) = facts
            .http_route
            .text()
            .or_else(|| facts.url_template.text())
    {
        return Name::joined(method, " ", route);
    }
    if let Some(rpc_method) = facts.rpc_method.text() {
        return match facts.rpc_service.text() {
            Some(rpc_service) => Name::joined(rpc_service, "/", rpc_method),
            None => Name::single(rpc_method),
        };
    }
    Name::single(&span.name)
}

/// The operation a server signal of this span is counted under: `http.request.method` and
/// `http.route` (`GET /customers/{id}`) when the span has a route, else the span name.
pub fn server_operation(span: &Span) -> String {
    server_name(span, &SpanFacts::of(span)).render()
}

/// The remote service and remote operation a dependency signal of this span is counted under.
pub fn remote_target(span: &Span) -> (String, String) {
    let facts = SpanFacts::of(span);
    (
        remote_service_name(&facts).render(),
        remote_operation_name(span, &facts).render(),
    )
}

fn is_server(span: &Span) -> bool {
    matches!(span.kind, SpanKind::Server | SpanKind::Consumer) || span.is_local_root()
}

fn is_dependency(span: &Span) -> bool {
    matches!(span.kind, SpanKind::Client | SpanKind::Producer)
}

/// Whether the request failed on the server's side (fault) or was refused as the client's
/// mistake (error, HTTP 4xx). A request is never both.
fn outcome(span: &Span, facts: &SpanFacts<'_>) -> (bool, bool) {
    let http_status = facts.http_status.integer();
    let grpc_status = facts.grpc_status.integer();
    let fault = span.status_code == StatusCode::Error
        || http_status.is_some_and(|status| status >= 500)
        || grpc_status.is_some_and(|status| GRPC_SERVER_ERRORS.contains(&status));
    let error = !fault && http_status.is_some_and(|status| (400..500).contains(&status));
    (fault, error)
}

/// A resource compared by address: the spans of one export share one `Arc<Resource>`.
#[derive(Clone, Copy, Debug)]
struct ResourceRef<'a>(&'a Resource);

impl PartialEq for ResourceRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(self.0, other.0)
    }
}

impl Eq for ResourceRef<'_> {}

impl Hash for ResourceRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        ptr::hash(self.0, state);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target<'a> {
    Server {
        operation: Name<'a>,
    },
    Dependency {
        remote_service: Name<'a>,
        remote_operation: Name<'a>,
    },
}

/// A signal key of one batch, borrowing from its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct BatchKey<'a> {
    minute: i64,
    resource: ResourceRef<'a>,
    target: Target<'a>,
}

/// The signals of one batch, in first-seen order so that which operations the guard admits
/// does not depend on hashing.
#[derive(Default)]
struct BatchSignals<'a> {
    entries: Vec<(BatchKey<'a>, SignalStats)>,
    /// Looked up once per span: aHash, several times cheaper than SipHash on these short keys
    /// (a batch's own spans are no denial-of-service lever against it).
    entry_of_key: HashMap<BatchKey<'a>, usize, ahash::RandomState>,
}

impl<'a> BatchSignals<'a> {
    fn record(&mut self, key: BatchKey<'a>, latency_ms: f64, fault: bool, error: bool) {
        let index = match self.entry_of_key.entry(key) {
            Entry::Occupied(existing) => *existing.get(),
            Entry::Vacant(vacant) => {
                self.entries.push((key, SignalStats::default()));
                *vacant.insert(self.entries.len() - 1)
            }
        };
        self.entries[index].1.record(latency_ms, fault, error);
    }
}

/// Adds the server and dependency signals of `spans` to `into`, folding operations beyond the
/// guard's limit into `other`.
pub fn derive_signals(spans: &[Span], guard: &mut OperationGuard, into: &mut SignalDeltas) {
    let mut batch = BatchSignals::default();
    for span in spans {
        let minute = minute_of(span.start_unix_nano);
        let resource = ResourceRef(&span.resource);
        let latency_ms = span.duration_nanos() as f64 / NANOS_PER_MILLI;
        let facts = SpanFacts::of(span);
        let (fault, error) = outcome(span, &facts);
        if is_server(span) {
            let target = Target::Server {
                operation: server_name(span, &facts),
            };
            batch.record(
                BatchKey {
                    minute,
                    resource,
                    target,
                },
                latency_ms,
                fault,
                error,
            );
        }
        if is_dependency(span) {
            let target = Target::Dependency {
                remote_service: remote_service_name(&facts),
                remote_operation: remote_operation_name(span, &facts),
            };
            batch.record(
                BatchKey {
                    minute,
                    resource,
                    target,
                },
                latency_ms,
                fault,
                error,
            );
        }
    }
    for (batch_key, stats) in batch.entries {
        let key = signal_key(&batch_key, stats.requests, guard);
        match into.entry((batch_key.minute, key)) {
            Entry::Occupied(mut existing) => existing.get_mut().merge(&stats),
            Entry::Vacant(vacant) => {
                vacant.insert(stats);
            }
        }
    }
}

fn signal_key(batch_key: &BatchKey<'_>, requests: u64, guard: &mut OperationGuard) -> SignalKey {
    let resource = batch_key.resource.0;
    let (kind, operation, remote_service, remote_operation) = match batch_key.target {
        Target::Server { operation } => {
            let rendered = operation.render();
            let kept = match guard.admit_server(resource, &rendered, requests) {
                Admitted::AsIs => rendered,
                Admitted::Folded => OTHER_OPERATION.to_owned(),
            };
            (SignalKind::Server, kept, String::new(), String::new())
        }
        Target::Dependency {
            remote_service,
            remote_operation,
        } => {
            let rendered_service = remote_service.render();
            let rendered_operation = remote_operation.render();
            let (service_admitted, operation_admitted) =
                guard.admit_dependency(resource, &rendered_service, &rendered_operation, requests);
            let kept_service = match service_admitted {
                Admitted::AsIs => rendered_service,
                Admitted::Folded => OTHER_OPERATION.to_owned(),
            };
            let kept_operation = match operation_admitted {
                Admitted::AsIs => rendered_operation,
                Admitted::Folded => OTHER_OPERATION.to_owned(),
            };
            // The calling operation is not known from the client span alone (it is the local
            // root's, possibly in another batch), so dependency keys leave it empty.
            (
                SignalKind::Dependency,
                String::new(),
                kept_service,
                kept_operation,
            )
        }
    };
    SignalKey {
        kind,
        environment: resource.environment.clone(),
        service: resource.service.clone(),
        operation,
        remote_service,
        remote_operation,
        version: resource.version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sloscope_model::{Attributes, MINUTE_NANOS};

    use super::*;

    const START: u64 = 1_700_000_000_000_000_000;

    fn resource(service: &str) -> Arc<Resource> {
        Arc::new(Resource::from_attributes(Attributes(vec![
            (
                String::from("service.name"),
                AttrValue::Str(service.to_owned()),
            ),
            (
                String::from("deployment.environment.name"),
                AttrValue::Str(String::from("production")),
            ),
            (
                String::from("service.version"),
                AttrValue::Str(String::from("1.4.2")),
            ),
        ])))
    }

    fn span(
        resource: &Arc<Resource>,
        kind: SpanKind,
        name: &str,
        attributes: &[(&str, AttrValue)],
    ) -> Span {
        Span {
            resource: Arc::clone(resource),
            scope_name: String::new(),
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: Some([3; 8]),
            parent_is_remote: false,
            name: name.to_owned(),
            kind,
            start_unix_nano: START,
            end_unix_nano: START + 25_000_000,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: Attributes(
                attributes
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), value.clone()))
                    .collect(),
            ),
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    fn text_value(value: &str) -> AttrValue {
        AttrValue::Str(value.to_owned())
    }

    fn derive(spans: &[Span], limit: usize) -> (SignalDeltas, OperationGuard) {
        let mut guard = OperationGuard::new(limit);
        let mut deltas = SignalDeltas::new();
        derive_signals(spans, &mut guard, &mut deltas);
        (deltas, guard)
    }

    fn keys_of(deltas: &SignalDeltas) -> Vec<(SignalKind, String, String, String)> {
        let mut keys: Vec<_> = deltas
            .keys()
            .map(|(_, key)| {
                (
                    key.kind,
                    key.operation.clone(),
                    key.remote_service.clone(),
                    key.remote_operation.clone(),
                )
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn operation_is_method_and_route_never_the_raw_path() {
        let checkout = resource("checkout");
        let with_route = span(
            &checkout,
            SpanKind::Server,
            "GET /customers/{id}",
            &[
                ("http.request.method", text_value("GET")),
                ("http.route", text_value("/customers/{id}")),
                ("url.path", text_value("/customers/42")),
            ],
        );
        assert_eq!(server_operation(&with_route), "GET /customers/{id}");
        let old_conventions = span(
            &checkout,
            SpanKind::Server,
            "HTTP GET",
            &[
                ("http.method", text_value("POST")),
                ("http.route", text_value("/orders")),
            ],
        );
        assert_eq!(server_operation(&old_conventions), "POST /orders");
        let raw_path_only = span(
            &checkout,
            SpanKind::Server,
            "GET",
            &[
                ("http.request.method", text_value("GET")),
                ("url.path", text_value("/customers/42")),
                ("http.target", text_value("/customers/42?x=1")),
            ],
        );
        assert_eq!(server_operation(&raw_path_only), "GET");
        let route_without_method = span(
            &checkout,
            SpanKind::Server,
            "x",
            &[("http.route", text_value("/health"))],
        );
        assert_eq!(server_operation(&route_without_method), "/health");
        let grpc = span(
            &checkout,
            SpanKind::Server,
            "shop.Cart/Add",
            &[("rpc.method", text_value("Add"))],
        );
        assert_eq!(server_operation(&grpc), "shop.Cart/Add");
    }

    #[test]
    fn remote_service_precedence() {
        let checkout = resource("checkout");
        type Case<'a> = (Vec<(&'a str, AttrValue)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (
                vec![
                    ("peer.service", text_value("payments")),
                    ("db.system.name", text_value("postgresql")),
                    ("server.address", text_value("10.0.0.1")),
                ],
                "payments",
                "span-name",
            ),
            (
                vec![
                    ("db.system.name", text_value("postgresql")),
                    ("db.namespace", text_value("orders")),
                    ("db.operation.name", text_value("SELECT")),
                    ("server.address", text_value("db1")),
                ],
                "postgresql:orders",
                "SELECT",
            ),
            (
                vec![
                    ("db.system", text_value("redis")),
                    ("db.operation", text_value("GET")),
                ],
                "redis",
                "GET",
            ),
            (
                vec![
                    ("db.system", text_value("mysql")),
                    ("db.name", text_value("shop")),
                ],
                "mysql:shop",
                "span-name",
            ),
            (
                vec![
                    ("messaging.system", text_value("kafka")),
                    ("messaging.destination.name", text_value("orders")),
                    ("server.address", text_value("broker")),
                ],
                "kafka:orders",
                "span-name",
            ),
            (
                vec![
                    ("server.address", text_value("api.stripe.com")),
                    ("http.request.method", text_value("POST")),
                    ("url.template", text_value("/v1/charges")),
                ],
                "api.stripe.com",
                "POST /v1/charges",
            ),
            (
                vec![
                    ("net.peer.name", text_value("inventory")),
                    ("http.method", text_value("GET")),
                    ("http.route", text_value("/items/{id}")),
                ],
                "inventory",
                "GET /items/{id}",
            ),
            (
                vec![
                    ("server.address", text_value("cart")),
                    ("rpc.service", text_value("shop.Cart")),
                    ("rpc.method", text_value("Add")),
                ],
                "cart",
                "shop.Cart/Add",
            ),
            (
                vec![("http.request.method", text_value("GET"))],
                UNKNOWN_REMOTE_SERVICE,
                "span-name",
            ),
        ];
        for (attributes, expected_service, expected_operation) in cases {
            let client = span(&checkout, SpanKind::Client, "span-name", &attributes);
            let (remote_service, remote_operation) = remote_target(&client);
            assert_eq!(
                (remote_service.as_str(), remote_operation.as_str()),
                (expected_service, expected_operation),
                "{attributes:?}"
            );
        }
    }

    #[test]
    fn resource_attributes_are_looked_up_after_the_span() {
        let mut attributes = resource("checkout").attributes.clone();
        attributes
            .0
            .push((String::from("peer.service"), text_value("from-resource")));
        let with_peer = Arc::new(Resource::from_attributes(attributes));
        let client = span(&with_peer, SpanKind::Client, "call", &[]);
        assert_eq!(remote_target(&client).0, "from-resource");
        let overriding = span(
            &with_peer,
            SpanKind::Client,
            "call",
            &[("peer.service", text_value("from-span"))],
        );
        assert_eq!(remote_target(&overriding).0, "from-span");
    }

    #[test]
    fn faults_and_errors_are_classified() {
        let checkout = resource("checkout");
        let mut status_error = span(&checkout, SpanKind::Server, "a", &[]);
        status_error.status_code = StatusCode::Error;
        let cases: Vec<(Span, (bool, bool))> = vec![
            (span(&checkout, SpanKind::Server, "a", &[]), (false, false)),
            (status_error, (true, false)),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("http.response.status_code", AttrValue::Int(503))],
                ),
                (true, false),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("http.status_code", text_value("500"))],
                ),
                (true, false),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("http.response.status_code", AttrValue::Int(404))],
                ),
                (false, true),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("http.status_code", AttrValue::Int(429))],
                ),
                (false, true),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("http.response.status_code", AttrValue::Int(302))],
                ),
                (false, false),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("rpc.grpc.status_code", AttrValue::Int(14))],
                ),
                (true, false),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("rpc.grpc.status_code", AttrValue::Int(5))],
                ),
                (false, false),
            ),
            (
                span(
                    &checkout,
                    SpanKind::Server,
                    "a",
                    &[("rpc.grpc.status_code", AttrValue::Int(0))],
                ),
                (false, false),
            ),
        ];
        for (case, expected) in cases {
            assert_eq!(
                outcome(&case, &SpanFacts::of(&case)),
                expected,
                "{:?}",
                case.attributes
            );
        }
        let mut error_and_4xx = span(
            &checkout,
            SpanKind::Server,
            "a",
            &[("http.response.status_code", AttrValue::Int(400))],
        );
        error_and_4xx.status_code = StatusCode::Error;
        assert_eq!(
            outcome(&error_and_4xx, &SpanFacts::of(&error_and_4xx)),
            (true, false),
            "a request is a fault or an error, not both"
        );
    }

    #[test]
    fn which_spans_give_server_and_dependency_signals() {
        let checkout = resource("checkout");
        let mut local_root_internal = span(&checkout, SpanKind::Internal, "nightly-job", &[]);
        local_root_internal.parent_span_id = None;
        let mut remote_parent_unspecified = span(&checkout, SpanKind::Unspecified, "handle", &[]);
        remote_parent_unspecified.parent_is_remote = true;
        let mut local_root_client = span(
            &checkout,
            SpanKind::Client,
            "GET",
            &[("server.address", text_value("inventory"))],
        );
        local_root_client.parent_span_id = None;
        let spans = vec![
            span(&checkout, SpanKind::Server, "GET /a", &[]),
            span(&checkout, SpanKind::Consumer, "orders process", &[]),
            span(&checkout, SpanKind::Internal, "compute", &[]),
            span(
                &checkout,
                SpanKind::Producer,
                "orders publish",
                &[
                    ("messaging.system", text_value("kafka")),
                    ("messaging.destination.name", text_value("orders")),
                ],
            ),
            local_root_internal,
            remote_parent_unspecified,
            local_root_client,
        ];
        let (deltas, _) = derive(&spans, 100);
        assert_eq!(
            keys_of(&deltas),
            vec![
                (
                    SignalKind::Server,
                    String::from("GET"),
                    String::new(),
                    String::new()
                ),
                (
                    SignalKind::Server,
                    String::from("GET /a"),
                    String::new(),
                    String::new()
                ),
                (
                    SignalKind::Server,
                    String::from("handle"),
                    String::new(),
                    String::new()
                ),
                (
                    SignalKind::Server,
                    String::from("nightly-job"),
                    String::new(),
                    String::new()
                ),
                (
                    SignalKind::Server,
                    String::from("orders process"),
                    String::new(),
                    String::new()
                ),
                (
                    SignalKind::Dependency,
                    String::new(),
                    String::from("inventory"),
                    String::from("GET")
                ),
                (
                    SignalKind::Dependency,
                    String::new(),
                    String::from("kafka:orders"),
                    String::from("orders publish")
                ),
            ]
        );
        let (minute, key) = deltas.keys().next().expect("a key");
        assert_eq!(*minute, minute_of(START));
        assert_eq!(
            (
                key.environment.as_str(),
                key.service.as_str(),
                key.version.as_str()
            ),
            ("production", "checkout", "1.4.2")
        );
    }

    #[test]
    fn guard_folds_operations_beyond_the_limit_into_other() {
        let checkout = resource("checkout");
        let billing = resource("billing");
        let mut spans = Vec::new();
        for index in 0..5 {
            spans.push(span(
                &checkout,
                SpanKind::Server,
                &format!("op{index}"),
                &[],
            ));
            spans.push(span(
                &checkout,
                SpanKind::Server,
                &format!("op{index}"),
                &[],
            ));
        }
        spans.push(span(&billing, SpanKind::Server, "charge", &[]));
        let (deltas, guard) = derive(&spans, 3);
        let checkout_operations: HashMap<String, u64> = deltas
            .iter()
            .filter(|((_, key), _)| key.service == "checkout")
            .map(|((_, key), stats)| (key.operation.clone(), stats.requests))
            .collect();
        assert_eq!(checkout_operations.len(), 4);
        assert_eq!(checkout_operations["op0"], 2);
        assert_eq!(checkout_operations["op2"], 2);
        assert_eq!(checkout_operations[OTHER_OPERATION], 4);
        assert_eq!(guard.total_folded(), 4);
        assert_eq!(guard.folded().collect::<Vec<_>>(), vec![("checkout", 4)]);

        // A later batch: known operations stay, new ones keep folding.
        let mut deltas_later = SignalDeltas::new();
        let mut guard_later = guard;
        let later = vec![
            span(&checkout, SpanKind::Server, "op1", &[]),
            span(&checkout, SpanKind::Server, "op9", &[]),
        ];
        derive_signals(&later, &mut guard_later, &mut deltas_later);
        let operations: Vec<String> = deltas_later
            .keys()
            .map(|(_, key)| key.operation.clone())
            .collect();
        assert!(operations.contains(&String::from("op1")));
        assert!(operations.contains(&String::from(OTHER_OPERATION)));
        assert_eq!(guard_later.total_folded(), 5);
    }

    #[test]
    fn guard_folds_dependency_targets() {
        let checkout = resource("checkout");
        let call = |address: &str, operation: &str| {
            span(
                &checkout,
                SpanKind::Client,
                operation,
                &[("server.address", text_value(address))],
            )
        };
        let spans = vec![
            call("a", "x"),
            call("a", "y"),
            call("a", "z"),
            call("10.0.0.7", "x"),
        ];
        let (deltas, guard) = derive(&spans, 2);
        assert_eq!(
            keys_of(&deltas),
            vec![
                (
                    SignalKind::Dependency,
                    String::new(),
                    String::from("a"),
                    String::from("other")
                ),
                (
                    SignalKind::Dependency,
                    String::new(),
                    String::from("a"),
                    String::from("x")
                ),
                (
                    SignalKind::Dependency,
                    String::new(),
                    String::from("a"),
                    String::from("y")
                ),
                (
                    SignalKind::Dependency,
                    String::new(),
                    String::from("other"),
                    String::from("other")
                ),
            ]
        );
        assert_eq!(guard.total_folded(), 2);
    }

    #[test]
    fn derived_counts_equal_what_was_sent() {
        let services = [resource("checkout"), resource("billing")];
        let mut spans = Vec::new();
        let mut expected: HashMap<(String, SignalKind), (u64, u64, u64)> = HashMap::new();
        for index in 0..2_000u64 {
            let service = &services[(index % 2) as usize];
            let kind = if index % 3 == 0 {
                SpanKind::Client
            } else {
                SpanKind::Server
            };
            let status = match index % 7 {
                0 => 500,
                1 | 2 => 404,
                _ => 200,
            };
            let mut one = span(
                service,
                kind,
                &format!("op{}", index % 11),
                &[
                    ("http.response.status_code", AttrValue::Int(status)),
                    ("server.address", text_value(&format!("peer{}", index % 5))),
                ],
            );
            one.start_unix_nano = START + index * MINUTE_NANOS / 100;
            one.end_unix_nano = one.start_unix_nano + index * 1_000;
            let signal_kind = if kind == SpanKind::Client {
                SignalKind::Dependency
            } else {
                SignalKind::Server
            };
            let counts = expected
                .entry((service.service.clone(), signal_kind))
                .or_default();
            counts.0 += 1;
            counts.1 += u64::from(status >= 500);
            counts.2 += u64::from(status == 404);
            spans.push(one);
        }
        // Two batches, and a small limit: folding moves requests between keys, never loses them.
        let mut guard = OperationGuard::new(4);
        let mut deltas = SignalDeltas::new();
        derive_signals(&spans[..700], &mut guard, &mut deltas);
        derive_signals(&spans[700..], &mut guard, &mut deltas);
        let mut derived: HashMap<(String, SignalKind), (u64, u64, u64)> = HashMap::new();
        let mut latency_count = 0;
        for ((minute, key), stats) in &deltas {
            assert!((minute_of(START)..=minute_of(START) + 20).contains(minute));
            let counts = derived.entry((key.service.clone(), key.kind)).or_default();
            counts.0 += stats.requests;
            counts.1 += stats.faults;
            counts.2 += stats.errors;
            latency_count += stats.latency.count();
        }
        assert_eq!(derived, expected);
        assert_eq!(latency_count, 2_000);
        assert!(guard.total_folded() > 0);
    }

    #[test]
    fn latency_is_the_duration_in_milliseconds() {
        let checkout = resource("checkout");
        let (deltas, _) = derive(&[span(&checkout, SpanKind::Server, "a", &[])], 10);
        let stats = deltas.values().next().expect("one key");
        let max = stats.latency.max().expect("one value");
        assert!((max - 25.0).abs() < 0.3, "{max}");
    }

    #[test]
    fn equal_resources_in_different_arcs_merge_into_one_key() {
        let first = resource("checkout");
        let second = resource("checkout");
        let spans = vec![
            span(&first, SpanKind::Server, "a", &[]),
            span(&second, SpanKind::Server, "a", &[]),
        ];
        let (deltas, _) = derive(&spans, 10);
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas.values().next().map(|stats| stats.requests), Some(2));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A span drawn from a small vocabulary, so that keys collide and the guard folds.
        fn arbitrary_span() -> impl Strategy<Value = Span> {
            (
                0..3usize,
                0..6i32,
                any::<bool>(),
                any::<bool>(),
                0..12u32,
                prop_oneof![Just(200i64), Just(404), Just(429), Just(500), Just(503)],
                0..3i32,
                0..10_000_000_000u64,
                0..5_000_000_000u64,
            )
                .prop_map(
                    |(
                        service,
                        kind,
                        has_parent,
                        parent_is_remote,
                        operation,
                        status,
                        status_code,
                        offset,
                        duration,
                    )| {
                        let services = ["checkout", "billing", "search"];
                        let owner = resource(services[service]);
                        let mut one = span(
                            &owner,
                            SpanKind::from_otlp(kind),
                            &format!("op{operation}"),
                            &[
                                ("http.response.status_code", AttrValue::Int(status)),
                                (
                                    "server.address",
                                    text_value(&format!("peer{}", operation % 4)),
                                ),
                            ],
                        );
                        one.parent_span_id = has_parent.then_some([3; 8]);
                        one.parent_is_remote = parent_is_remote;
                        one.status_code = StatusCode::from_otlp(status_code);
                        one.start_unix_nano = START + offset;
                        one.end_unix_nano = one.start_unix_nano + duration;
                        one
                    },
                )
        }

        proptest! {
            #[test]
            fn every_request_is_counted_once_per_signal_it_gives(
                spans in proptest::collection::vec(arbitrary_span(), 0..200),
                limit in 0..8usize,
                split in 0..200usize,
            ) {
                let mut guard = OperationGuard::new(limit);
                let mut deltas = SignalDeltas::new();
                let split_at = split.min(spans.len());
                derive_signals(&spans[..split_at], &mut guard, &mut deltas);
                derive_signals(&spans[split_at..], &mut guard, &mut deltas);

                let expected_server = spans.iter().filter(|one| is_server(one)).count() as u64;
                let expected_dependency = spans.iter().filter(|one| is_dependency(one)).count() as u64;
                let expected_faults: u64 = spans
                    .iter()
                    .map(|one| (u64::from(is_server(one)) + u64::from(is_dependency(one))) * u64::from(outcome(one, &SpanFacts::of(one)).0))
                    .sum();
                let mut server = 0;
                let mut dependency = 0;
                let mut faults = 0;
                let mut operations: HashMap<(&str, SignalKind), HashSet<&str>> = HashMap::new();
                for ((_, key), stats) in &deltas {
                    prop_assert!(stats.faults + stats.errors <= stats.requests);
                    prop_assert_eq!(stats.latency.count(), stats.requests);
                    match key.kind {
                        SignalKind::Server => server += stats.requests,
                        SignalKind::Dependency => dependency += stats.requests,
                    }
                    faults += stats.faults;
                    let name = match key.kind {
                        SignalKind::Server => key.operation.as_str(),
                        SignalKind::Dependency => key.remote_operation.as_str(),
                    };
                    operations.entry((key.service.as_str(), key.kind)).or_default().insert(name);
                }
                prop_assert_eq!(server, expected_server);
                prop_assert_eq!(dependency, expected_dependency);
                prop_assert_eq!(faults, expected_faults);
                // At most `limit` admitted names per service and kind, plus `other`.
                for ((service, kind), names) in &operations {
                    prop_assert!(names.len() <= limit + 1, "{service} {kind:?}: {names:?}");
                }
                let folded: u64 = guard.folded().map(|(_, requests)| requests).sum();
                prop_assert_eq!(folded, guard.total_folded());
            }
        }
    }
}
