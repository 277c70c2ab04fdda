//! `sloscope bench ui`: how long the web UI's pages take to answer on a running server (the
//! goal: every page under 300 ms on the data of `sloscope demo`, which stores 24 hours of a
//! shop, about 3.2 million spans). Start the demo in one terminal, then run
//! `sloscope bench ui` in another.
//!
//! The pages are found the way a reader finds them: the first SLO of `/api/v1/slos` (the
//! incident's SLO first), the service of the latest incident, its investigation, a slow trace
//! of that service (once with the `?at=` hint the UI's links carry and once without, to show
//! what the hint buys) and the log view with and without filters. Each page is fetched once to
//! warm caches, then `--runs` times over one keep-alive connection; the report gives the
//! median and the slowest time, and the size of the page. Times are the whole answer as the
//! client reads it, from the first byte sent to the last byte received, on the same machine.
//! There is no peer: no other system renders these pages from the same store.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::http::{Connection, Response};

const GOAL_MILLIS: f64 = 300.0;

#[derive(clap::Args)]
pub struct UiArgs {
    /// The running server (the demo's, for example).
    #[arg(long, env = "SLOSCOPE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Timed fetches of each page after one warm-up.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// `http://host:port` (a path or a trailing slash is ignored) as an address to connect to.
fn address_of(server: &str) -> anyhow::Result<SocketAddr> {
    let Some(rest) = server.strip_prefix("http://") else {
        bail!("--server must be an http:// address (the bench speaks plain HTTP), not {server}");
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} resolves to no address"))
}

/// `GET path`, which must answer 200.
fn get_ok(connection: &mut Connection, path: &str) -> anyhow::Result<Response> {
    let response = connection.get(path)?;
    if response.status != 200 {
        bail!(
            "GET {path} answered {}: {}",
            response.status,
            response.body_excerpt()
        );
    }
    Ok(response)
}

fn get_json(connection: &mut Connection, path: &str) -> anyhow::Result<Value> {
    let response = get_ok(connection, path)?;
    serde_json::from_slice(&response.body).with_context(|| format!("GET {path}: not JSON"))
}

/// The pages to time, each with a name for the report.
fn discover(connection: &mut Connection) -> anyhow::Result<Vec<(String, String)>> {
    let mut pages = vec![
        ("SLO overview".to_owned(), "/".to_owned()),
        ("services".to_owned(), "/services".to_owned()),
        ("service map".to_owned(), "/map".to_owned()),
        ("logs, last hour".to_owned(), "/logs".to_owned()),
        ("incidents".to_owned(), "/incidents".to_owned()),
    ];
    let incidents = get_json(connection, "/api/v1/incidents")?;
    let incident = incidents["incidents"]
        .as_array()
        .or_else(|| incidents.as_array())
        .and_then(|list| list.first())
        .cloned()
        .unwrap_or(Value::Null);
    let slos = get_json(connection, "/api/v1/slos")?;
    let slo = incident["slo"].as_str().map(str::to_owned).or_else(|| {
        slos["slos"]
            .as_array()
            .and_then(|list| list.first())
            .and_then(|slo| slo["name"].as_str().map(str::to_owned))
    });
    let service = incident["service"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            slos["slos"]
                .as_array()
                .and_then(|list| list.first())
                .and_then(|slo| slo["service"].as_str().map(str::to_owned))
        })
        .context("the server has no incident and no SLO to start from: run `sloscope demo`")?;
    if let Some(slo) = &slo {
        pages.push(("SLO".to_owned(), format!("/slos/{}", encode(slo))));
    }
    pages.push((
        "service".to_owned(),
        format!("/services/{}", encode(&service)),
    ));
    pages.push((
        "service, 24 h".to_owned(),
        format!("/services/{}?hours=24", encode(&service)),
    ));
    pages.push((
        "logs of the service, warnings, 24 h".to_owned(),
        format!("/logs?service={}&severity=warn&last=24h", encode(&service)),
    ));
    if let Some(id) = incident["id"].as_str() {
        pages.push(("incident".to_owned(), format!("/incidents/{}", encode(id))));
        pages.push((
            "post-mortem".to_owned(),
            format!("/incidents/{}/postmortem", encode(id)),
        ));
    }
    if let Some(id) = incident["investigation_id"].as_str() {
        pages.push((
            "investigation".to_owned(),
            format!("/investigations/{}", encode(id)),
        ));
    }
    // The slowest recent span of the service stands for the trace a reader would open.
    let spans = get_json(
        connection,
        &format!(
            "/api/v1/spans?service={}&min_duration_ms=100&limit=1",
            encode(&service)
        ),
    )?;
    if let Some(span) = spans["spans"].as_array().and_then(|list| list.first()) {
        let trace = span["trace_id"].as_str().unwrap_or_default();
        let seconds = span["start_time_unix_nano"].as_u64().unwrap_or(0) / 1_000_000_000;
        pages.push((
            "trace, with the time hint".to_owned(),
            format!("/traces/{trace}?at={seconds}"),
        ));
        pages.push(("trace, no hint".to_owned(), format!("/traces/{trace}")));
        pages.push((
            "logs of the trace".to_owned(),
            format!(
                "/logs?trace_id={trace}&from={}&to={}",
                seconds.saturating_sub(60),
                seconds + 120
            ),
        ));
    }
    Ok(pages)
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn quantile(values: &[f64], fraction: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

pub fn run(args: UiArgs) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let address = address_of(&args.server)?;
    let mut connection = Connection::open(address)?;
    let pages = discover(&mut connection)?;
    let mut rows = Vec::with_capacity(pages.len());
    for (name, path) in &pages {
        let warm = get_ok(&mut connection, path)?;
        let mut millis = Vec::with_capacity(args.runs);
        for _run in 0..args.runs {
            let started = Instant::now();
            let response = connection.get(path)?;
            millis.push(started.elapsed().as_secs_f64() * 1000.0);
            if response.status != 200 {
                bail!("GET {path} answered {}", response.status);
            }
        }
        rows.push(json!({
            "page": name,
            "path": path,
            "median_ms": quantile(&millis, 0.5),
            "max_ms": quantile(&millis, 1.0),
            "bytes": warm.body.len(),
        }));
    }
    let slow: Vec<&Value> = rows
        .iter()
        .filter(|row| {
            row["median_ms"]
                .as_f64()
                .is_some_and(|millis| millis > GOAL_MILLIS)
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "server": args.server,
                "runs": args.runs,
                "goal_ms": GOAL_MILLIS,
                "pages": rows,
                "over_goal": slow.len(),
            }))?
        );
        return Ok(());
    }
    println!(
        "web UI pages of {}: median and slowest of {} fetches after one warm-up (goal: under {GOAL_MILLIS:.0} ms)",
        args.server, args.runs
    );
    for row in &rows {
        let median = row["median_ms"].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {:<38} {:>8.1} ms  {:>8.1} ms  {:>8} bytes{}  {}",
            row["page"].as_str().unwrap_or_default(),
            median,
            row["max_ms"].as_f64().unwrap_or(f64::NAN),
            row["bytes"],
            if median > GOAL_MILLIS { "  OVER" } else { "" },
            row["path"].as_str().unwrap_or_default()
        );
    }
    println!(
        "{} of {} pages over {GOAL_MILLIS:.0} ms",
        slow.len(),
        rows.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_address_is_read_from_its_url() {
        assert_eq!(
            address_of("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert!(address_of("https://example.com").is_err());
    }
}
