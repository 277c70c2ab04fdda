#!/usr/bin/env python3
"""Exports a known set of telemetry to sloscope with the official OpenTelemetry Python SDK.

The end-to-end test `crates/cli/tests/e2e_otel_sdk.rs` runs this script against a real
`sloscope serve` and then checks every figure the query API answers against the manifest this
script writes. The point is to prove that unmodified OpenTelemetry exporters work, over OTLP
gRPC and OTLP/HTTP protobuf alike, so nothing here talks to the server except the SDK.

Two services, one per transport, sharing traces:

- `checkout` exports over gRPC (logs gzip-compressed): SERVER spans `GET /cart/{id}` and `POST /checkout`, a local
  root INTERNAL span `cleanup-job`, INTERNAL children that must not become operations, and
  CLIENT spans to PostgreSQL (`db.system.name` + `db.namespace`), to `payments` and to
  `inventory` (both by `peer.service`).
- `inventory` exports over HTTP (gzip): the SERVER spans that `checkout`'s calls caused, in
  the same traces, with CLIENT spans to PostgreSQL named by the older `db.system` + `db.name`,
  and the older `deployment.environment` resource attribute.

Everything is deterministic except the wall-clock anchor: ids come from a seeded generator,
durations and outcomes from fixed rules, and every span gets explicit start and end times in
the last few minutes. Exporters are wrapped so that each export's result is recorded; the
script fails (exit 1) unless every export succeeded and every created item was sent.

The manifest (JSON) holds what was sent and what the server must derive from it: requests,
faults, errors and the exact latency list per service operation and per dependency, every
span of every trace, every log record and every metric data point.
"""

import argparse
import json
import logging
import random
import sys
import time
import warnings

from grpc import Compression as GrpcCompression
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    PeriodicExportingMetricReader,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

SEED = 20261121
MS = 1_000_000  # nanoseconds in a millisecond
SECOND = 1_000_000_000

CART_REQUESTS = 40
CHECKOUT_REQUESTS = 20
CLEANUP_JOBS = 3
# The raw URL paths sent in url.path; none of them may ever show up as an operation.
RAW_CART_PATH = "/cart/{}"
RAW_STOCK_PATH = "/stock/sku-{}"


class SeededIds(IdGenerator):
    """Random-looking but reproducible trace and span ids."""

    def __init__(self, seed):
        self.random = random.Random(seed)

    def generate_span_id(self):
        return self.random.getrandbits(64) or 1

    def generate_trace_id(self):
        return self.random.getrandbits(128) or 1


class ExportLog:
    """Every export's result and items, filled in by the recording exporters."""

    def __init__(self):
        self.failures = []
        self.exports = 0
        self.spans = []
        self.logs = []
        self.metric_batches = []

    def recording(self, exporter_class, signal, transport):
        """A subclass of the SDK exporter that records what it sent and whether it succeeded."""
        export_log = self

        class RecordingExporter(exporter_class):
            def export(self, batch, *args, **kwargs):
                result = super().export(batch, *args, **kwargs)
                export_log.exports += 1
                if result.name != "SUCCESS":
                    export_log.failures.append(f"{transport} {signal} export returned {result.name}")
                elif signal == "traces":
                    export_log.spans.extend(batch)
                elif signal == "logs":
                    export_log.logs.extend(batch)
                else:
                    export_log.metric_batches.append(batch)
                return result

        RecordingExporter.__name__ = f"Recording{exporter_class.__name__}"
        return RecordingExporter


def hex_trace_id(value):
    return f"{value:032x}" if value else ""


def hex_span_id(value):
    return f"{value:016x}" if value else ""


