//! What every probe reads, indexed once per investigation: the spans of each window by span id
//! with their children, the server and dependency signals merged per service and per call
//! edge, and the service graph (who calls whom) from both.
//!
//! Building it is O(n log n) in the spans and signal rows; the probes then walk spans through
//! these indexes instead of searching a trace per span.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use sloscope_model::{SignalKind, SignalStats, SpanId, SpanKind, TimeRange};

use crate::input::{Inputs, SpanRecord, Subject, Telemetry};
use crate::report::Figure;

/// The remote service the signal derivation names when a client span says nothing about its
/// peer: not a node of the graph.
const UNKNOWN_REMOTE_SERVICE: &str = "unknown_remote_service";

const NO_SPAN: u32 = u32::MAX;

/// Names (services, operations) interned once, shared by both windows, so that hot loops over
/// spans compare and hash small integers instead of strings.
#[derive(Debug, Default)]
pub(crate) struct Names<'a> {
    ids: HashMap<&'a str, u32, BuildHasherDefault<NameHasher>>,
    names: Vec<&'a str>,
}

/// The multiply-rotate hash of rustc and Firefox ("FxHash"): several times faster than the
/// default SipHash on short strings, and interning hashes every span's service and operation.
/// It is not collision-resistant, which is acceptable here: the names it hashes are few (the
/// store bounds the operations per service), so even crafted collisions stay cheap.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NameHasher(u64);

impl NameHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<'a> Names<'a> {
    pub fn intern(&mut self, name: &'a str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name);
        self.ids.insert(name, id);
        id
    }

    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &'a str {
        self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// The spans of one window with their parent and children resolved by index.
pub(crate) struct SpanIndex<'a> {
    pub spans: &'a [SpanRecord],
    /// The interned service of each span.
    pub service: Vec<u32>,
    /// The interned operation of each span.
    pub operation: Vec<u32>,
    parents: Vec<u32>,
    /// Children of span `i` are `children[child_start[i]..child_start[i + 1]]`, by start time.
    child_start: Vec<u32>,
    children: Vec<u32>,
}

impl<'a> SpanIndex<'a> {
    pub fn build(spans: &'a [SpanRecord], names: &mut Names<'a>) -> SpanIndex<'a> {
        let service: Vec<u32> = spans
            .iter()
            .map(|span| names.intern(&span.service))
            .collect();
        let operation: Vec<u32> = spans
            .iter()
            .map(|span| names.intern(&span.operation))
            .collect();
        let mut position_of: HashMap<SpanId, u32> = HashMap::with_capacity(spans.len());
        for (position, span) in spans.iter().enumerate() {
            position_of.insert(span.span_id, position as u32);
        }
        let parents: Vec<u32> = spans
            .iter()
            .enumerate()
            .map(|(position, span)| {
                span.parent_span_id
                    .and_then(|parent| position_of.get(&parent).copied())
                    .filter(|parent| *parent as usize != position)
                    .unwrap_or(NO_SPAN)
            })
            .collect();
        // Children grouped by parent (a counting sort), each group ordered by start time.
        let mut counts = vec![0u32; spans.len() + 1];
        for parent in &parents {
            if *parent != NO_SPAN {
                counts[*parent as usize + 1] += 1;
            }
        }
        for position in 1..counts.len() {
            counts[position] += counts[position - 1];
        }
        let child_start = counts.clone();
        let mut cursor = counts;
        let mut children = vec![0u32; child_start[spans.len()] as usize];
        for (child, parent) in parents.iter().enumerate() {
            if *parent != NO_SPAN {
                let slot = &mut cursor[*parent as usize];
                children[*slot as usize] = child as u32;
                *slot += 1;
            }
        }
        for parent in 0..spans.len() {
            let group =
                &mut children[child_start[parent] as usize..child_start[parent + 1] as usize];
            group.sort_by_key(|child| (spans[*child as usize].start_unix_nano, *child));
        }
        SpanIndex {
            spans,
            service,
            operation,
            parents,
            child_start,
            children,
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn parent(&self, position: usize) -> Option<usize> {
        let parent = self.parents[position];
        (parent != NO_SPAN).then_some(parent as usize)
    }

    pub fn children(&self, position: usize) -> &[u32] {
        &self.children[self.child_start[position] as usize..self.child_start[position + 1] as usize]
    }

    /// Whether the span is where a request enters its service: a server or consumer span, a
    /// root, or a span whose parent ran in another service.
    pub fn is_entry(&self, position: usize) -> bool {
        let span = &self.spans[position];
        if matches!(span.kind, SpanKind::Server | SpanKind::Consumer) {
            return true;
        }
        match self.parent(position) {
            None => span.parent_span_id.is_none(),
            Some(parent) => self.service[parent] != self.service[position],
        }
    }

    /// The child spans that run in another service than this one.
    pub fn remote_children(&self, position: usize) -> impl Iterator<Item = usize> + '_ {
        let service = self.service[position];
        self.children(position)
            .iter()
            .map(|child| *child as usize)
            .filter(move |child| self.service[*child] != service)
    }

