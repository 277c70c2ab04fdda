//! The web UI end to end: the real server is fed spans over OTLP for a service named like an
//! attack (`<script>alert(1)</script>`), gets an SLO and an investigation through the API, and
//! every page then answers 200 with HTML that names the service, shows its numbers, escapes
//! every piece of user text and has balanced tags. The budget it exhausts opens an incident,
//! whose page is checked too. Unknown things answer an HTML 404.
//!
//! Run: `cargo test -p sloscope --test e2e_web_ui`.

mod common;

use std::time::Duration;

use common::{
    IdSource, MILLISECOND, SECOND, database_span, eventually, hex, http_request, now_unix_nanos,
    percent_encode, server_span, start_server, trace_request,
};

const HOSTILE: &str = "<script>alert(1)</script>";
const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

/// Checks that every opened element is closed in order (void and self-closed elements aside)
/// and that no raw `<script>` other than the page's own script tag appears.
fn assert_well_formed(page: &str, html: &str) {
    const VOID: [&str; 6] = ["meta", "link", "br", "input", "img", "hr"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').unwrap_or_else(|| {
            panic!(
                "{page}: unclosed tag near {:?}",
                &after[..after.len().min(60)]
            )
        });
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let expected = open.pop();
            assert_eq!(
                expected.as_deref(),
                Some(name.trim()),
                "{page}: </{name}> closes {expected:?}"
            );
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "{page}: a raw `<` in text: <{tag}>");
        if name == "script" {
            assert!(
                tag.contains("src=\"/ui/script.js\""),
                "{page}: an inline script: <{tag}>"
            );
        }
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "{page}: elements left open: {open:?}");
}

