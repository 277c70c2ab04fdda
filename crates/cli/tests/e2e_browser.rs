//! The web UI in a real browser: `sloscope demo` (a small backfill, then serving) with
//! Debian's headless `chromium`, driven through `chromedriver` over the W3C WebDriver
//! protocol, spoken with the tests' own tiny HTTP client (no WebDriver crate to build).
//!
//! Every page loads without a console error, shows what the demo printed (its SLOs, services,
//! top cause, investigation id), rewrites times into the browser's zone (set to Asia/Kolkata,
//! UTC+05:30, so that a forgotten conversion shows), and does not overflow a phone's width; a
//! reader can click from the SLO overview to the SLO, its incident and the post-mortem. Each
//! page is saved as a PNG at 1280x800 and at 390x844, light and dark, in
//! `target/screenshots/` (a test artifact, not committed), with the server's time for each
//! page in `target/screenshots/timings.txt`.
//!
//! Without chromium and chromedriver the test fails and says how to install them: a browser
//! test that passes without a browser would hide that nothing was checked.
//!
//! Run: `cargo test -p sloscope --test e2e_browser -- --nocapture` (about two minutes).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Failures, free_port};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// A debug build backfills and pages in about a minute on two busy cores.
const DEMO_TIMEOUT: Duration = Duration::from_secs(300);
/// The key WebDriver names element references with.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The browser's zone: half an hour off UTC, so that minutes differ too.
const TIME_ZONE: &str = "Asia/Kolkata";
const ZONE_OFFSET_MINUTES: u32 = 5 * 60 + 30;

/// A child process killed when dropped, with its output lines collected.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(command: &mut Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().expect("piped stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped stderr")),
        ] {
            let sink = lines.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock()
                        .unwrap_or_else(|poison| poison.into_inner())
                        .push(line);
                }
            });
        }
        Running { child, lines }
    }

    fn text(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .join("\n")
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session on a chromedriver of our own.
struct Browser {
    driver: SocketAddr,
    session: String,
    // Dropped last: the session is deleted first, then chromedriver is killed.
    _chromedriver: Running,
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let chromedriver = Running::start(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .env("TZ", TIME_ZONE),
        );
        let driver = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = exchange(driver, "GET", "/status", b"") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer within 30 s:\n{}",
                chromedriver.text()
            );
            thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--hide-scrollbars",
                        "--window-size=1280,800", "--lang=en-GB"
                    ]
                },
                "goog:loggingPrefs": { "browser": "ALL" }
            }}
        });
        let answer = send(driver, "POST", "/session", Some(&capabilities))
            .unwrap_or_else(|error| panic!("no browser session: {error}"));
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {answer}"))
            .to_owned();
        Browser {
            driver,
            session,
            _chromedriver: chromedriver,
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        send(
            self.driver,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }

    fn goto(&self, url: &str) -> Result<(), String> {
        self.command("POST", "/url", Some(&json!({ "url": url })))
            .map(drop)
    }

    fn url(&self) -> String {
        self.command("GET", "/url", None)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn source(&self) -> String {
        self.command("GET", "/source", None)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn execute(&self, script: &str) -> Result<Value, String> {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    /// Clicks the first element matching `selector`.
    fn click(&self, selector: &str) -> Result<(), String> {
        let found = self.command(
            "POST",
            "/element",
            Some(&json!({ "using": "css selector", "value": selector })),
        )?;
        let element = found[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| format!("no element {selector}"))?;
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        )
        .map(drop)
    }

    /// A Chrome DevTools command, through chromedriver.
    fn devtools(&self, command: &str, parameters: Value) -> Result<Value, String> {
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({ "cmd": command, "params": parameters })),
        )
    }

    /// The console messages of level SEVERE since the last call (errors, failed loads).
    fn console_errors(&self) -> Vec<String> {
        let entries = self
            .command("POST", "/se/log", Some(&json!({ "type": "browser" })))
            .unwrap_or_else(|error| panic!("cannot read the browser's console: {error}"));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn emulate(&self, width: u32, height: u32, dark: bool) {
        let metrics = json!({
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700
        });
        let scheme = if dark { "dark" } else { "light" };
        for (command, parameters) in [
            ("Emulation.setDeviceMetricsOverride", metrics),
            (
                "Emulation.setEmulatedMedia",
                json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
            ),
        ] {
            self.devtools(command, parameters)
                .unwrap_or_else(|error| panic!("{command}: {error}"));
        }
    }

    /// The whole page (not just the viewport) as a PNG file.
    fn screenshot(&self, path: &Path) -> Result<(), String> {
        let metrics = self.devtools("Page.getLayoutMetrics", json!({}))?;
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(1280.0);
        // A very long page (a big trace) is cut: the top is what a reviewer looks at.
        let height = size["height"].as_f64().unwrap_or(800.0).min(8000.0);
        let shot = self.devtools(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 }
            }),
        )?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        std::fs::write(path, base64_decode(data)?).map_err(|error| error.to_string())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = send(
            self.driver,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// One WebDriver request; the answer's `value`, or its error message.
fn send(
    driver: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let (status, answer) = exchange(driver, method, path, payload.as_bytes())
        .map_err(|error| format!("{method} {path}: {error}"))?;
    let document: Value = serde_json::from_slice(&answer).map_err(|error| {
        format!(
            "{method} {path}: {error} in {:?}",
            String::from_utf8_lossy(&answer)
        )
    })?;
    let value = document["value"].clone();
    if status == 200 {
        Ok(value)
    } else {
        Err(format!(
            "{method} {path}: {} {}",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default()
        ))
    }
}

/// One HTTP/1.1 exchange that reads the answer by its length. The tests' common client reads
/// until the peer closes, and chromedriver keeps its connections open whatever the request
/// says, so every command would wait for the read timeout.
fn exchange(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    // A page load or a full-page screenshot of a debug build's page can take a while.
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
    }
    let mut answer = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|error| invalid(format!("chunk size {line:?}: {error}")))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        answer.resize(length, 0);
        reader.read_exact(&mut answer)?;
    } else {
        reader.read_to_end(&mut answer)?;
    }
    Ok((status, answer))
}

