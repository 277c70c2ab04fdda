//! The sloscope server: wires the pipeline of DESIGN.md. It opens the store, builds the ingest
//! stage around it, and serves the OTLP receivers (gRPC and HTTP) and the query API on their
//! listeners until shutdown. Decoding and derivation are `sloscope-ingest`'s, persistence is
//! `sloscope-store`'s; this crate only moves data between them and speaks the protocols.

mod alerts;
mod api;
mod auth;
mod changes;
pub mod config;
mod error;
mod incidents;
mod investigation_api;
mod investigations;
mod otlp_grpc;
mod otlp_http;
mod pipeline;
mod signals;
mod slo_api;
pub mod slos;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sloscope_store::{DiscardStore, EmbeddedStore, Store};
use thiserror::Error;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use config::{Config, ConfigError, Overrides};

/// The wall clock in unix nanoseconds (0 before 1970, which no clock here is).
pub(crate) fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot open the store in {path}: {source}")]
    Store {
        path: String,
        source: sloscope_store::StoreError,
    },
    #[error("cannot listen on {address} ({what}): {source}")]
    Bind {
        address: SocketAddr,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{what} server failed: {message}")]
    Server { what: &'static str, message: String },
}

/// The addresses actually bound (useful when a port was 0).
#[derive(Clone, Debug)]
pub struct Bound {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub http: SocketAddr,
}

async fn bind(address: SocketAddr, what: &'static str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind {
            address,
            what,
            source,
        })
}

/// Opens the store and serves until `shutdown` resolves; `on_ready` is told the bound addresses.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Bound),
) -> Result<(), ServeError> {
    let data_dir = config.store.data_dir.display().to_string();
    let store_config = config.store.clone();
    let shared_store: Arc<dyn Store> = match config.backend {
        config::Backend::Embedded => {
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(store_config))
                .await
                .map_err(|error| ServeError::Server {
                    what: "store",
                    message: error.to_string(),
                })?
                .map_err(|source| ServeError::Store {
                    path: data_dir,
                    source,
                })?;
            Arc::new(store)
        }
        config::Backend::Discard => {
            warn!(
                "storage backend is \"discard\": signals are derived but nothing is kept (benchmarks only)"
            );
            Arc::new(DiscardStore::new(config.store.operation_limit))
        }
    };
    let store = shared_store.clone();
    let ingestor = Arc::new(pipeline::Ingestor::new(
        shared_store.clone(),
        config.max_in_flight_bytes,
    ));
    let authenticator = Arc::new(auth::Authenticator::new(config.tokens.clone()));

    let grpc_listener = bind(config.otlp_grpc_addr, "OTLP gRPC").await?;
    let http_listener = bind(config.otlp_http_addr, "OTLP HTTP").await?;
    let api_listener = bind(config.http_addr, "API").await?;
    let bound = Bound {
        otlp_grpc: grpc_listener
            .local_addr()
            .map_err(|source| ServeError::Bind {
                address: config.otlp_grpc_addr,
                what: "OTLP gRPC",
                source,
            })?,
        otlp_http: http_listener
            .local_addr()
            .map_err(|source| ServeError::Bind {
                address: config.otlp_http_addr,
                what: "OTLP HTTP",
                source,
            })?,
        http: api_listener
            .local_addr()
            .map_err(|source| ServeError::Bind {
                address: config.http_addr,
                what: "API",
                source,
            })?,
    };
    let exposed = [bound.otlp_grpc, bound.otlp_http, bound.http]
        .iter()
        .any(|address| !address.ip().is_loopback());
    if exposed && !authenticator.enabled() {
        warn!(
            "listening on a non-loopback address with NO bearer token configured: anyone who can reach this host can write and read telemetry; set [auth] tokens or SLOSCOPE_TOKENS"
        );
    }

    let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
    let stopped = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };

    let grpc = tonic::transport::Server::builder()
        .add_service(otlp_grpc::OtlpService::<otlp_grpc::Traces>::new(
            ingestor.clone(),
            authenticator.clone(),
            config.max_request_bytes,
        ))
        .add_service(otlp_grpc::OtlpService::<otlp_grpc::Metrics>::new(
            ingestor.clone(),
            authenticator.clone(),
            config.max_request_bytes,
        ))
        .add_service(otlp_grpc::OtlpService::<otlp_grpc::Logs>::new(
            ingestor.clone(),
            authenticator.clone(),
            config.max_request_bytes,
        ))
        .serve_with_incoming_shutdown(
            tokio_stream_listener(grpc_listener),
            stopped(stop_receiver.clone()),
        );
    let otlp_http_app = otlp_http::router(
        ingestor.clone(),
        authenticator.clone(),
        config.max_request_bytes,
    );
    let http = axum::serve(http_listener, otlp_http_app)
        .with_graceful_shutdown(stopped(stop_receiver.clone()));
    let notifier =
        sloscope_notify::Notifier::start(&config.notify).map_err(|error| ServeError::Server {
            what: "notifier",
            message: error.to_string(),
        })?;
    let external_url = config
        .notify
        .external_url()
        .map(str::to_owned)
        .or_else(|| Some(format!("http://{}", bound.http)));
    let notifier_sink = Arc::new(alerts::NotifierSink::new(notifier, external_url));
    let (incident_sink, incident_inbox) = incidents::channel();
    let sinks = alerts::Sinks(vec![
        Arc::new(slos::LogSink),
        notifier_sink.clone(),
        incident_sink,
    ]);
    let slos = Arc::new(slos::SloEngine::new(
        shared_store.clone(),
        &config.store.data_dir,
        config.slo_dir.clone(),
        Some(Arc::new(sinks)),
    ));
    slos.clone().spawn(config.slo_interval);
    let investigations = Arc::new(investigations::Investigations::open(&config.store.data_dir));
    let changes = Arc::new(changes::Changes::open(&config.store.data_dir));
    let incidents = Arc::new(incidents::Incidents::open(&config.store.data_dir));
    incidents::IncidentWorker {
        incidents: incidents.clone(),
        investigations: investigations.clone(),
        changes: changes.clone(),
        store: shared_store.clone(),
        settings: config.incidents.clone(),
        tick: config.slo_interval.min(Duration::from_secs(10)),
    }
    .spawn(
        incident_inbox,
        slos.clone(),
        notifier_sink.notifier().channel_summaries().len(),
    );
    let api_app = api::router(api::ApiState {
        store: shared_store,
        ingestor,
        authenticator,
        slos,
        notifications: notifier_sink,
        investigations,
        changes,
        incidents,
    });
    let api = axum::serve(api_listener, api_app).with_graceful_shutdown(stopped(stop_receiver));

    on_ready(&bound);
    info!(otlp_grpc = %bound.otlp_grpc, otlp_http = %bound.otlp_http, api = %bound.http, "serving");
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    });
    let (grpc_result, http_result, api_result) =
        tokio::join!(grpc, http.into_future(), api.into_future());
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .ok();
    grpc_result.map_err(|error| ServeError::Server {
        what: "OTLP gRPC",
        message: error.to_string(),
    })?;
    http_result.map_err(|error| ServeError::Server {
        what: "OTLP HTTP",
        message: error.to_string(),
    })?;
    api_result.map_err(|error| ServeError::Server {
        what: "API",
        message: error.to_string(),
    })?;
    Ok(())
}

/// Accepted connections of a bound listener as the stream tonic serves from.
fn tokio_stream_listener(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    tokio_stream::wrappers::TcpListenerStream::new(listener)
}
