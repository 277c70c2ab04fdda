//! `sloscope slo ...`: validate and import spec files offline; list, inspect and backtest the
//! SLOs of a running server through its API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::client::ServerArgs;

#[derive(clap::Subcommand)]
pub enum SloCommand {
    /// Check every SLO file of a directory; exits non-zero on any error.
    Validate { dir: PathBuf },
    /// Convert OpenSLO v1 or Sloth prometheus/v1 specs to sloscope's format (printed as YAML).
    Import {
        file: PathBuf,
        /// Write the converted specs here instead of printing them.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List the SLOs of a running server with their status.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A readable summary of one SLO: objective, attainment, budget, burn rates, alerts, forecast.
    Status {
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Replay stored history through the SLO's alert policy.
    Backtest {
        name: String,
        /// RFC 3339 or unix seconds.
        #[arg(long)]
        from: String,
        /// RFC 3339 or unix seconds; default now.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map(|number| format!("{:.3} %", number * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn print_status(slo: &Value) {
    println!(
        "{}  ({})",
        slo["name"].as_str().unwrap_or_default(),
        slo["status"].as_str().unwrap_or_default()
    );
    println!(
        "  service          {}",
        slo["service"].as_str().unwrap_or_default()
    );
    println!("  objective        {}", percent(&slo["objective"]));
    println!("  attainment       {}", percent(&slo["attainment"]));
    println!("  budget left      {}", percent(&slo["budget_remaining"]));
    if let Some(rates) = slo["burn_rates"].as_object() {
        let shown: Vec<String> = rates
            .iter()
            .map(|(window, rate)| {
                format!(
                    "{window} {}",
                    rate.as_f64()
                        .map(|value| format!("{value:.2}x"))
                        .unwrap_or("-".into())
                )
            })
            .collect();
        println!("  burn rates       {}", shown.join(", "));
    }
    match slo["exhaustion_forecast_minutes"].as_f64() {
        Some(minutes) => println!(
            "  forecast         budget gone in {:.1} h at the current burn rate",
            minutes / 60.0
        ),
        None => println!("  forecast         budget not being spent"),
    }
    let firing: Vec<&str> = slo["firing"]
        .as_array()
        .map(|rules| rules.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!(
        "  firing           {}",
        if firing.is_empty() {
            "nothing".to_owned()
        } else {
            firing.join(", ")
        }
    );
    if let Some(history) = slo["alert_history"].as_array() {
        for event in history.iter().rev().take(10) {
            println!(
                "    {}  {} {} -> {}",
                event["at"].as_i64().unwrap_or_default(),
                event["rule"].as_str().unwrap_or_default(),
                event["from"].as_str().unwrap_or_default(),
                event["to"].as_str().unwrap_or_default()
            );
        }
    }
}

pub fn run(command: SloCommand) -> anyhow::Result<()> {
    match command {
        SloCommand::Validate { dir } => {
            let results = sloscope_slo::validate_dir(&dir);
            let mut failed = false;
            let mut count = 0;
            for (path, result) in &results {
                match result {
                    Ok(specs) => {
                        count += specs.len();
                        for spec in specs {
                            println!("ok    {}  {}", path.display(), spec.name);
                        }
                    }
                    Err(errors) => {
                        failed = true;
                        eprintln!("{errors}");
                    }
                }
            }
            if failed {
                bail!("some SLO files are invalid");
            }
            println!("{count} SLOs valid in {} files", results.len());
            Ok(())
        }
        SloCommand::Import { file, output } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let report = sloscope_slo::import(&file.display().to_string(), &text);
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            for unmapped in &report.unmapped {
                eprintln!("not mapped: {unmapped}");
            }
            let yaml = sloscope_slo::parse::to_yaml_documents(&report.specs);
            match output {
                Some(path) => std::fs::write(&path, yaml)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{yaml}"),
            }
            eprintln!(
                "{} SLOs converted, {} parts not mapped",
                report.specs.len(),
                report.unmapped.len()
            );
            Ok(())
        }
        SloCommand::List { server } => {
            let answer = server.get("/api/v1/slos")?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!(
                "{:<32} {:<16} {:<10} {:>10} {:>12} {:>10}",
                "SLO", "SERVICE", "STATUS", "OBJECTIVE", "ATTAINMENT", "BUDGET"
            );
            for slo in answer["slos"].as_array().into_iter().flatten() {
                println!(
                    "{:<32} {:<16} {:<10} {:>10} {:>12} {:>10}",
                    slo["name"].as_str().unwrap_or_default(),
                    slo["service"].as_str().unwrap_or_default(),
                    slo["status"].as_str().unwrap_or_default(),
                    percent(&slo["objective"]),
                    percent(&slo["attainment"]),
                    percent(&slo["budget_remaining"])
                );
            }
            for error in answer["file_errors"].as_array().into_iter().flatten() {
                eprintln!(
                    "invalid file {}: {}",
                    error["path"].as_str().unwrap_or_default(),
                    error["error"].as_str().unwrap_or_default()
                );
            }
            Ok(())
        }
        SloCommand::Status { name, server } => {
            let answer = server.get(&format!("/api/v1/slos/{name}"))?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print_status(&answer);
            }
            Ok(())
        }
        SloCommand::Backtest {
            name,
            from,
            to,
            server,
        } => {
            let mut path = format!("/api/v1/slos/{name}/backtest?from={from}");
            if let Some(to) = to {
                path.push_str(&format!("&to={to}"));
            }
            let report = server.get(&path)?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            let firings = report["firings"].as_array().cloned().unwrap_or_default();
            println!(
                "{name}: {} evaluations, {} firings",
                report["evaluations"],
                firings.len()
            );
            for firing in firings {
                println!(
                    "  {:<16} fired {}  cleared {}  detection {} s  budget spent by then {}",
                    firing["rule"].as_str().unwrap_or_default(),
                    firing["fired_at"],
                    firing["cleared_at"],
                    firing["detection_seconds"],
                    percent(&firing["budget_consumed_at_firing"])
                );
            }
            Ok(())
        }
    }
}