/// Standard base64 with padding, as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for character in text.bytes().filter(|byte| !byte.is_ascii_whitespace()) {
        let value = match character {
            b'A'..=b'Z' => character - b'A',
            b'a'..=b'z' => character - b'a' + 26,
            b'0'..=b'9' => character - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            other => return Err(format!("{:?} is not base64", other as char)),
        };
        buffer = buffer << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    Ok(bytes)
}

/// `target/screenshots`, beside the binary under test.
fn screenshot_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_sloscope"));
    let target = binary
        .parent()
        .and_then(Path::parent)
        .expect("the binary sits in target/<profile>/");
    let directory = target.join("screenshots");
    std::fs::create_dir_all(&directory).expect("create target/screenshots");
    directory
}

/// What a page must show, and its name for screenshots.
struct Visit {
    name: &'static str,
    path: String,
    expected: Vec<String>,
}

#[test]
fn every_page_works_in_a_real_browser_on_the_demo() {
    for (program, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: this test drives a real browser. Install it with `apt-get install -y chromium chromium-driver` (.ci/run does) and run again; the package is {package}"
        );
    }
    let data = tempfile::tempdir().unwrap();
    let mut demo = Running::start(
        Command::new(env!("CARGO_BIN_EXE_sloscope"))
            .arg("demo")
            .args(["--speed", "10", "--backfill-hours", "2", "--seed", "7"])
            .arg("--data-dir")
            .arg(data.path().join("demo"))
            .args(["--http-addr", "127.0.0.1:0"])
            .args(["--otlp-http-addr", "127.0.0.1:0"])
            .args(["--otlp-grpc-addr", "127.0.0.1:0"]),
    );
    let started = Instant::now();
    let incident_url = loop {
        let text = demo.text();
        if let Some(line) = text
            .lines()
            .find(|line| line.starts_with("Open the incident: "))
        {
            break line["Open the incident: ".len()..].trim().to_owned();
        }
        assert!(
            !demo.exited(),
            "the demo stopped before its report:\n{text}"
        );
        assert!(
            started.elapsed() < DEMO_TIMEOUT,
            "the demo did not report within {DEMO_TIMEOUT:?}:\n{text}"
        );
        thread::sleep(Duration::from_millis(250));
    };
    let report = demo.text();
    let base = incident_url
        .split("/incidents/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let incident_path = incident_url[base.len()..].to_owned();
    // `[4/4] investigation 1a2008a51b000 (incident inc-1, ...` and `  1. customers  deployment`.
    let investigation_id = report
        .lines()
        .find_map(|line| line.strip_prefix("[4/4] investigation "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no investigation id in the report:\n{report}"))
        .to_owned();
    let top_cause_service = report
        .lines()
        .find_map(|line| line.strip_prefix("  1. "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no ranked cause in the report:\n{report}"))
        .to_owned();

    let browser = Browser::start();
    browser
        .devtools(
            "Emulation.setTimezoneOverride",
            json!({ "timezoneId": TIME_ZONE }),
        )
        .unwrap_or_else(|error| panic!("cannot set the browser's zone: {error}"));
    let mut failures = Failures::default();

    // A trace to look at: one of the slow queries the fault brought, as the log view links it.
    browser
        .goto(&format!(
            "{base}/logs?service=customers&contains=slow+query&last=6h"
        ))
        .unwrap();
    let trace_path = browser
        .execute("const link = document.querySelector('table.logs a[href^=\"/traces/\"]'); return link ? link.getAttribute('href') : null;")
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no trace link in the log view:\n{}", browser.source()));

    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
    let services = ["frontend", "customers", "catalog", "orders", "payments"];
    let visits = vec![
        Visit {
            name: "slos",
            path: "/".into(),
            expected: strings(&["customers-latency", "customers-availability", "99.900 %"]),
        },
        Visit {
            name: "slos-by-service",
            path: "/?group=service".into(),
            expected: strings(&["<h2>customers</h2>", "customers-latency"]),
        },
        Visit {
            name: "slo",
            path: "/slos/customers-latency".into(),
            expected: strings(&[
                "Error budget left",
                "Burn rate",
                "threshold_ms: 300",
                "Backtest of the alert policy",
                "Exclusion windows",
                &incident_path,
            ]),
        },
        Visit {
            name: "services",
            path: "/services".into(),
            expected: strings(&services),
        },
        Visit {
            name: "service",
            path: "/services/customers".into(),
            expected: strings(&[
                "GET /customers/{id}",
                "1.4.2",
                "postgresql:customers",
                "Latency",
                "customers-latency",
            ]),
        },
        Visit {
            name: "map",
            path: "/map".into(),
            expected: [&services[..], &["postgresql:customers", "node degraded"]]
                .concat()
                .iter()
                .map(|item| (*item).to_owned())
                .collect(),
        },
        Visit {
            name: "trace",
            path: trace_path.clone(),
            expected: strings(&["customers", "frontend", "SELECT", "spans"]),
        },
        Visit {
            name: "logs",
            path: "/logs?service=customers&severity=warn&last=6h".into(),
            expected: strings(&["slow query", "loyalty_accounts", "warn"]),
        },
        Visit {
            name: "incidents",
            path: "/incidents".into(),
            expected: strings(&["inc-1", "customers-latency"]),
        },
        Visit {
            name: "incident",
            path: incident_path.clone(),
            expected: vec![
                "Timeline".into(),
                "Post-mortem draft".into(),
                // The evidence drawn: baseline and breach as bars on one scale.
                "class=\"before-after\"".into(),
                // The breach on the SLO's chart, marked where it started and where it paged.
                "good events per minute".into(),
                ">breach started<".into(),
                ">paged<".into(),
                // The new version taking over, and one of its slow requests on its trace,
                // with the span that shows it marked and its statement.
                "requests per minute to customers, by version".into(),
                "<tr class=\"pointed\">".into(),
                "<dt>statement</dt>".into(),
                investigation_id.clone(),
                format!("/services/{top_cause_service}"),
            ],
        },
        Visit {
            name: "investigation",
            path: format!("/investigations/{investigation_id}"),
            expected: vec![
                "Suspected causes".into(),
                top_cause_service.clone(),
                "1.4.2".into(),
            ],
        },
        Visit {
            name: "postmortem",
            path: format!("{incident_path}/postmortem"),
            expected: strings(&["Root cause", "Corrective actions", "Download as Markdown"]),
        },
    ];

    let directory = screenshot_dir();
    let mut timings = String::from("page\tserver ms\tloaded ms\tbytes\n");
    for visit in &visits {
        let url = format!("{base}{}", visit.path);
        let page = format!("{} ({})", visit.name, visit.path);
        for (size, width, height) in [("desktop", 1280, 800), ("phone", 390, 844)] {
            for dark in [false, true] {
                browser.emulate(width, height, dark);
                if let Err(error) = browser.goto(&url) {
                    failures.push(format!("{page}: {error}"));
                    continue;
                }
                let file = directory.join(format!(
                    "{}-{size}-{}.png",
                    visit.name,
                    if dark { "dark" } else { "light" }
                ));
                if let Err(error) = browser.screenshot(&file) {
                    failures.push(format!("{page}: screenshot {}: {error}", file.display()));
                }
                for error in browser.console_errors() {
                    failures.push(format!("{page} at {width}x{height}: console error {error}"));
                }
                if size == "phone" && !dark {
                    // Tables and charts scroll inside their own boxes; the page never does.
                    let overflow = browser
                        .execute("return document.documentElement.scrollWidth - window.innerWidth;")
                        .ok()
                        .and_then(|value| value.as_f64())
                        .unwrap_or(0.0);
                    failures.check(overflow <= 1.0, || {
                        format!("{page} is {overflow} px wider than a {width} px phone")
                    });
                }
                if size == "desktop" && !dark {
                    let html = browser.source();
                    for needle in &visit.expected {
                        failures.check(html.contains(needle.as_str()), || {
                            format!("{page} does not show {needle:?}")
                        });
                    }
                    check_times(&browser, &page, &mut failures);
                    let timing = browser
                        .execute("const n = performance.getEntriesByType('navigation')[0]; return [n.responseStart - n.requestStart, n.loadEventEnd - n.startTime, n.transferSize];")
                        .unwrap_or(Value::Null);
                    let figure = |index: usize| timing[index].as_f64().unwrap_or(f64::NAN);
                    timings.push_str(&format!(
                        "{}\t{:.0}\t{:.0}\t{:.0}\n",
                        visit.path,
                        figure(0),
                        figure(1),
                        figure(2)
                    ));
                }
            }
        }
    }

    // A span's attributes open with a click on the trace page.
    browser.emulate(1280, 800, false);
    let opened = browser
        .goto(&format!("{base}{trace_path}"))
        .and_then(|()| browser.click("button.expand"))
        .and_then(|()| {
            browser.execute("const row = document.getElementById(document.querySelector('button.expand').getAttribute('aria-controls')); return !row.hidden && row.textContent.includes('service.name');")
        });
    failures.check(opened == Ok(Value::Bool(true)), || {
        format!("the first span's attributes did not open on a click: {opened:?}")
    });

    // Hovering a chart shows the values at that step in a box; dragging across it zooms the
    // page into the time dragged over.
    let service_path = "/services/customers";
    let hovered = browser
        .goto(&format!("{base}{service_path}"))
        .and_then(|()| {
            browser.execute("const rects = document.querySelector('figure.chart').querySelectorAll('rect.hover'); const rect = rects[rects.length - 10]; rect.dispatchEvent(new MouseEvent('mouseenter')); const tip = rect.closest('figure').querySelector('.tip'); return tip && !tip.hidden ? tip.textContent : null;")
        });
    failures.check(
        matches!(&hovered, Ok(Value::String(text)) if text.contains("p99") && text.contains(" ms")),
        || format!("hovering the latency chart showed no values: {hovered:?}"),
    );
    for path in [service_path, "/slos/customers-latency"] {
        let drag = "const svg = document.querySelector('svg[data-zoom]'); const box = svg.getBoundingClientRect(); const at = (share) => ({clientX: box.left + box.width * share, clientY: box.top + box.height / 2, bubbles: true}); svg.dispatchEvent(new MouseEvent('mousedown', at(0.4))); svg.dispatchEvent(new MouseEvent('mousemove', at(0.7))); window.dispatchEvent(new MouseEvent('mouseup', at(0.7))); return true;";
        let dragged = browser
            .goto(&format!("{base}{path}"))
            .and_then(|()| browser.execute(drag));
        let zoomed = dragged.is_ok()
            && wait_for(|| {
                let url = browser.url();
                url.contains(path) && url.contains("from=") && url.contains("to=")
            });
        let source = browser.source();
        failures.check(
            zoomed
                && source.contains("drag across a chart to zoom")
                && !source.contains("&lt;time"),
            || {
                format!(
                    "dragging across a chart of {path} did not zoom: {dragged:?}, at {}",
                    browser.url()
                )
            },
        );
    }

    // The reader's path: overview, the SLO, its incident, the post-mortem, by clicking links.
    let clicks = [
        (
            "a[href=\"/slos/customers-latency\"]",
            "/slos/customers-latency",
        ),
        ("a[href^=\"/incidents/inc-\"]", incident_path.as_str()),
        (
            "a[href$=\"/postmortem\"][href^=\"/incidents/\"]",
            "/postmortem",
        ),
    ];
    match browser.goto(&format!("{base}/")) {
        Ok(()) => {
            for (selector, destination) in clicks {
                if let Err(error) = browser.click(selector) {
                    failures.push(format!("click-through at {}: {error}", browser.url()));
                    break;
                }
                let arrived = wait_for(|| browser.url().ends_with(destination));
                failures.check(arrived, || {
                    format!(
                        "clicking {selector} led to {}, not {destination}",
                        browser.url()
                    )
                });
                if !arrived {
                    break;
                }
            }
            failures.check(browser.source().contains("Root cause"), || {
                "the post-mortem reached by clicking has no root cause".into()
            });
        }
        Err(error) => failures.push(format!("overview: {error}")),
    }

    std::fs::write(directory.join("timings.txt"), &timings).unwrap();
    eprintln!("screenshots in {}\n{timings}", directory.display());
    drop(browser);
    failures.finish("the web UI in chromium");
}

/// Polls `arrived` for up to ten seconds.
fn wait_for(arrived: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if arrived() {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The page's first `<time>` shows the browser's zone, with UTC on hover.
fn check_times(browser: &Browser, page: &str, failures: &mut Failures) {
    let Ok(found) = browser.execute("const t = document.querySelector('time[datetime]'); return t ? [t.getAttribute('datetime'), t.textContent, t.title] : null;") else {
        return;
    };
    let Some([utc, shown, hover]) = found.as_array().and_then(|items| {
        let text = |index: usize| items.get(index)?.as_str().map(str::to_owned);
        Some([text(0)?, text(1)?, text(2)?])
    }) else {
        return; // a page without times
    };
    failures.check(hover.contains("UTC"), || {
        format!("{page}: time {utc} has no UTC hover ({hover:?})")
    });
    // `2026-11-22T01:58:20Z` shown as `2026-11-22 07:28:20` in UTC+05:30.
    let minute_of_day = |text: &str| -> Option<u32> {
        let hours: u32 = text.get(11..13)?.parse().ok()?;
        let minutes: u32 = text.get(14..16)?.parse().ok()?;
        Some(hours * 60 + minutes)
    };
    let converted = match (minute_of_day(&utc), minute_of_day(&shown)) {
        (Some(utc_minute), Some(shown_minute)) => {
            (utc_minute + ZONE_OFFSET_MINUTES) % 1440 == shown_minute
        }
        _ => false,
    };
    failures.check(converted, || {
        format!("{page}: time {utc} is shown as {shown:?}, not in {TIME_ZONE}")
    });
}
