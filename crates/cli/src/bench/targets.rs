//! The servers the ingest benchmark drives, each started as a child process on free loopback
//! ports in a scratch directory and stopped afterwards: sloscope itself (this executable's
//! `serve`) in its storage configurations, and Rotel, the Rust OpenTelemetry collector, with its
//! blackhole exporter, installed from PyPI into a virtual environment on first use.

use std::fmt::Write as _;
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::http;
use super::process::free_loopback_address;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Rotel receiving OTLP/HTTP and exporting to its blackhole: the cost of receiving and
    /// decoding alone, by a peer.
    RotelBlackhole,
    /// sloscope receiving, decoding and deriving signals, keeping no records.
    SloscopeDiscard,
    /// sloscope with its embedded store, acknowledging once written to the log (the default).
    SloscopeDurable,
    /// sloscope with its embedded store, acknowledging once the log is synced to disk.
    SloscopeSyncAlways,
}

impl TargetKind {
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::RotelBlackhole => "rotel blackhole",
            TargetKind::SloscopeDiscard => "sloscope discard (receive+decode+derive)",
            TargetKind::SloscopeDurable => "sloscope durable (WAL, sync=interval)",
            TargetKind::SloscopeSyncAlways => "sloscope durable (WAL, sync=always)",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            TargetKind::RotelBlackhole => "rotel_blackhole",
            TargetKind::SloscopeDiscard => "sloscope_discard",
            TargetKind::SloscopeDurable => "sloscope_durable",
            TargetKind::SloscopeSyncAlways => "sloscope_sync_always",
        }
    }

    /// The share of Rotel's spans per CPU-second the issue asks for, if it sets one.
    pub fn goal_ratio(self) -> Option<f64> {
        match self {
            TargetKind::RotelBlackhole | TargetKind::SloscopeSyncAlways => None,
            TargetKind::SloscopeDiscard => Some(1.0),
            TargetKind::SloscopeDurable => Some(0.5),
        }
    }

    fn storage_config(self) -> &'static str {
        match self {
            TargetKind::SloscopeDiscard => "[storage]\nbackend = \"discard\"\n",
            TargetKind::SloscopeSyncAlways => "[storage]\nsync = \"always\"\n",
            TargetKind::SloscopeDurable | TargetKind::RotelBlackhole => {
                "[storage]\nsync = \"interval\"\n"
            }
        }
    }
}

/// A running server under test. Dropping it kills the process.
pub struct Target {
    pub kind: TargetKind,
    child: Child,
    pub otlp_http: SocketAddr,
    /// sloscope's query API; Rotel has none.
    pub api: Option<SocketAddr>,
    log_path: PathBuf,
}

const START_LIMIT: Duration = Duration::from_secs(60);

