//! `sloscope investigate SERVICE --from --to`: asks a running server to investigate a service
//! over a window (against the window before it, or a named baseline) and prints the report.

use serde_json::{Value, json};

use crate::client::ServerArgs;

#[derive(clap::Args)]
pub struct InvestigateArgs {
    /// The service whose breach to explain.
    service: String,
    /// Start of the breach window: RFC 3339 or unix seconds.
    #[arg(long)]
    from: String,
    /// End of the breach window: RFC 3339 or unix seconds.
    #[arg(long)]
    to: String,
    /// Start of the baseline window [default: the window before `--from`, as long].
    #[arg(long, requires = "baseline_to")]
    baseline_from: Option<String>,
    /// End of the baseline window.
    #[arg(long, requires = "baseline_from")]
    baseline_to: Option<String>,
    /// Only this operation of the service.
    #[arg(long)]
    operation: Option<String>,
    /// The SLO that breached (its objective and budget go into the report).
    #[arg(long)]
    slo: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

/// Unix seconds stay numbers; anything else goes as text for the server to parse.
fn time_value(text: &str) -> Value {
    text.parse::<f64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(text))
}

pub fn run(args: InvestigateArgs) -> anyhow::Result<()> {
    let mut request = json!({
        "service": args.service,
        "from": time_value(&args.from),
        "to": time_value(&args.to),
    });
    if let (Some(from), Some(to)) = (&args.baseline_from, &args.baseline_to) {
        request["baseline_from"] = time_value(from);
        request["baseline_to"] = time_value(to);
    }
    if let Some(operation) = &args.operation {
        request["operation"] = Value::from(operation.as_str());
    }
    if let Some(slo) = &args.slo {
        request["slo"] = Value::from(slo.as_str());
    }
    let report = args.server.post("/api/v1/investigations", &request)?;
    if args.server.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let id = report["id"].as_str().unwrap_or_default();
    let markdown = args
        .server
        .get_text(&format!("/api/v1/investigations/{id}?format=markdown"))?;
    println!("{markdown}");
    eprintln!(
        "investigation {id} took {:.0} ms; JSON at {}/api/v1/investigations/{id}",
        report["elapsed_ms"].as_f64().unwrap_or_default(),
        args.server.server.trim_end_matches('/')
    );
    Ok(())
}