    /// The span's duration minus the time covered by its children (the union of their
    /// intervals, clipped to the span), in nanoseconds.
    pub fn self_time_nanos(&self, position: usize) -> u64 {
        let span = &self.spans[position];
        let start = span.start_unix_nano;
        let end = start.saturating_add(span.duration_nanos);
        let mut covered = 0u64;
        let mut reach = start;
        // Children are sorted by start, so one sweep merges their intervals.
        for child in self.children(position) {
            let child = &self.spans[*child as usize];
            let child_start = child.start_unix_nano.clamp(start, end);
            let child_end = child
                .start_unix_nano
                .saturating_add(child.duration_nanos)
                .clamp(start, end);
            if child_end <= reach {
                continue;
            }
            covered += child_end - child_start.max(reach);
            reach = child_end;
        }
        span.duration_nanos.saturating_sub(covered)
    }
}

/// One window's telemetry with its indexes.
pub(crate) struct Window<'a> {
    /// The window's length in minutes (at least one second's worth).
    pub minutes: f64,
    pub spans: SpanIndex<'a>,
    /// Server signals of each service, all operations and versions merged.
    pub services: BTreeMap<String, SignalStats>,
    /// Server signals of each service per operation.
    pub operations: BTreeMap<String, BTreeMap<String, SignalStats>>,
    /// Server signals of each service per version.
    pub versions: BTreeMap<String, BTreeMap<String, SignalStats>>,
    /// Dependency signals per (caller, remote service), remote names resolved to known services.
    pub dependencies: BTreeMap<(String, String), SignalStats>,
    /// The interned service of each log line.
    pub log_services: Vec<u32>,
    /// The spans where requests enter the subject (of the subject operation, when one is
    /// named), in span order.
    pub subject_entries: Vec<usize>,
}

impl<'a> Window<'a> {
    fn build(telemetry: &'a Telemetry, range: TimeRange, names: &mut Names<'a>) -> Window<'a> {
        let mut services: BTreeMap<String, SignalStats> = BTreeMap::new();
        let mut operations: BTreeMap<String, BTreeMap<String, SignalStats>> = BTreeMap::new();
        let mut versions: BTreeMap<String, BTreeMap<String, SignalStats>> = BTreeMap::new();
        for row in &telemetry.signals {
            if row.key.kind != SignalKind::Server {
                continue;
            }
            services
                .entry(row.key.service.clone())
                .or_default()
                .merge(&row.stats);
            operations
                .entry(row.key.service.clone())
                .or_default()
                .entry(row.key.operation.clone())
                .or_default()
                .merge(&row.stats);
            versions
                .entry(row.key.service.clone())
                .or_default()
                .entry(row.key.version.clone())
                .or_default()
                .merge(&row.stats);
        }
        let mut dependencies: BTreeMap<(String, String), SignalStats> = BTreeMap::new();
        for row in &telemetry.signals {
            if row.key.kind != SignalKind::Dependency {
                continue;
            }
            let Some(remote) = resolve_remote(&row.key.remote_service, &services) else {
                continue;
            };
            if remote == row.key.service {
                continue;
            }
            dependencies
                .entry((row.key.service.clone(), remote))
                .or_default()
                .merge(&row.stats);
        }
        Window {
            minutes: (range.duration_nanos() as f64 / 60e9).max(1.0 / 60.0),
            spans: SpanIndex::build(&telemetry.spans, names),
            log_services: telemetry
                .logs
                .iter()
                .map(|line| names.intern(&line.service))
                .collect(),
            subject_entries: Vec::new(),
            services,
            operations,
            versions,
            dependencies,
        }
    }
}

