//! Server configuration: one TOML file plus `SLOSCOPE_*` environment variables, parsed into
//! serde structs with explicit defaults, then validated into [`Config`]. Every setting has a
//! default that works on a laptop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sloscope_store::{StoreConfig, SyncPolicy};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid { setting: String, reason: String },
}

fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    data_dir: PathBuf,
    listen: RawListen,
    ingest: RawIngest,
    storage: RawStorage,
    auth: RawAuth,
    slo: RawSlo,
    incidents: RawIncidents,
    notify: sloscope_notify::NotifyConfig,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            data_dir: PathBuf::from("sloscope-data"),
            listen: RawListen::default(),
            ingest: RawIngest::default(),
            storage: RawStorage::default(),
            auth: RawAuth::default(),
            slo: RawSlo::default(),
            incidents: RawIncidents::default(),
            notify: sloscope_notify::NotifyConfig::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawListen {
    otlp_grpc: String,
    otlp_http: String,
    http: String,
}

impl Default for RawListen {
    fn default() -> Self {
        RawListen {
            otlp_grpc: "127.0.0.1:4317".into(),
            otlp_http: "127.0.0.1:4318".into(),
            http: "127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawIngest {
    max_request_bytes: usize,
    max_in_flight_bytes: u64,
    queue_capacity: usize,
    operation_limit: usize,
}

impl Default for RawIngest {
    fn default() -> Self {
        RawIngest {
            max_request_bytes: 16 << 20,
            max_in_flight_bytes: 512 << 20,
            queue_capacity: 256,
            operation_limit: 200,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStorage {
    /// "embedded" (the default) or "discard" (benchmarks only: derive signals, keep nothing).
    backend: String,
    /// "interval" (ack after write, fsync every `sync_interval_ms`) or "always".
    sync: String,
    sync_interval_ms: u64,
    roll_rows: usize,
    roll_interval_secs: u64,
    retention_days: u64,
    max_bytes: Option<u64>,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            backend: "embedded".into(),
            sync: "interval".into(),
            sync_interval_ms: 100,
            roll_rows: 200_000,
            roll_interval_secs: 60,
            retention_days: 30,
            max_bytes: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSlo {
    /// A directory of SLO YAML files, watched for changes (GitOps).
    dir: Option<PathBuf>,
    evaluation_interval_secs: u64,
}

impl Default for RawSlo {
    fn default() -> Self {
        RawSlo {
            dir: None,
            evaluation_interval_secs: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawIncidents {
    /// How long the signals must stay within target before an incident counts as recovered.
    recovery_minutes: u64,
    /// How far back the investigation of a page looks (the breach window).
    window_minutes: u64,
    /// Owners of services for post-mortem actions: `customers = "team-accounts"`. Services not
    /// named here take the `service.owner` resource attribute of their spans, if any.
    owners: BTreeMap<String, String>,
}

impl Default for RawIncidents {
    fn default() -> Self {
        RawIncidents {
            recovery_minutes: 15,
            window_minutes: 60,
            owners: BTreeMap::new(),
        }
    }
}

/// How incidents are opened, investigated and closed.
#[derive(Clone, Debug)]
pub struct IncidentSettings {
    pub recovery: Duration,
    pub window: Duration,
    pub owners: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    tokens: Vec<RawToken>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    token: String,
    scopes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    /// Keeps signal rollups in memory and discards records: for ingest benchmarks only.
    Discard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Ingest,
    Read,
    Admin,
}

impl Scope {
    fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Token {
    pub secret: String,
    pub scopes: BTreeSet<Scope>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    pub otlp_grpc_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub max_request_bytes: usize,
    pub max_in_flight_bytes: u64,
    pub store: StoreConfig,
    pub tokens: Vec<Token>,
    pub slo_dir: Option<PathBuf>,
    pub slo_interval: Duration,
    pub incidents: IncidentSettings,
    pub notify: sloscope_notify::NotifySettings,
}

/// Command-line overrides; they win over the environment, which wins over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub otlp_grpc_addr: Option<String>,
    pub otlp_http_addr: Option<String>,
    pub http_addr: Option<String>,
    pub slo_dir: Option<PathBuf>,
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let environment: Vec<(String, String)> = std::env::vars()
            .filter(|(key, _)| key.starts_with("SLOSCOPE_"))
            .collect();
        let text = match file {
            Some(path) => Some((
                path,
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?,
            )),
            None => None,
        };
        Config::from_parts(
            text.as_ref().map(|(path, text)| (*path, text.as_str())),
            &environment,
            overrides,
        )
    }

    /// Builds the configuration from file text, environment pairs and overrides, in that order.
    pub fn from_parts(
        file: Option<(&Path, &str)>,
        environment: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut raw = match file {
            Some((path, text)) => {
                toml::from_str::<RawConfig>(text).map_err(|error| ConfigError::Parse {
                    path: path.to_owned(),
                    message: error.to_string().trim_end().to_owned(),
                })?
            }
            None => RawConfig::default(),
        };
        for (key, value) in environment {
            match key.as_str() {
                "SLOSCOPE_DATA_DIR" => raw.data_dir = PathBuf::from(value),
                "SLOSCOPE_OTLP_GRPC_ADDR" => raw.listen.otlp_grpc = value.clone(),
                "SLOSCOPE_OTLP_HTTP_ADDR" => raw.listen.otlp_http = value.clone(),
                "SLOSCOPE_HTTP_ADDR" => raw.listen.http = value.clone(),
                "SLOSCOPE_SYNC" => raw.storage.sync = value.clone(),
                "SLOSCOPE_SLO_DIR" => raw.slo.dir = Some(PathBuf::from(value)),
                "SLOSCOPE_STORAGE_BACKEND" => raw.storage.backend = value.clone(),
                "SLOSCOPE_RETENTION_DAYS" => {
                    raw.storage.retention_days = value
                        .parse()
                        .map_err(|_| invalid(key, "expected a whole number of days"))?
                }
                "SLOSCOPE_TOKENS" => raw.auth.tokens = parse_token_list(value)?,
                _ => {}
            }
        }
        if let Some(data_dir) = &overrides.data_dir {
            raw.data_dir = data_dir.clone();
        }
        if let Some(address) = &overrides.otlp_grpc_addr {
            raw.listen.otlp_grpc = address.clone();
        }
        if let Some(address) = &overrides.otlp_http_addr {
            raw.listen.otlp_http = address.clone();
        }
        if let Some(address) = &overrides.http_addr {
            raw.listen.http = address.clone();
        }
        if let Some(directory) = &overrides.slo_dir {
            raw.slo.dir = Some(directory.clone());
        }
        raw.validate()
    }

    pub fn auth_enabled(&self) -> bool {
        !self.tokens.is_empty()
    }
}

/// `SLOSCOPE_TOKENS=secret1:ingest+read,secret2:admin`
fn parse_token_list(value: &str) -> Result<Vec<RawToken>, ConfigError> {
    let mut tokens = Vec::new();
    for entry in value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (token, scopes) = entry
            .rsplit_once(':')
            .ok_or_else(|| invalid("SLOSCOPE_TOKENS", "each entry is TOKEN:SCOPE[+SCOPE...]"))?;
        tokens.push(RawToken {
            token: token.to_owned(),
            scopes: scopes.split('+').map(str::to_owned).collect(),
        });
    }
    Ok(tokens)
}

fn parse_address(setting: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        invalid(
            setting,
            format!("`{text}` is not an address like 127.0.0.1:8080"),
        )
    })
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let backend = match self.storage.backend.as_str() {
            "embedded" => Backend::Embedded,
            "discard" => Backend::Discard,
            other => {
                return Err(invalid(
                    "storage.backend",
                    format!("`{other}` is neither \"embedded\" nor \"discard\""),
                ));
            }
        };
        let sync = match self.storage.sync.as_str() {
            "always" => SyncPolicy::Always,
            "interval" => {
                if self.storage.sync_interval_ms == 0 || self.storage.sync_interval_ms > 60_000 {
                    return Err(invalid(
                        "storage.sync_interval_ms",
                        "must be between 1 and 60000",
                    ));
                }
                SyncPolicy::Interval(Duration::from_millis(self.storage.sync_interval_ms))
            }
            other => {
                return Err(invalid(
                    "storage.sync",
                    format!("`{other}` is neither \"interval\" nor \"always\""),
                ));
            }
        };
        if self.ingest.max_request_bytes < 1024 {
            return Err(invalid("ingest.max_request_bytes", "must be at least 1024"));
        }
        if self.ingest.max_in_flight_bytes < self.ingest.max_request_bytes as u64 {
            return Err(invalid(
                "ingest.max_in_flight_bytes",
                "must be at least ingest.max_request_bytes",
            ));
        }
        if self.ingest.queue_capacity == 0 {
            return Err(invalid("ingest.queue_capacity", "must be at least 1"));
        }
        if self.ingest.operation_limit == 0 {
            return Err(invalid("ingest.operation_limit", "must be at least 1"));
        }
        if !(1..=3600).contains(&self.slo.evaluation_interval_secs) {
            return Err(invalid(
                "slo.evaluation_interval_secs",
                "must be between 1 and 3600",
            ));
        }
        if self.storage.retention_days == 0 {
            return Err(invalid("storage.retention_days", "must be at least 1"));
        }
        if self.storage.roll_rows == 0 || self.storage.roll_interval_secs == 0 {
            return Err(invalid(
                "storage.roll_rows",
                "rolls need at least one row and one second",
            ));
        }
        let mut tokens = Vec::new();
        for raw_token in self.auth.tokens {
            if raw_token.token.len() < 16 {
                return Err(invalid(
                    "auth.tokens",
                    "a token must have at least 16 characters",
                ));
            }
            let mut scopes = BTreeSet::new();
            for scope in &raw_token.scopes {
                scopes.insert(Scope::parse(scope).ok_or_else(|| {
                    invalid(
                        "auth.tokens.scopes",
                        format!("`{scope}` is not one of ingest, read, admin"),
                    )
                })?);
            }
            tokens.push(Token {
                secret: raw_token.token,
                scopes,
            });
        }
        let mut store = StoreConfig::new(self.data_dir);
        store.sync = sync;
        store.roll_rows = self.storage.roll_rows;
        store.roll_interval = Duration::from_secs(self.storage.roll_interval_secs);
        store.retention = Duration::from_secs(self.storage.retention_days * 24 * 3600);
        store.max_bytes = self.storage.max_bytes;
        store.queue_capacity = self.ingest.queue_capacity;
        store.operation_limit = self.ingest.operation_limit;
        Ok(Config {
            backend,
            otlp_grpc_addr: parse_address("listen.otlp_grpc", &self.listen.otlp_grpc)?,
            otlp_http_addr: parse_address("listen.otlp_http", &self.listen.otlp_http)?,
            http_addr: parse_address("listen.http", &self.listen.http)?,
            max_request_bytes: self.ingest.max_request_bytes,
            max_in_flight_bytes: self.ingest.max_in_flight_bytes,
            store,
            tokens,
            slo_dir: self.slo.dir,
            slo_interval: Duration::from_secs(self.slo.evaluation_interval_secs),
            incidents: IncidentSettings {
                recovery: Duration::from_secs(self.incidents.recovery_minutes * 60),
                window: Duration::from_secs(self.incidents.window_minutes.max(1) * 60),
                owners: self.incidents.owners,
            },
            notify: self.notify.validate().map_err(|error| match error {
                sloscope_notify::NotifyError::Invalid { setting, reason } => {
                    ConfigError::Invalid { setting, reason }
                }
                other => invalid("notify", other.to_string()),
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sloscope.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = Config::from_parts(Some((&path, &text)), &[], &Overrides::default()).unwrap();
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = Config::from_parts(
            Some((Path::new("x.toml"), "[storage]\nretention = 3\n")),
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("retention"), "{error}");
    }

    #[test]
    fn environment_and_flags_override_in_order() {
        let environment = vec![
            ("SLOSCOPE_HTTP_ADDR".to_owned(), "127.0.0.1:9000".to_owned()),
            (
                "SLOSCOPE_TOKENS".to_owned(),
                "abcdefghijklmnopqrstuvwxyz:read+ingest".to_owned(),
            ),
        ];
        let overrides = Overrides {
            otlp_http_addr: Some("127.0.0.1:5318".into()),
            ..Overrides::default()
        };
        let config = Config::from_parts(None, &environment, &overrides).unwrap();
        assert_eq!(config.http_addr.port(), 9000);
        assert_eq!(config.otlp_http_addr.port(), 5318);
        assert!(config.tokens[0].scopes.contains(&Scope::Ingest));
        assert!(
            Config::from_parts(
                None,
                &[("SLOSCOPE_TOKENS".into(), "short:read".into())],
                &Overrides::default()
            )
            .is_err()
        );
    }
}