class Dataset:
    """The spans created, with the signals the server must derive from each of them."""

    def __init__(self):
        # span id (hex) -> what the server must make of the span
        self.expected = {}
        self.operations = {}  # (service, operation) -> {"requests", "faults", "errors", "latencies_nanos"}
        self.dependencies = {}  # (service, remote service, remote operation) -> same
        self.error_status_spans = {}  # service -> number of spans with status ERROR
        self.raw_paths = set()
        self.non_operations = set()

    @staticmethod
    def _count(table, key, duration, fault, error):
        entry = table.setdefault(key, {"requests": 0, "faults": 0, "errors": 0, "latencies_nanos": []})
        entry["requests"] += 1
        entry["faults"] += int(fault)
        entry["errors"] += int(error)
        entry["latencies_nanos"].append(duration)

    def record(self, service, span, start, end, *, operation=None, remote_service=None, remote_operation=None,
               fault=False, error=False, status_error=False):
        """Notes a created span; `operation` for server signals, `remote_*` for dependencies."""
        span_id = hex_span_id(span.get_span_context().span_id)
        duration = end - start
        self.expected[span_id] = {
            "service": service,
            "operation": operation,
            "remote_service": remote_service,
            "remote_operation": remote_operation,
            "status_code": "error" if status_error else "unset",
        }
        if status_error:
            self.error_status_spans[service] = self.error_status_spans.get(service, 0) + 1
        if operation is not None:
            self._count(self.operations, (service, operation), duration, fault, error)
        if remote_service is not None:
            self._count(self.dependencies, (service, remote_service, remote_operation), duration, fault, error)


def start_span(tracer, name, kind, start, parent=None, attributes=None):
    context = trace.set_span_in_context(parent) if parent is not None else None
    return tracer.start_span(name, context=context, kind=kind, attributes=attributes or {}, start_time=start)