impl<'a> Window<'a> {
    /// A typical bad request for a figure: among the spans `measure` picks (with what it
    /// measures of each, a duration or a gap in nanoseconds), the one at the 90th percentile,
    /// so that the picture is a usual slow one rather than the single worst outlier; ties go
    /// by trace and span id, so that the order of the spans does not matter.
    pub fn exemplar(
        &self,
        title: String,
        mut measure: impl FnMut(usize, &'a SpanRecord) -> Option<u64>,
    ) -> Option<Figure> {
        let spans: &'a [SpanRecord] = self.spans.spans;
        let mut picked: Vec<(u64, &SpanRecord)> = spans
            .iter()
            .enumerate()
            .filter_map(|(position, span)| Some((measure(position, span)?, span)))
            .collect();
        if picked.is_empty() {
            return None;
        }
        picked.sort_unstable_by_key(|(measured, span)| (*measured, span.trace_id, span.span_id));
        let (_, span) = picked[(picked.len() - 1) * 9 / 10];
        Some(Figure::Trace {
            title,
            trace_id: hex::encode(span.trace_id),
            span_id: hex::encode(span.span_id),
            time_unix_nano: span.start_unix_nano,
        })
    }
}

/// The name a dependency key's remote service stands for: a known service (an address with a
/// port is tried without it), or the remote as named (a database, an external API); None for a
/// remote the derivation could not name.
fn resolve_remote(remote: &str, services: &BTreeMap<String, SignalStats>) -> Option<String> {
    if remote.is_empty() || remote == UNKNOWN_REMOTE_SERVICE {
        return None;
    }
    if services.contains_key(remote) {
        return Some(remote.to_owned());
    }
    if let Some((host, port)) = remote.rsplit_once(':')
        && port.chars().all(|character| character.is_ascii_digit())
        && services.contains_key(host)
    {
        return Some(host.to_owned());
    }
    Some(remote.to_owned())
}

/// Who calls whom, from the spans (a child span in another service) and from the dependency
/// signals (databases and external services that have no spans of their own) of both windows.
#[derive(Debug, Default)]
pub(crate) struct ServiceGraph {
    callees: BTreeMap<String, BTreeSet<String>>,
}

impl ServiceGraph {
    fn build(windows: [&Window<'_>; 2]) -> ServiceGraph {
        let mut graph = ServiceGraph::default();
        for window in windows {
            let index = &window.spans;
            for position in 0..index.len() {
                if let Some(parent) = index.parent(position)
                    && index.service[parent] != index.service[position]
                {
                    graph.add(&index.spans[parent].service, &index.spans[position].service);
                }
            }
            for (caller, remote) in window.dependencies.keys() {
                graph.add(caller, remote);
            }
        }
        graph
    }

    fn add(&mut self, caller: &str, callee: &str) {
        match self.callees.get_mut(caller) {
            Some(callees) => {
                if !callees.contains(callee) {
                    callees.insert(callee.to_owned());
                }
            }
            None => {
                self.callees
                    .insert(caller.to_owned(), BTreeSet::from([callee.to_owned()]));
            }
        }
    }

    /// Whether any call from or to `service` is known.
    pub fn contains(&self, service: &str) -> bool {
        self.callees.contains_key(service)
            || self
                .callees
                .values()
                .any(|callees| callees.contains(service))
    }

    pub fn callees(&self, service: &str) -> impl Iterator<Item = &str> {
        self.callees
            .get(service)
            .into_iter()
            .flat_map(|callees| callees.iter().map(String::as_str))
    }

    /// Every service reachable downstream of `service`, itself excluded.
    pub fn downstream(&self, service: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<&str> = self.callees(service).collect();
        while let Some(next) = queue.pop_front() {
            if next == service || seen.contains(next) {
                continue;
            }
            seen.insert(next.to_owned());
            queue.extend(self.callees(next));
        }
        seen
    }
}

/// The spans where requests enter the subject service (of the subject operation, when one is
/// named), in span order.
fn subject_entries(subject: &Subject, names: &Names<'_>, index: &SpanIndex<'_>) -> Vec<usize> {
    let Some(service) = names.id(&subject.service) else {
        return Vec::new();
    };
    let operation = match &subject.operation {
        Some(operation) => match names.id(operation) {
            Some(id) => Some(id),
            None => return Vec::new(),
        },
        None => None,
    };
    (0..index.len())
        .filter(|position| {
            index.service[*position] == service
                && operation.is_none_or(|operation| index.operation[*position] == operation)
                && index.is_entry(*position)
        })
        .collect()
}

/// The inputs with both windows indexed and the service graph built.
pub(crate) struct Context<'a> {
    pub inputs: &'a Inputs,
    pub breach: Window<'a>,
    pub baseline: Window<'a>,
    pub graph: ServiceGraph,
    pub names: Names<'a>,
    /// When the breach started (the scope's change point), or the breach window's start.
    pub started_unix_nano: u64,
}

impl<'a> Context<'a> {
    pub fn build(inputs: &'a Inputs) -> Context<'a> {
        let mut names = Names::default();
        let mut breach = Window::build(&inputs.breach, inputs.subject.window, &mut names);
        let mut baseline = Window::build(&inputs.baseline, inputs.subject.baseline, &mut names);
        for window in [&mut breach, &mut baseline] {
            window.subject_entries = subject_entries(&inputs.subject, &names, &window.spans);
        }
        let graph = ServiceGraph::build([&breach, &baseline]);
        Context {
            inputs,
            breach,
            baseline,
            graph,
            names,
            started_unix_nano: inputs.subject.window.from,
        }
    }

    pub fn subject(&self) -> &'a str {
        &self.inputs.subject.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sloscope_model::StatusCode;

    fn span(id: u8, parent: Option<u8>, service: &str, start: u64, duration: u64) -> SpanRecord {
        SpanRecord {
            trace_id: [1; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|parent| [parent; 8]),
            service: service.to_owned(),
            version: String::new(),
            operation: format!("op{id}"),
            kind: SpanKind::Internal,
            remote_service: String::new(),
            start_unix_nano: start,
            duration_nanos: duration,
            status: StatusCode::Unset,
            db_statement: None,
            dimensions: Vec::new(),
            exceptions: Vec::new(),
        }
    }

    #[test]
    fn self_time_subtracts_the_union_of_children() {
        // Parent 0..100; children 10..40 and 30..60 overlap (union 50), one past the end clipped.
        let spans = vec![
            span(1, None, "a", 0, 100),
            span(2, Some(1), "b", 10, 30),
            span(3, Some(1), "b", 30, 30),
            span(4, Some(1), "c", 90, 50),
        ];
        let mut names = Names::default();
        let index = SpanIndex::build(&spans, &mut names);
        assert_eq!(index.self_time_nanos(0), 100 - 50 - 10);
        assert_eq!(index.children(0).len(), 3);
        assert_eq!(index.parent(1), Some(0));
        assert!(index.is_entry(0));
        assert!(index.is_entry(1));
        assert_eq!(index.remote_children(0).count(), 3);
    }

    #[test]
    fn graph_walks_downstream() {
        let mut graph = ServiceGraph::default();
        graph.add("front", "checkout");
        graph.add("checkout", "payments");
        graph.add("checkout", "postgres");
        graph.add("payments", "checkout");
        let downstream = graph.downstream("front");
        assert_eq!(
            downstream.into_iter().collect::<Vec<_>>(),
            ["checkout", "payments", "postgres"]
        );
        assert!(!graph.downstream("payments").contains("payments"));
    }
}