#[test]
fn every_page_answers_with_escaped_well_formed_html() {
    let config_dir = tempfile::tempdir().unwrap();
    let config_path = config_dir.path().join("sloscope.toml");
    std::fs::write(&config_path, "[slo]\nevaluation_interval_secs = 1\n").unwrap();
    let server = start_server(&["--config", config_path.to_str().unwrap()]);

    // 100 requests of one route a minute ago, 20 of them failing, each calling a database.
    let mut ids = IdSource::new(11);
    let start = now_unix_nanos() - 60 * SECOND;
    let mut spans = Vec::new();
    let mut failed_trace = None;
    for index in 0..100 {
        let (trace, root) = (ids.trace_id(), ids.span_id());
        let status = if index < 20 { 503 } else { 200 };
        spans.push(server_span(
            trace,
            root,
            "/items/{id}",
            start + index * MILLISECOND,
            40 * MILLISECOND,
            status,
        ));
        spans.push(database_span(
            trace,
            ids.span_id(),
            root,
            "shop",
            start + index * MILLISECOND + MILLISECOND,
            30 * MILLISECOND,
        ));
        if status == 503 {
            failed_trace.get_or_insert(trace);
        }
    }
    let response = server.post_protobuf("traces", &trace_request(HOSTILE, spans));
    assert_eq!(response.status, 200, "{}", response.text());
    let failed_trace = hex(&failed_trace.unwrap());

    let spec = format!(
        "apiVersion: sloscope/v1\nkind: SLO\nname: hostile-availability\nservice: '{HOSTILE}'\ndescription: '<img src=x onerror=alert(2)>'\nindicator:\n  availability: {{}}\nobjective: 99\nwindow: 1d\n"
    );
    let created = http_request(
        server.http_addr,
        "PUT",
        "/api/v1/slos/hostile-availability",
        &[("Content-Type", "application/yaml")],
        spec.as_bytes(),
    )
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    eventually(Duration::from_secs(20), || {
        let slo = server.get_json("/api/v1/slos/hostile-availability");
        (slo["attainment"].as_f64().is_some())
            .then_some(())
            .ok_or(slo.to_string())
    })
    .unwrap();

    let now_seconds = now_unix_nanos() / SECOND;
    let body = serde_json::json!({
        "service": HOSTILE,
        "from": now_seconds - 300,
        "to": now_seconds + 1,
    });
    let investigation = http_request(
        server.http_addr,
        "POST",
        "/api/v1/investigations",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert!(investigation.status < 300, "{}", investigation.text());
    let investigation_id = investigation.json().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let service_path = format!("/services/{}", percent_encode(HOSTILE));
    let service_heading = format!("<h2>{ESCAPED}</h2>");
    let pages: Vec<(String, Vec<&str>)> = vec![
        (
            "/".into(),
            vec!["hostile-availability", ESCAPED, "80.000 %", "99.000 %"],
        ),
        ("/slos".into(), vec!["hostile-availability"]),
        (
            "/?group=service".into(),
            vec!["hostile-availability", &service_heading],
        ),
        (
            "/slos/hostile-availability".into(),
            vec![
                ESCAPED,
                "&lt;img src=x onerror=alert(2)&gt;",
                "Error budget left",
                "Burn rate",
                "<svg",
            ],
        ),
        ("/services".into(), vec![ESCAPED, "20.00 %", "postgresql"]),
        // The failing service is degraded against an empty past only through its SLO; its
        // database has no telemetry of its own and is drawn as a remote node.
        (
            "/map".into(),
            vec![ESCAPED, "postgresql:shop", "node remote", "Degraded"],
        ),
        (
            "/services/postgresql%3Ashop".into(),
            vec!["Called by", ESCAPED, "remote service"],
        ),
        (
            service_path.clone(),
            vec![
                ESCAPED,
                "GET /items/{id}",
                "20.00 %",
                "Latency",
                "<svg",
                &failed_trace,
            ],
        ),
        (
            format!("/traces/{failed_trace}"),
            vec![
                ESCAPED,
                "GET /items/{id}",
                "error",
                "2 spans",
                "/logs?trace_id=",
            ],
        ),
        // No log was sent: the form still shows, with the service suggested.
        (
            format!("/logs?service={}&last=24h", percent_encode(HOSTILE)),
            vec!["No log line matches", ESCAPED, "<form"],
        ),
        ("/investigations".into(), vec![&investigation_id, ESCAPED]),
        (
            format!("/investigations/{investigation_id}"),
            vec![ESCAPED, "Suspected causes"],
        ),
        // The exhausted budget (20 % faults against a 1 % allowance) pages and opens inc-1.
        (
            "/incidents".into(),
            vec!["inc-1", ESCAPED, "hostile-availability"],
        ),
        (
            "/incidents/inc-1".into(),
            vec![
                ESCAPED,
                "Timeline",
                "Post-mortem draft",
                "/api/v1/incidents/inc-1/postmortem",
            ],
        ),
        (
            "/incidents/inc-1/postmortem".into(),
            vec![
                ESCAPED,
                "Download as Markdown",
                "<h3>Timeline (UTC)</h3>",
                "<table>",
            ],
        ),
    ];
    for (page, expected) in &pages {
        let started = std::time::Instant::now();
        let response = server.get(page);
        let elapsed = started.elapsed();
        let html = response.text();
        assert_eq!(response.status, 200, "{page}: {html}");
        assert!(
            response
                .header("content-type")
                .is_some_and(|value| value.starts_with("text/html")),
            "{page}: {:?}",
            response.header("content-type")
        );
        assert!(
            !html.contains(HOSTILE),
            "{page} shows the service name unescaped"
        );
        assert!(
            !html.contains("<img"),
            "{page} shows the description unescaped"
        );
        for needle in expected {
            assert!(html.contains(needle), "{page} lacks {needle:?}:\n{html}");
        }
        assert_well_formed(page, &html);
        eprintln!("{page}: {} bytes in {elapsed:?}", html.len());
    }

    for missing in [
        "/incidents/inc-9",
        "/slos/nope",
        "/investigations/nope",
        "/services/nope",
    ] {
        let response = server.get(missing);
        assert_eq!(response.status, 404, "{missing}: {}", response.text());
        assert!(response.text().contains("<h1>Not found</h1>"), "{missing}");
    }
    let bad_trace = server.get("/traces/not-hex");
    assert_eq!(bad_trace.status, 400);
    for bad_filter in ["/logs?severity=loud", "/logs?last=2w", "/logs?trace_id=xyz"] {
        assert_eq!(server.get(bad_filter).status, 400, "{bad_filter}");
    }
    let style = server.get("/ui/style.css");
    assert_eq!(style.status, 200);
    assert!(style.text().contains("prefers-color-scheme: dark"));
    assert_eq!(server.get("/ui/script.js").status, 200);
}

/// With tokens configured, a browser logs in once: pages without a token go to the login form,
/// a token with the read scope comes back as a cookie that opens the pages, and the cookie
/// counts for reading only.
#[test]
fn a_browser_logs_in_with_a_read_token_when_tokens_are_configured() {
    const READER: &str = "reader-token-0123456789abcdef";
    const WRITER: &str = "ingest-token-0123456789abcdef";
    let config_dir = tempfile::tempdir().unwrap();
    let config_path = config_dir.path().join("sloscope.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[auth.tokens]]\ntoken = \"{READER}\"\nscopes = [\"read\"]\n\n[[auth.tokens]]\ntoken = \"{WRITER}\"\nscopes = [\"ingest\"]\n"
        ),
    )
    .unwrap();
    let server = start_server(&["--config", config_path.to_str().unwrap()]);
    let address = server.http_addr;
    let get = |target: &str, headers: &[(&str, &str)]| {
        http_request(address, "GET", target, headers, b"").unwrap()
    };
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let log_in = |token: &str| {
        let body = format!(
            "token={}&next=%2Fservices%3Fhours%3D1",
            percent_encode(token)
        );
        http_request(address, "POST", "/login", &form, body.as_bytes()).unwrap()
    };

    let page = get("/services?hours=1", &[]);
    assert_eq!(page.status, 303, "{}", page.text());
    assert_eq!(
        page.header("location"),
        Some("/login?next=%2Fservices%3Fhours%3D1")
    );
    assert_eq!(get("/api/v1/services", &[]).status, 401);
    let login = get("/login?next=%2Fservices", &[]);
    assert!(login.status == 200 && login.text().contains("name=\"token\""));
    assert_eq!(get("/ui/style.css", &[]).status, 200);

    for wrong in ["not-a-token", WRITER] {
        let refused = log_in(wrong);
        assert_eq!(refused.status, 401, "{wrong}: {}", refused.text());
        assert!(
            refused.text().contains("Not logged in"),
            "{}",
            refused.text()
        );
        assert!(refused.header("set-cookie").is_none());
    }
    let accepted = log_in(READER);
    assert_eq!(accepted.status, 303, "{}", accepted.text());
    assert_eq!(accepted.header("location"), Some("/services?hours=1"));
    let cookie = accepted
        .header("set-cookie")
        .expect("a cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        accepted.header("set-cookie").unwrap().contains("HttpOnly"),
        "{cookie}"
    );

    let page = get("/services?hours=1", &[("cookie", &cookie)]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("<h1>Services</h1>"));
    assert_eq!(get("/api/v1/services", &[("cookie", &cookie)]).status, 200);
    // A write with the cookie alone is not the reader's doing: it needs the header.
    let change = http_request(
        address,
        "POST",
        "/api/v1/changes",
        &[("cookie", &cookie), ("content-type", "application/json")],
        br#"{"service":"shop","kind":"deployment","description":"x"}"#,
    )
    .unwrap();
    assert_eq!(change.status, 401, "{}", change.text());
    let out = get("/logout", &[("cookie", &cookie)]);
    assert!(
        out.status == 303 && out.header("set-cookie").unwrap().contains("Max-Age=0"),
        "{:?}",
        out.headers
    );
}
