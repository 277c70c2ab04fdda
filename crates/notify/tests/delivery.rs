//! Delivery end to end: real HTTP to a scripted receiver on 127.0.0.1, the real `ureq`
//! transport, and a recording clock so that backoff is observed without sleeping.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use sloscope_notify::{
    Alert, AlertStatus, Clock, HttpReply, HttpTransport, Notifier, NotifyConfig, NotifySettings,
    OutgoingRequest, Secret, Severity, Transport, TransportError,
};

// ---------------------------------------------------------------------------------------
// A scripted HTTP receiver.

#[derive(Clone, Debug)]
struct ScriptedReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn reply(status: u16) -> ScriptedReply {
    ScriptedReply {
        status,
        headers: Vec::new(),
        body: String::new(),
    }
}

fn reply_with_header(status: u16, name: &str, value: &str) -> ScriptedReply {
    ScriptedReply {
        headers: vec![(name.to_owned(), value.to_owned())],
        ..reply(status)
    }
}

#[derive(Clone, Debug)]
struct RecordedRequest {
    method: String,
    path: String,
    /// Lowercase names.
    headers: BTreeMap<String, String>,
    body: Value,
}

/// Answers each request with the next scripted reply, then with `fallback` forever, and
/// records every request. Each connection carries one request (`Connection: close`).
struct ScriptedServer {
    base_url: String,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl ScriptedServer {
    fn start(script: Vec<ScriptedReply>, fallback: ScriptedReply) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                recorded.lock().expect("lock").push(request);
                let answer = script.next().unwrap_or_else(|| fallback.clone());
                write_reply(stream, &answer);
            }
        });
        ScriptedServer { base_url, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<RecordedRequest> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(RecordedRequest {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).ok()?,
    })
}

fn write_reply(mut stream: TcpStream, answer: &ScriptedReply) {
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.body.as_bytes());
    let _ = stream.flush();
}

// ---------------------------------------------------------------------------------------
// A clock that records waits instead of sleeping.

const START: u64 = 1_793_534_400;

#[derive(Default)]
struct RecordingClock {
    slept: Mutex<Vec<Duration>>,
}

impl RecordingClock {
    fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().expect("lock").clone()
    }
}

impl Clock for RecordingClock {
    /// Starts at `START` and moves on by every recorded wait.
    fn now(&self) -> SystemTime {
        let waited: Duration = self.slept.lock().expect("lock").iter().sum();
        SystemTime::UNIX_EPOCH + Duration::from_secs(START) + waited
    }

    fn sleep(&self, duration: Duration) {
        self.slept.lock().expect("lock").push(duration);
    }