def remote_parent(span):
    """The context a downstream service sees: the caller's span, marked remote."""
    caller = span.get_span_context()
    return NonRecordingSpan(
        SpanContext(trace_id=caller.trace_id, span_id=caller.span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    )


def finish(span, end, status_error=False, message=None):
    if status_error:
        span.set_status(Status(StatusCode.ERROR, message))
    span.end(end_time=end)


def cart_outcome(index):
    """(http status, status ERROR) of the index-th `GET /cart/{id}`: 7 faults and 6 errors."""
    if index in (5, 17, 29):
        return 500, True  # instrumentation marks 5xx server spans as errors
    if index in (11, 23):
        return 503, False  # a 5xx is a fault even when the span status was left unset
    if index in (8, 36):
        return 200, True  # a handler that failed after answering: fault by status alone
    if index % 7 == 3:
        return 404, False  # 4xx: an error, not a fault, and still available
    return 200, False


def build_traces(checkout_tracer, inventory_tracer, dataset, anchor, rng):
    """Creates every span; returns the trace ids in creation order."""
    trace_ids = []
    # Spread the requests over five minutes ending half a minute before the anchor, so that
    # the signals cover several minute buckets that the server has to merge.
    first_start = anchor - 330 * SECOND
    cart_spacing = 300 * SECOND // CART_REQUESTS

    for index in range(CART_REQUESTS):
        start = first_start + index * cart_spacing + rng.randrange(0, 900) * MS
        # Latencies 20..300 ms, plus two slow outliers so that p99 is not p90.
        duration = rng.randrange(20 * MS, 300 * MS)
        if index in (13, 31):
            duration = (1200 + 1300 * (index == 31)) * MS + rng.randrange(0, MS)
        end = start + duration
        status, status_error = cart_outcome(index)
        cart_id = 40 + index
        raw_path = RAW_CART_PATH.format(cart_id)
        dataset.raw_paths.add(raw_path)
        server = start_span(checkout_tracer, "GET /cart/{id}", SpanKind.SERVER, start, attributes={
            "http.request.method": "GET",
            "http.route": "/cart/{id}",
            "url.path": raw_path,
            "url.scheme": "http",
            "http.response.status_code": status,
            "server.address": "checkout.internal",
        })
        trace_ids.append(server.get_span_context().trace_id)
        dataset.record("checkout", server, start, end, operation="GET /cart/{id}",
                       fault=status >= 500 or status_error, error=400 <= status < 500, status_error=status_error)

        # The database call: 1..8 ms, two of them failed.
        db_start = start + 2 * MS
        db_end = db_start + rng.randrange(1 * MS, 8 * MS)
        db_error = index in (17, 29)
        database = start_span(checkout_tracer, "SELECT shop.carts", SpanKind.CLIENT, db_start, parent=server, attributes={
            "db.system.name": "postgresql",
            "db.namespace": "shop",
            "db.operation.name": "SELECT",
            "db.collection.name": "carts",
            "db.query.text": "SELECT * FROM carts WHERE id = $1",
            "server.address": "db.internal",
            "server.port": 5432,
        })
        dataset.record("checkout", database, db_start, db_end, remote_service="postgresql:shop", remote_operation="SELECT",
                       fault=db_error, status_error=db_error)
        finish(database, db_end, db_error, "connection reset by peer" if db_error else None)

        # In-process work: an INTERNAL child, never an operation of its own.
        render_start = db_end + 1 * MS
        render_end = render_start + rng.randrange(1 * MS, 5 * MS)
        render = start_span(checkout_tracer, "render cart", SpanKind.INTERNAL, render_start, parent=server)
        dataset.record("checkout", render, render_start, render_end)
        dataset.non_operations.add("render cart")
        finish(render, render_end)
        finish(server, end, status_error, f"HTTP {status}" if status_error else None)

    checkout_spacing = 300 * SECOND // CHECKOUT_REQUESTS
    for index in range(CHECKOUT_REQUESTS):
        start = first_start + index * checkout_spacing + rng.randrange(0, 900) * MS + 7 * SECOND
        cursor = start + 1 * MS

        database_start = cursor
        database_end = database_start + rng.randrange(2 * MS, 9 * MS)
        cursor = database_end + 1 * MS

        # inventory: the call and the server span it caused (exported by the other service).
        stock_status = 500 if index in (4, 15) else 404 if index in (9,) else 200
        stock_call_start = cursor
        stock_server_start = stock_call_start + 700_000  # 0.7 ms on the wire each way
        stock_server_end = stock_server_start + rng.randrange(10 * MS, 60 * MS)
        stock_call_end = stock_server_end + 800_000
        cursor = stock_call_end + 1 * MS

        # payments: 2 declined (402, an error) and 1 bad gateway (502, a fault).
        payment_status = 402 if index in (3, 12) else 502 if index == 7 else 200
        payment_start = cursor
        payment_end = payment_start + rng.randrange(40 * MS, 400 * MS)
        cursor = payment_end + 1 * MS

        status = 500 if payment_status == 502 or stock_status == 500 else 400 if payment_status == 402 else 200
        end = cursor + rng.randrange(1 * MS, 3 * MS)
        status_error = status >= 500

        server = start_span(checkout_tracer, "POST /checkout", SpanKind.SERVER, start, attributes={
            "http.request.method": "POST",
            "http.route": "/checkout",
            "url.path": "/checkout",
            "http.response.status_code": status,
        })
        trace_ids.append(server.get_span_context().trace_id)
        dataset.record("checkout", server, start, end, operation="POST /checkout",
                       fault=status >= 500, error=400 <= status < 500, status_error=status_error)

        database = start_span(checkout_tracer, "SELECT shop.orders", SpanKind.CLIENT, database_start, parent=server, attributes={
            "db.system.name": "postgresql",
            "db.namespace": "shop",
            "db.operation.name": "SELECT",
            "db.collection.name": "orders",
        })
        dataset.record("checkout", database, database_start, database_end, remote_service="postgresql:shop", remote_operation="SELECT")
        finish(database, database_end)

        # Client spans with a 4xx keep status UNSET here, so that they are unambiguously
        # errors (not faults) under "fault = status ERROR or HTTP >= 500".
        stock_call = start_span(checkout_tracer, "GET /stock/{sku}", SpanKind.CLIENT, stock_call_start, parent=server, attributes={
            "peer.service": "inventory",
            "http.request.method": "GET",
            "url.full": f"http://inventory.internal{RAW_STOCK_PATH.format(index)}",
            "server.address": "inventory.internal",
            "http.response.status_code": stock_status,
        })
        dataset.record("checkout", stock_call, stock_call_start, stock_call_end, remote_service="inventory",
                       remote_operation="GET /stock/{sku}", fault=stock_status >= 500, error=400 <= stock_status < 500,
                       status_error=stock_status >= 500)

        raw_stock_path = RAW_STOCK_PATH.format(index)
        dataset.raw_paths.add(raw_stock_path)
        stock_server = start_span(inventory_tracer, "GET /stock/{sku}", SpanKind.SERVER, stock_server_start,
                                  parent=remote_parent(stock_call), attributes={
            "http.request.method": "GET",
            "http.route": "/stock/{sku}",
            "url.path": raw_stock_path,
            "http.response.status_code": stock_status,
        })
        dataset.record("inventory", stock_server, stock_server_start, stock_server_end, operation="GET /stock/{sku}",
                       fault=stock_status >= 500, error=400 <= stock_status < 500, status_error=stock_status >= 500)
        update_start = stock_server_start + 1 * MS
        update_end = update_start + rng.randrange(2 * MS, 9 * MS)
        update = start_span(inventory_tracer, "UPDATE stock", SpanKind.CLIENT, update_start, parent=stock_server, attributes={
            "db.system": "postgresql",
            "db.name": "stock",
            "db.operation.name": "UPDATE",
        })
        dataset.record("inventory", update, update_start, update_end, remote_service="postgresql:stock", remote_operation="UPDATE")
        finish(update, update_end)
        finish(stock_server, stock_server_end, stock_status >= 500, f"HTTP {stock_status}" if stock_status >= 500 else None)
        finish(stock_call, stock_call_end, stock_status >= 500, f"HTTP {stock_status}" if stock_status >= 500 else None)

        payment = start_span(checkout_tracer, "POST /charge", SpanKind.CLIENT, payment_start, parent=server, attributes={
            "peer.service": "payments",
            "http.request.method": "POST",
            "url.full": f"https://payments.internal/charge/{9000 + index}",
            "server.address": "payments.internal",
            "http.response.status_code": payment_status,
        })
        dataset.record("checkout", payment, payment_start, payment_end, remote_service="payments", remote_operation="POST /charge",
                       fault=payment_status >= 500, error=400 <= payment_status < 500, status_error=payment_status >= 500)
        finish(payment, payment_end, payment_status >= 500, "bad gateway" if payment_status >= 500 else None)
        finish(server, end, status_error, f"HTTP {status}" if status_error else None)

    # A scheduled job: an INTERNAL local root span, so it is a server operation of its own.
    for index in range(CLEANUP_JOBS):
        start = first_start + (60 + 90 * index) * SECOND
        end = start + (450 + 25 * index) * MS
        job = start_span(checkout_tracer, "cleanup-job", SpanKind.INTERNAL, start, attributes={"job.batch": index})
        trace_ids.append(job.get_span_context().trace_id)
        dataset.record("checkout", job, start, end, operation="cleanup-job")
        finish(job, end)
    return trace_ids


def find_span(spans, name, predicate=lambda span: True):
    return next(span for span in spans if span.name == name and predicate(span))


def span_context_of(span):
    """The context in which a log record belongs to an (already exported) span."""
    return trace.set_span_in_context(NonRecordingSpan(span.context))


def emit_logs(checkout_logger, inventory_handler_logger, created_spans, anchor):
    """Log records with known bodies; some carry the trace context of a span."""
    base = anchor - 200 * SECOND
    checkout_logger.emit(timestamp=base, severity_number=SeverityNumber.INFO, severity_text="INFO",
                         body="checkout started: pool=8 region=eu-west-1", attributes={"component": "startup"})
    failed_carts = [span for span in created_spans if span.name == "GET /cart/{id}"
                    and span.attributes["http.response.status_code"] >= 500]
    for offset, span in enumerate(failed_carts[:3]):
        cart_path = span.attributes["url.path"]
        checkout_logger.emit(timestamp=span.start_time + 3 * MS, context=span_context_of(span),
                             severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                             body=f"cart lookup failed for {cart_path}: upstream timeout after {250 + offset} ms",
                             attributes={"exception.type": "TimeoutError"})
    declined = [span for span in created_spans if span.name == "POST /charge"
                and span.attributes["http.response.status_code"] == 402]
    for span in declined:
        order = span.attributes["url.full"].rsplit("/", 1)[1]
        checkout_logger.emit(timestamp=span.end_time, context=span_context_of(span),
                             severity_number=SeverityNumber.WARN, severity_text="WARN",
                             body=f"payment declined for order {order}", attributes={"order.id": order})
    checkout_logger.emit(timestamp=base + 5 * SECOND, severity_number=SeverityNumber.DEBUG, severity_text="DEBUG",
                         body="cache warm: 1200 carts")

    # The inventory service logs through Python's logging module, the way most apps do.
    failed_stock = [span for span in created_spans if span.name == "GET /stock/{sku}"
                    and span.kind == SpanKind.SERVER and span.attributes["http.response.status_code"] == 500]
    for span in failed_stock:
        with trace.use_span(NonRecordingSpan(span.context), end_on_exit=False):
            inventory_handler_logger.error("stock update failed for %s: deadlock detected", span.attributes["url.path"])
    inventory_handler_logger.info("inventory reindex finished in %d ms", 734)


def record_metrics(meter, service, flushes):
    """Two collection cycles of a counter, a gauge and a histogram, flushed by the caller."""
    jobs = meter.create_counter("app.jobs.completed", unit="{job}", description="jobs completed")
    queue_depth = meter.create_gauge("app.queue.depth", unit="{item}", description="items waiting")
    request_size = meter.create_histogram("app.request.size", unit="By", description="request body size")
    offset = 0 if service == "checkout" else 100
    plan = [
        (3, 7 + offset, [512, 2048]),
        (2, 12 + offset, [128, 4096, 700]),
    ]
    for completed, depth, sizes in plan:
        jobs.add(completed, {"job.kind": "reindex"})
        queue_depth.set(depth, {"queue": "orders"})
        for size in sizes:
            request_size.record(size, {"http.route": "/checkout"})
        flushes()
        time.sleep(1.1)


def attribute_map(attributes):
    return {key: value if not isinstance(value, tuple) else list(value) for key, value in (attributes or {}).items()}


def span_kind_name(kind):
    return kind.name.lower()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grpc-endpoint", required=True, help="OTLP gRPC endpoint, e.g. http://127.0.0.1:4317")
    parser.add_argument("--http-endpoint", required=True, help="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    parser.add_argument("--manifest", required=True, help="where to write the JSON manifest of what was sent")
    parser.add_argument("--oversized-span-bytes", type=int, default=0,
                        help="instead of the data set, export one span this large and report how the exporters fared")
    arguments = parser.parse_args()
    http_base = arguments.http_endpoint.rstrip("/")
    warnings.simplefilter("ignore", DeprecationWarning)
    if arguments.oversized_span_bytes:
        return export_oversized(arguments, http_base)

    rng = random.Random(SEED)
    anchor = time.time_ns()
    export_log = ExportLog()
    ids = SeededIds(SEED)

    checkout_resource = Resource.create({
        "service.name": "checkout",
        "service.version": "1.2.3",
        "deployment.environment.name": "test",
        "host.name": "checkout-0",
    })
    inventory_resource = Resource.create({
        "service.name": "inventory",
        "service.version": "0.9.0",
        "deployment.environment": "staging",  # the older key, still honoured
    })

    # Traces: batch processors, flushed explicitly; small batches so there are several exports.
    checkout_traces = TracerProvider(resource=checkout_resource, id_generator=ids)
    checkout_traces.add_span_processor(BatchSpanProcessor(
        export_log.recording(GrpcSpanExporter, "traces", "grpc")(endpoint=arguments.grpc_endpoint, insecure=True, timeout=10),
        max_export_batch_size=64, schedule_delay_millis=60_000))
    inventory_traces = TracerProvider(resource=inventory_resource, id_generator=ids)
    inventory_traces.add_span_processor(BatchSpanProcessor(
        export_log.recording(HttpSpanExporter, "traces", "http")(endpoint=f"{http_base}/v1/traces", timeout=10,
                                                                 compression=HttpCompression.Gzip),
        max_export_batch_size=16, schedule_delay_millis=60_000))

    checkout_tracer = checkout_traces.get_tracer("shop.checkout", "1.2.3")
    inventory_tracer = inventory_traces.get_tracer("shop.inventory", "0.9.0")
    dataset = Dataset()
    trace_ids = build_traces(checkout_tracer, inventory_tracer, dataset, anchor, rng)

    # Logs: a batch processor over gRPC, a simple (one request per record) one over HTTP.
    checkout_logs = LoggerProvider(resource=checkout_resource)
    checkout_logs.add_log_record_processor(BatchLogRecordProcessor(
        export_log.recording(GrpcLogExporter, "logs", "grpc")(endpoint=arguments.grpc_endpoint, insecure=True, timeout=10,
                                                             compression=GrpcCompression.Gzip),
        schedule_delay_millis=60_000))
    inventory_logs = LoggerProvider(resource=inventory_resource)
    inventory_logs.add_log_record_processor(SimpleLogRecordProcessor(
        export_log.recording(HttpLogExporter, "logs", "http")(endpoint=f"{http_base}/v1/logs", timeout=10,
                                                             compression=HttpCompression.Gzip)))
    python_logger = logging.getLogger("inventory.stock")
    python_logger.propagate = False
    python_logger.setLevel(logging.INFO)
    python_logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=inventory_logs))

    # The spans are needed (with their final times) before the logs that refer to them.
    if not checkout_traces.force_flush(30_000) or not inventory_traces.force_flush(30_000):
        export_log.failures.append("span force_flush timed out")
    emit_logs(checkout_logs.get_logger("shop.checkout"), python_logger, export_log.spans, anchor)
    if not checkout_logs.force_flush(30_000) or not inventory_logs.force_flush(30_000):
        export_log.failures.append("log force_flush timed out")

    # Metrics: a periodic reader that never fires on its own; force_flush collects and exports.
    checkout_metrics = MeterProvider(resource=checkout_resource, metric_readers=[PeriodicExportingMetricReader(
        export_log.recording(GrpcMetricExporter, "metrics", "grpc")(endpoint=arguments.grpc_endpoint, insecure=True, timeout=10),
        export_interval_millis=3_600_000)])
    inventory_metrics = MeterProvider(resource=inventory_resource, metric_readers=[PeriodicExportingMetricReader(
        export_log.recording(HttpMetricExporter, "metrics", "http")(endpoint=f"{http_base}/v1/metrics", timeout=10),
        export_interval_millis=3_600_000)])

    def flush_metrics(provider):
        def flush():
            if not provider.force_flush(30_000):
                export_log.failures.append("metric force_flush timed out")
        return flush

    record_metrics(checkout_metrics.get_meter("shop.checkout"), "checkout", flush_metrics(checkout_metrics))
    record_metrics(inventory_metrics.get_meter("shop.inventory"), "inventory", flush_metrics(inventory_metrics))

    for provider in (checkout_traces, inventory_traces, checkout_logs, inventory_logs, checkout_metrics, inventory_metrics):
        provider.shutdown()

    # Every created span must have gone out exactly once, in a successful export.
    exported_span_ids = [hex_span_id(span.context.span_id) for span in export_log.spans]
    if sorted(exported_span_ids) != sorted(dataset.expected):
        export_log.failures.append(
            f"{len(dataset.expected)} spans created but {len(exported_span_ids)} exported "
            f"({len(set(exported_span_ids))} distinct)")
    if export_log.failures:
        for failure in export_log.failures:
            print(f"export failure: {failure}", file=sys.stderr)
        return 1

    manifest = build_manifest(dataset, export_log, trace_ids, anchor)
    with open(arguments.manifest, "w", encoding="utf-8") as output:
        json.dump(manifest, output, indent=1, sort_keys=True)
    print(f"exported {len(export_log.spans)} spans, {len(export_log.logs)} log records and "
          f"{sum(len(series['points']) for series in manifest['metrics'])} metric points in {export_log.exports} exports")
    return 0