impl Target {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts sloscope with the storage of `kind`, keeping its data under `workspace/data`
    /// (reused when started again on the same workspace).
    pub fn start_sloscope(kind: TargetKind, workspace: &Path) -> anyhow::Result<Target> {
        let executable = own_executable()?;
        let config_path = workspace.join("sloscope.toml");
        std::fs::write(&config_path, kind.storage_config())
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let data_dir = workspace.join("data");
        let otlp_grpc = free_loopback_address()?;
        let otlp_http = free_loopback_address()?;
        let api = free_loopback_address()?;
        let log_path = workspace.join("server.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let child = Command::new(&executable)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--otlp-grpc-addr")
            .arg(otlp_grpc.to_string())
            .arg("--otlp-http-addr")
            .arg(otlp_http.to_string())
            .arg("--http-addr")
            .arg(api.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share the log file")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", executable.display()))?;
        let mut target = Target {
            kind,
            child,
            otlp_http,
            api: Some(api),
            log_path,
        };
        target.wait_until_ready(|| matches!(http::request_once(api, "GET", "/readyz"), Ok(response) if response.status == 200))?;
        Ok(target)
    }

    /// Starts Rotel with an OTLP/HTTP receiver and the blackhole exporter.
    pub fn start_rotel(agent: &Path, workspace: &Path) -> anyhow::Result<Target> {
        let otlp_grpc = free_loopback_address()?;
        let otlp_http = free_loopback_address()?;
        let log_path = workspace.join("rotel.log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let child = Command::new(agent)
            .arg("start")
            .arg("--otlp-http-endpoint")
            .arg(otlp_http.to_string())
            .arg("--otlp-grpc-endpoint")
            .arg(otlp_grpc.to_string())
            .arg("--exporter")
            .arg("blackhole")
            .arg("--pid-file")
            .arg(workspace.join("rotel.pid"))
            .arg("--log-file")
            .arg(&log_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share the log file")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", agent.display()))?;
        let mut target = Target {
            kind: TargetKind::RotelBlackhole,
            child,
            otlp_http,
            api: None,
            log_path,
        };
        target.wait_until_ready(|| {
            TcpStream::connect_timeout(&otlp_http, Duration::from_millis(200)).is_ok()
        })?;
        Ok(target)
    }

    fn wait_until_ready(&mut self, ready: impl Fn() -> bool) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .context("cannot check the server process")?
            {
                bail!(
                    "{} exited during start-up ({status}); its log ends with:\n{}",
                    self.kind.label(),
                    self.log_tail()
                );
            }
            if ready() {
                return Ok(());
            }
            if started.elapsed() > START_LIMIT {
                bail!(
                    "{} not ready after {START_LIMIT:?}; its log ends with:\n{}",
                    self.kind.label(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process is still running (a crash under load shows up here).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self
            .child
            .try_wait()
            .context("cannot check the server process")?
        {
            Some(status) => bail!(
                "{} died ({status}); its log ends with:\n{}",
                self.kind.label(),
                self.log_tail()
            ),
            None => Ok(()),
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut tail = String::new();
        for line in &lines[lines.len().saturating_sub(15)..] {
            let _ = writeln!(tail, "  {line}");
        }
        tail
    }

    /// Asks the server to stop (SIGTERM), then kills it if it has not within ten seconds.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(&pid)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self
                .child
                .try_wait()
                .context("cannot check the server process")?
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "{} did not stop within 10 s of SIGTERM; killing it",
            self.kind.label()
        );
        self.child.kill().context("cannot kill the server")?;
        self.child.wait().context("cannot reap the server")?;
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// This very executable. On Linux `/proc/self/exe` still runs it after a rebuild has replaced
/// the file on disk, so every server of a run is the build that started the run.
fn own_executable() -> anyhow::Result<PathBuf> {
    let linux_link = PathBuf::from("/proc/self/exe");
    if linux_link.exists() {
        return Ok(linux_link);
    }
    std::env::current_exe().context("cannot find the sloscope executable")
}

/// Finds Rotel's agent binary in the virtual environment at `venv`, creating the environment
/// and installing the `rotel` package first when needed.
pub fn ensure_rotel(venv: &Path) -> anyhow::Result<PathBuf> {
    if let Some(agent) = find_rotel_agent(venv) {
        return Ok(agent);
    }
    eprintln!("installing rotel into {}", venv.display());
    if !venv.join("bin").join("python3").exists() {
        run_quietly(Command::new("python3").arg("-m").arg("venv").arg(venv))
            .context("cannot create a python virtual environment (python3 -m venv)")?;
    }
    run_quietly(
        Command::new(venv.join("bin").join("pip"))
            .arg("install")
            .arg("--quiet")
            .arg("rotel"),
    )
    .context("cannot install rotel with pip")?;
    find_rotel_agent(venv).with_context(|| {
        format!(
            "pip installed rotel but no rotel/rotel-agent under {}/lib",
            venv.display()
        )
    })
}

/// Runs a setup command with its output on stderr, so stdout stays the report.
fn run_quietly(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

fn find_rotel_agent(venv: &Path) -> Option<PathBuf> {
    let libraries = std::fs::read_dir(venv.join("lib")).ok()?;
    for entry in libraries.flatten() {
        let agent = entry
            .path()
            .join("site-packages")
            .join("rotel")
            .join("rotel-agent");
        if agent.is_file() {
            return Some(agent);
        }
    }
    None
}

/// Where the virtual environment lives by default: beside the build, in `target/bench-venv`,
/// when this executable runs from a cargo target directory; else `target/bench-venv` here.
pub fn default_venv() -> PathBuf {
    let target_directory = std::env::current_exe()
        .ok()
        .and_then(|executable| {
            executable
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        })
        .filter(|directory| directory.file_name().is_some_and(|name| name == "target"));
    target_directory
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("bench-venv")
}
