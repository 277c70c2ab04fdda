//! A simulated system for sloscope to watch: a small shop (`frontend` calling `customers`,
//! `orders` and `catalog`; `orders` calling `payments`, which calls an external payment API;
//! databases, caches and a queue consumer) whose pods emit traces, logs and metrics over
//! OTLP/HTTP to a real receiver, with a daily traffic cycle, log-normal latencies, versions
//! and deploys, and fault [`Scenario`]s that each come with the SLOs of the service they hurt.
//!
//! - [`shop`]: the model, pure and deterministic for a seed (no clock, no I/O).
//! - [`scenario`]: the faults, and the SLO specs that go with them.
//! - [`otlp`] and [`exporter`]: OTLP export requests, sent like the Collector's `otlphttp`
//!   exporter (gzip, batching, retries honouring `Retry-After`).
//! - [`run`]: backfill at full speed, then live traffic paced by a [`LiveClock`].
//!
//! What sloscope makes of the telemetry (signals, SLOs, investigations) is none of this
//! crate's business: it only produces what real services would send.

pub mod exporter;
pub mod otlp;
pub mod random;
pub mod run;
pub mod scenario;
pub mod shop;
pub mod telemetry;

pub use exporter::{ExportStats, Exporter, ExporterConfig};
pub use run::{BackfillProgress, LiveClock, backfill, run_live};
pub use scenario::{Scenario, Story};
pub use shop::{Service, Shop};
