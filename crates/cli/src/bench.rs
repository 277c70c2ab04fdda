//! `sloscope bench`: load generators and measurements, with the peer's figures from the same run.
//!
//! - [`ingest`]: spans per server CPU-second against Rotel, bytes per span on disk, and the
//!   latency of a rollup query over a week of spans.
//! - [`slo`]: SLO evaluation cycles against Prometheus running the same Sloth rules.
//! - [`investigate`]: the time to investigate an hour of breach with 2 million spans stored.
//! - [`ui`]: the time each web UI page takes on a running server (the demo's).
//!
//! The pieces below it are plain and blocking on purpose: a workload generator, a minimal
//! HTTP/1.1 client and `/proc` CPU accounting cost the client little, leaving the cores to the
//! server being measured.

mod http;
mod ingest;
mod investigate;
mod load;
mod process;
mod random;
mod slo;
mod targets;
mod ui;
mod workload;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Spans per server CPU-second for sloscope and Rotel, bytes per span on disk, rollup query latency.
    Ingest(ingest::IngestArgs),
    /// Evaluation cycle time and memory for 10,000 SLOs over 30 days, against Prometheus running the Sloth rules.
    Slo(slo::SloArgs),
    /// Time to investigate 1 h of breach against 1 h of baseline with 2 million spans stored.
    Investigate(investigate::InvestigateArgs),
    /// Time of each web UI page on a running server, such as `sloscope demo` (goal: under 300 ms).
    Ui(ui::UiArgs),
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(args),
        BenchCommand::Slo(args) => slo::run(args),
        BenchCommand::Investigate(args) => investigate::run(args),
        BenchCommand::Ui(args) => ui::run(args),
    }
}