def build_manifest(dataset, export_log, trace_ids, anchor):
    traces = {hex_trace_id(trace_id): [] for trace_id in trace_ids}
    earliest = anchor
    for span in export_log.spans:
        span_id = hex_span_id(span.context.span_id)
        expected = dataset.expected[span_id]
        earliest = min(earliest, span.start_time)
        traces[hex_trace_id(span.context.trace_id)].append({
            "span_id": span_id,
            "parent_span_id": hex_span_id(span.parent.span_id) if span.parent else "",
            "service": span.resource.attributes["service.name"],
            "name": span.name,
            "kind": span_kind_name(span.kind),
            "start_time_unix_nano": span.start_time,
            "duration_nanos": span.end_time - span.start_time,
            "status_code": expected["status_code"],
            "operation": expected["operation"],
            "remote_service": expected["remote_service"],
            "remote_operation": expected["remote_operation"],
            "attributes": attribute_map(span.attributes),
        })

    logs = []
    for readable in export_log.logs:
        record = readable.log_record
        logs.append({
            "service": readable.resource.attributes["service.name"],
            "time_unix_nano": record.timestamp,
            "severity_number": record.severity_number.value if record.severity_number else 0,
            "severity_text": record.severity_text or "",
            "body": record.body,
            "trace_id": hex_trace_id(record.trace_id),
            "span_id": hex_span_id(record.span_id),
        })
        earliest = min(earliest, record.timestamp or anchor)

    metrics = {}
    for batch in export_log.metric_batches:
        for resource_metrics in batch.resource_metrics:
            service = resource_metrics.resource.attributes["service.name"]
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    data = metric.data
                    kind = "gauge" if isinstance(data, Gauge) else "sum" if isinstance(data, Sum) else \
                        "histogram" if isinstance(data, Histogram) else type(data).__name__.lower()
                    for point in data.data_points:
                        attributes = attribute_map(point.attributes)
                        key = (metric.name, service, json.dumps(attributes, sort_keys=True))
                        series = metrics.setdefault(key, {
                            "name": metric.name, "service": service, "kind": kind, "unit": metric.unit,
                            "attributes": attributes, "points": [],
                        })
                        sent = {"time_unix_nano": point.time_unix_nano}
                        if kind == "histogram":
                            sent.update(count=point.count, sum=point.sum, min=point.min, max=point.max)
                        else:
                            sent.update(value=point.value)
                        series["points"].append(sent)

    return {
        "anchor_unix_nano": anchor,
        "window": {"from_unix_nano": earliest - 60 * SECOND, "to_unix_nano": anchor + 120 * SECOND},
        "services": {
            "checkout": {"environment": "test", "version": "1.2.3", "transport": "grpc"},
            "inventory": {"environment": "staging", "version": "0.9.0", "transport": "http"},
        },
        "operations": [
            {"service": service, "operation": operation, **counts}
            for (service, operation), counts in sorted(dataset.operations.items())
        ],
        "dependencies": [
            {"service": service, "remote_service": remote_service, "remote_operation": remote_operation, **counts}
            for (service, remote_service, remote_operation), counts in sorted(dataset.dependencies.items())
        ],
        "error_status_spans": dataset.error_status_spans,
        "raw_paths": sorted(dataset.raw_paths),
        "non_operations": sorted(dataset.non_operations),
        "traces": [{"trace_id": trace_id, "spans": spans} for trace_id, spans in traces.items()],
        "logs": logs,
        "metrics": list(metrics.values()),
    }