    /// Half of each ceiling, so the growth of the backoff shows exactly.
    fn jitter_fraction(&self) -> f64 {
        0.5
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn settings(toml_text: &str) -> NotifySettings {
    let config: NotifyConfig = toml::from_str(toml_text).expect("parse");
    config.validate().expect("valid")
}

fn webhook_settings(url: &str, extra: &str) -> NotifySettings {
    settings(&format!(
        "{extra}\n[[channels]]\nname = \"audit\"\ntype = \"webhook\"\nurl = \"{url}\"\n"
    ))
}

fn alert(starts_at: i64) -> Alert {
    Alert {
        slo: "customers-availability".into(),
        service: "checkout".into(),
        rule: "burn_1h_5m".into(),
        severity: Severity::Page,
        status: AlertStatus::Firing,
        starts_at,
        ends_at: None,
        summary: "customers-availability is burning its error budget at 15.2x (1h)".into(),
        labels: BTreeMap::from([("team".to_owned(), "customers".to_owned())]),
        annotations: BTreeMap::from([("objective".to_owned(), "0.999".to_owned())]),
        url: Some("http://127.0.0.1:8080/slos/customers-availability".into()),
    }
}

fn resolved(alert: &Alert) -> Alert {
    Alert {
        status: AlertStatus::Resolved,
        ends_at: Some(alert.starts_at + 900),
        ..alert.clone()
    }
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn start(settings: &NotifySettings, clock: &Arc<RecordingClock>) -> Notifier {
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    Notifier::start_with(settings, Arc::new(HttpTransport::new()), clock).expect("start")
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn retries_with_growing_backoff_then_deduplicates_and_resolves() {
    let server = ScriptedServer::start(vec![reply(503), reply(503)], reply(200));
    let clock = Arc::new(RecordingClock::default());
    let notifier = start(&webhook_settings(&server.url("/hook"), ""), &clock);
    let firing = alert(1_793_530_000);

    assert_eq!(notifier.send(firing.clone()), 1);
    wait_until("the firing alert is delivered", || {
        notifier.stats()[0].sent == 1
    });
    assert_eq!(server.requests().len(), 3, "503, 503, then 200");
    // Full jitter at a fraction of 0.5: half of 500 ms, then half of 1000 ms.
    assert_eq!(
        clock.sleeps(),
        [Duration::from_millis(250), Duration::from_millis(500)]
    );

    // The evaluator re-sends a firing alert on every evaluation: delivered once.
    notifier.send(firing.clone());
    notifier.send(firing.clone());
    wait_until("repeats are deduplicated", || {
        notifier.stats()[0].deduplicated == 2
    });

    notifier.send(resolved(&firing));
    notifier.send(resolved(&firing));
    wait_until("the resolved alert is delivered", || {
        let stats = &notifier.stats()[0];
        stats.sent == 2 && stats.deduplicated == 3
    });

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|request| request.method == "POST" && request.path == "/hook")
    );
    assert_eq!(
        requests[0].headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let statuses: Vec<&str> = requests
        .iter()
        .map(|request| request.body["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["firing", "firing", "firing", "resolved"]);
    assert_eq!(requests[3].body["dedup_key"], requests[0].body["dedup_key"]);
    assert_eq!(requests[3].body["ends_at"], firing.starts_at + 900);

    let stats = notifier.stats().remove(0);
    assert_eq!(
        (
            stats.sent,
            stats.failed,
            stats.retried,
            stats.deduplicated,
            stats.dropped
        ),
        (2, 0, 2, 3, 0)
    );
    assert!(notifier.shutdown(Duration::from_secs(5)));
}

#[test]
fn honours_retry_after_in_seconds_and_as_a_date() {
    let clock = Arc::new(RecordingClock::default());
    // The second answer asks for a date 30 s after the clock's time at that point (START + 7 s).
    let date = time::OffsetDateTime::from_unix_timestamp(START as i64 + 7 + 30).expect("date");
    let imf_fixdate = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let http_date = date.format(&imf_fixdate).expect("formatted");
    let server = ScriptedServer::start(
        vec![
            reply_with_header(429, "Retry-After", "7"),
            reply_with_header(503, "Retry-After", &http_date),
        ],
        reply(200),
    );
    let notifier = start(&webhook_settings(&server.url("/hook"), ""), &clock);
    notifier.send(alert(1_793_530_000));
    wait_until("delivered", || notifier.stats()[0].sent == 1);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(7), Duration::from_secs(30)]
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn retry_after_is_capped_at_the_longest_backoff() {
    let clock = Arc::new(RecordingClock::default());
    let server = ScriptedServer::start(
        vec![reply_with_header(503, "Retry-After", "86400")],
        reply(200),
    );
    let notifier = start(
        &webhook_settings(&server.url("/hook"), "retry_max_ms = 60000"),
        &clock,
    );
    notifier.send(alert(1_793_530_000));
    wait_until("delivered", || notifier.stats()[0].sent == 1);
    assert_eq!(clock.sleeps(), [Duration::from_secs(60)]);
}

#[test]
fn gives_up_after_the_last_attempt_and_holds_back_the_resolved_message() {
    let server = ScriptedServer::start(Vec::new(), reply(500));
    let clock = Arc::new(RecordingClock::default());
    let notifier = start(
        &webhook_settings(&server.url("/hook"), "retry_max_attempts = 3"),
        &clock,
    );
    let firing = alert(1_793_530_000);
    notifier.send(firing.clone());
    wait_until("given up", || notifier.stats()[0].failed == 1);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_millis(250), Duration::from_millis(500)]
    );

    notifier.send(resolved(&firing));
    wait_until("resolved held back", || {
        notifier.stats()[0].resolved_without_firing == 1
    });
    assert_eq!(
        server.requests().len(),
        3,
        "no resolved message for an undelivered alert"
    );
    let stats = notifier.stats().remove(0);
    assert_eq!((stats.sent, stats.failed, stats.retried), (0, 1, 2));
}

#[test]
fn a_rejected_payload_is_not_retried() {
    let server = ScriptedServer::start(Vec::new(), reply(400));
    let clock = Arc::new(RecordingClock::default());
    let notifier = start(&webhook_settings(&server.url("/hook"), ""), &clock);
    notifier.send(alert(1_793_530_000));
    wait_until("failed", || notifier.stats()[0].failed == 1);
    assert_eq!(server.requests().len(), 1);
    assert!(clock.sleeps().is_empty());
    assert_eq!(notifier.stats()[0].retried, 0);
}

#[test]
fn connection_errors_are_retried() {
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let clock = Arc::new(RecordingClock::default());
    let url = format!("http://127.0.0.1:{closed_port}/hook");
    let notifier = start(&webhook_settings(&url, "retry_max_attempts = 4"), &clock);
    notifier.send(alert(1_793_530_000));
    wait_until("given up", || notifier.stats()[0].failed == 1);
    assert_eq!(notifier.stats()[0].retried, 3);
    let milliseconds: Vec<u128> = clock.sleeps().iter().map(Duration::as_millis).collect();
    assert_eq!(milliseconds, [250, 500, 1000]);
}

#[test]
fn every_channel_type_posts_its_own_payload() {
    let server = ScriptedServer::start(Vec::new(), reply(202));
    let clock = Arc::new(RecordingClock::default());
    let settings = settings(&format!(
        r#"
        external_url = "http://127.0.0.1:8080"

        [[channels]]
        name = "oncall"
        type = "pagerduty"
        routing_key = "r0ut1ngk3y"
        url = "{pagerduty}"

        [[channels]]
        name = "chat"
        type = "slack"
        url = "{slack}"

        [[channels]]
        name = "audit"
        type = "webhook"
        url = "{webhook}"
        headers = {{ Authorization = "Bearer t0k3n" }}

        [[channels]]
        name = "relay"
        type = "alertmanager"
        url = "{alertmanager}"

        [[routes]]
        channels = ["oncall"]
        severities = ["page"]
        match = {{ team = "customers" }}
        continue = true

        [[routes]]
        channels = ["chat", "audit", "relay"]
        "#,
        pagerduty = server.url("/pagerduty"),
        slack = server.url("/slack"),
        webhook = server.url("/webhook"),
        alertmanager = server.url("/alertmanager"),
    ));
    let notifier = start(&settings, &clock);
    let firing = alert(1_793_530_000);
    assert_eq!(notifier.send(firing.clone()), 4);
    wait_until("all four delivered", || {
        notifier.stats().iter().all(|stats| stats.sent == 1)
    });

    // A ticket of another team only reaches the catch-all route.
    let mut ticket = alert(1_793_531_000);
    ticket.severity = Severity::Ticket;
    ticket.labels.insert("team".into(), "payments".into());
    assert_eq!(notifier.send(ticket), 3);
    wait_until("ticket delivered", || notifier.stats()[1].sent == 2);
    notifier.send(resolved(&firing));
    wait_until("resolved everywhere", || {
        notifier.stats()[0].sent == 2 && notifier.stats()[3].sent == 3
    });

    let requests = server.requests();
    let by_path = |path: &str| -> Vec<RecordedRequest> {
        requests
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    };
    let pagerduty = by_path("/pagerduty");
    assert_eq!(pagerduty.len(), 2);
    assert_eq!(pagerduty[0].body["routing_key"], "r0ut1ngk3y");
    assert_eq!(pagerduty[0].body["event_action"], "trigger");
    assert_eq!(pagerduty[0].body["payload"]["severity"], "critical");
    assert_eq!(pagerduty[1].body["event_action"], "resolve");
    assert_eq!(
        pagerduty[1].body["dedup_key"],
        pagerduty[0].body["dedup_key"]
    );

    let slack = by_path("/slack");
    assert_eq!(slack.len(), 3);
    assert!(
        slack[0].body["text"]
            .as_str()
            .expect("text")
            .starts_with(":red_circle:")
    );
    assert_eq!(slack[0].body["blocks"][0]["type"], "header");
    assert!(
        slack[2].body["text"]
            .as_str()
            .expect("text")
            .starts_with(":large_green_circle:")
    );

    let webhook = by_path("/webhook");
    assert_eq!(webhook.len(), 3);
    assert_eq!(
        webhook[0].headers.get("authorization").map(String::as_str),
        Some("Bearer t0k3n")
    );
    assert_eq!(webhook[0].body["version"], "1");

    let alertmanager = by_path("/alertmanager");
    assert_eq!(alertmanager.len(), 3);
    assert_eq!(alertmanager[0].body["version"], "4");
    assert_eq!(alertmanager[0].body["receiver"], "relay");
    assert_eq!(alertmanager[0].body["externalURL"], "http://127.0.0.1:8080");
    assert_eq!(
        alertmanager[0].body["alerts"][0]["endsAt"],
        "0001-01-01T00:00:00Z"
    );
    assert_eq!(alertmanager[2].body["status"], "resolved");
    assert_eq!(
        alertmanager[2].body["alerts"][0]["fingerprint"],
        alertmanager[0].body["alerts"][0]["fingerprint"]
    );
    assert!(requests.iter().all(|request| {
        request
            .headers
            .get("user-agent")
            .is_some_and(|agent| agent.starts_with("sloscope/"))
    }));
}

/// Blocks every post until the test lets go, and says when the first one started.
struct StuckTransport {
    entered: Mutex<Sender<()>>,
    release: Mutex<Receiver<()>>,
}

impl Transport for StuckTransport {
    fn post(&self, _request: &OutgoingRequest) -> Result<HttpReply, TransportError> {
        let _ = self.entered.lock().expect("lock").send(());
        // Returns once the test drops its sender.
        let _ = self.release.lock().expect("lock").recv();
        Ok(HttpReply {
            status: 200,
            retry_after: None,
            body_excerpt: String::new(),
        })
    }
}

#[test]
fn send_never_blocks_when_the_worker_is_stuck() {
    let (entered_sender, entered) = channel();
    let (release, release_receiver) = channel::<()>();
    let transport = Arc::new(StuckTransport {
        entered: Mutex::new(entered_sender),
        release: Mutex::new(release_receiver),
    });
    let settings = webhook_settings("http://127.0.0.1:9/hook", "queue_capacity = 4");
    let clock: Arc<dyn Clock> = Arc::new(RecordingClock::default());
    let notifier = Notifier::start_with(&settings, transport, clock).expect("start");

    notifier.send(alert(0));
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("worker is posting");

    let began = Instant::now();
    let queued: usize = (1..=14)
        .map(|starts_at| notifier.send(alert(starts_at)))
        .sum();
    let elapsed = began.elapsed();
    assert!(
        elapsed < Duration::from_millis(500),
        "send blocked for {elapsed:?}"
    );
    assert_eq!(queued, 4, "the queue holds four");
    assert_eq!(notifier.stats()[0].dropped, 10);

    drop(release);
    wait_until("the queued alerts are delivered", || {
        notifier.stats()[0].sent == 5
    });
    assert!(notifier.shutdown(Duration::from_secs(5)));
}

#[test]
fn https_to_a_server_without_tls_fails_cleanly_and_quietly() {
    // The listener answers in plain HTTP: the TLS handshake must fail with an error (not a
    // panic for want of a crypto provider), and the error must not quote the secret path.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        }
    });
    let request = OutgoingRequest {
        url: Secret::new(format!("https://{address}/services/s3cr3t-path")),
        headers: Vec::new(),
        body: b"{}".to_vec(),
    };
    let error = HttpTransport::new()
        .post(&request)
        .expect_err("no TLS there");
    assert!(!error.message.contains("s3cr3t"), "{}", error.message);
}

// ---------------------------------------------------------------------------------------
// Secrets stay out of the logs.

#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured_logs() -> &'static CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        logs
    })
}

