//! The `sloscope` command: `serve` runs the server; `demo` shows it at work on a simulated
//! shop; `slo` manages SLOs; `bench` measures sloscope against its peers; `eval` scores it on
//! public labelled data sets.
//! Errors are reported here with `anyhow`; everything below returns typed errors.

#![allow(clippy::print_stdout)]

mod bench;
mod client;
mod demo;
mod eval;
mod investigate;
mod slo;

use std::path::PathBuf;

use anyhow::Context;

/// See the workspace manifest for why this allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use sloscope_server::{Config, Overrides};

#[derive(Parser)]
#[command(
    name = "sloscope",
    version,
    about = "SLO-first observability backend: OTLP in, application signals, SLOs, investigations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: OTLP receivers, store and query API.
    Serve(ServeArgs),
    /// Watch sloscope at work: a simulated shop, its history, a fault, the page and the
    /// investigation, on a fresh embedded store.
    Demo(demo::DemoArgs),
    /// Ask a running server why a service breached: ranked causes with evidence and remedies.
    Investigate(investigate::InvestigateArgs),
    /// Service level objectives: validate, import, list, status, backtest.
    #[command(subcommand)]
    Slo(slo::SloCommand),
    /// Measure sloscope (and its peers, in the same run).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Offline evaluations on public labelled data sets, beside the published figures.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file (see sloscope.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the store keeps its data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// OTLP/gRPC listen address [default: 127.0.0.1:4317]
    #[arg(long)]
    otlp_grpc_addr: Option<String>,
    /// OTLP/HTTP listen address [default: 127.0.0.1:4318]
    #[arg(long)]
    otlp_http_addr: Option<String>,
    /// Query API and UI listen address [default: 127.0.0.1:8080]
    #[arg(long)]
    http_addr: Option<String>,
    /// A directory of SLO YAML files to watch
    #[arg(long)]
    slo_dir: Option<PathBuf>,
}

/// Logs to stderr at `SLOSCOPE_LOG` (an `EnvFilter`), `default` when it is unset.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLOSCOPE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("install SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        otlp_grpc_addr: args.otlp_grpc_addr,
        otlp_http_addr: args.otlp_http_addr,
        http_addr: args.http_addr,
        slo_dir: args.slo_dir,
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let data_dir = config.store.data_dir.clone();
    let sync = config.store.sync;
    let auth = if config.auth_enabled() {
        format!("{} bearer token(s)", config.tokens.len())
    } else {
        "off (no tokens configured)".to_owned()
    };
    runtime.block_on(sloscope_server::serve(config, shutdown_signal(), |bound| {
        println!("sloscope {} serving", env!("CARGO_PKG_VERSION"));
        println!("  OTLP gRPC   {}", bound.otlp_grpc);
        println!("  OTLP HTTP   http://{}/v1/{{traces,metrics,logs}}", bound.otlp_http);
        println!("  API         http://{}/api/v1  (OpenAPI at /api/v1/openapi.json, metrics at /metrics)", bound.http);
        println!("  data dir    {}", data_dir.display());
        println!("  durability  {sync:?}");
        println!("  auth        {auth}");
    }))?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo tells its own story on the terminal; the server's info lines would drown it.
    init_logging(match cli.command {
        Command::Demo(_) => "warn",
        _ => "info",
    });
    let outcome = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(command) => bench::run(command),
        Command::Slo(command) => slo::run(command),
        Command::Investigate(args) => investigate::run(args),
        Command::Eval(command) => eval::run(command),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the chain of causes on one line, without a backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