def export_oversized(arguments, http_base):
    """Exports one span over the server's size limit with each SDK exporter, once each.

    A refused export must fail at once: an exporter retries the codes and statuses OTLP calls
    transient (gRPC OUT_OF_RANGE, UNAVAILABLE, ...; HTTP 429, 502, 503, 504) until its timeout,
    which for a request that can never fit is a retry storm. The manifest gets each exporter's
    result and time, and the raw gRPC status and HTTP status of the same request.
    """
    import grpc
    import requests
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    provider = TracerProvider(resource=Resource.create({"service.name": "oversized"}))
    span = provider.get_tracer("oversized").start_span("big", attributes={"padding": "x" * arguments.oversized_span_bytes})
    span.end()
    report = {}
    exporters = {
        "grpc": GrpcSpanExporter(endpoint=arguments.grpc_endpoint, insecure=True, timeout=10),
        "http": HttpSpanExporter(endpoint=f"{http_base}/v1/traces", timeout=10),
    }
    for transport, exporter in exporters.items():
        started = time.monotonic()
        result = exporter.export([span])
        report[transport] = {"sdk_result": result.name, "sdk_seconds": time.monotonic() - started}
        exporter.shutdown()

    request = encode_spans([span])
    channel = grpc.insecure_channel(arguments.grpc_endpoint.split("://", 1)[-1])
    try:
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=10)
        report["grpc"]["status"] = "OK"
    except grpc.RpcError as error:
        report["grpc"]["status"] = error.code().name
        report["grpc"]["message"] = error.details()
    answer = requests.post(f"{http_base}/v1/traces", data=request.SerializeToString(),
                           headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    report["http"]["status"] = answer.status_code
    report["http"]["retry_after"] = answer.headers.get("Retry-After")
    report["request_bytes"] = request.ByteSize()
    with open(arguments.manifest, "w", encoding="utf-8") as output:
        json.dump(report, output, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