#[test]
fn secrets_never_reach_the_logs() {
    let logs = captured_logs();
    // The receivers fail and echo their secrets back in their error bodies.
    let echo = |body: &str| ScriptedReply {
        status: 500,
        headers: Vec::new(),
        body: body.to_owned(),
    };
    let slack_server =
        ScriptedServer::start(Vec::new(), echo("no route for /services/T0/B0/s3cr3tt0k3n"));
    let pagerduty_server = ScriptedServer::start(
        Vec::new(),
        echo(r#"{"message":"bad key s3cr3tr0ut1ngk3y"}"#),
    );
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let settings = settings(&format!(
        r#"
        retry_max_attempts = 2

        [[channels]]
        name = "chat"
        type = "slack"
        url = "{slack}"

        [[channels]]
        name = "audit"
        type = "webhook"
        url = "http://127.0.0.1:{closed_port}/hooks/s3cr3tp4th?token=s3cr3tqu3ry"
        headers = {{ Authorization = "Bearer s3cr3th34d3r" }}

        [[channels]]
        name = "oncall"
        type = "pagerduty"
        url = "{pagerduty}"
        routing_key = "s3cr3tr0ut1ngk3y"
        "#,
        slack = slack_server.url("/services/T0/B0/s3cr3tt0k3n"),
        pagerduty = pagerduty_server.url("/v2/enqueue"),
    ));
    let clock = Arc::new(RecordingClock::default());
    let notifier = start(&settings, &clock);
    notifier.send(alert(1_793_530_000));
    wait_until("every channel gave up", || {
        notifier.stats().iter().all(|stats| stats.failed == 1)
    });
    tracing::info!(config = ?settings, "settings as a careless caller might log them");

    let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        text.contains("notification delivery failed, giving up"),
        "{text}"
    );
    assert!(text.contains("http status 500"), "{text}");
    for secret in ["s3cr3t", "/services/T0", "/hooks/", "token="] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the logs:\n{text}"
        );
    }
}
