//! Alert notifications: the last stage of the pipeline, after the SLO evaluator has decided
//! that an alert fires or clears. This crate answers "who hears about it, in which format,
//! and how sure are we that they did":
//!
//! - [`payload`]: pure builders for a generic JSON webhook, a Slack incoming webhook,
//!   PagerDuty Events API v2 and the Alertmanager webhook payload (version 4);
//! - [`Router`]: which channels an alert goes to, by severity and labels, first match wins
//!   unless a route says `continue`, as in Alertmanager;
//! - [`Notifier`]: one delivery thread per channel behind a bounded queue that never blocks
//!   the caller, with exponential backoff and full jitter (honouring `Retry-After`),
//!   deduplication per channel, and a resolved message only after a delivered firing one;
//! - [`NotifyConfig`]: the server's `[notify]` TOML section, validated into
//!   [`NotifySettings`]. URLs, routing keys and header values are [`Secret`]s that print as
//!   `***` everywhere: in `{:?}`, in serialized config, in logs and in API answers
//!   ([`ChannelSummary`] shows only the host).
//!
//! Deciding when an alert fires, inhibiting tickets under a page and grouping are the
//! evaluator's job; this crate sends exactly the alerts it is given, once each.

mod alert;
mod config;
mod dedup;
mod notifier;
pub mod payload;
mod retry;
mod router;
mod secret;
mod transport;

pub use alert::{Alert, AlertStatus, Severity};
pub use config::{
    Channel, ChannelConfig, ChannelKind, ChannelSummary, Destination, NotifyConfig, NotifyError,
    NotifySettings, PAGERDUTY_EVENTS_URL, RouteConfig,
};
pub use notifier::{ChannelStats, Clock, Notifier, SystemClock};
pub use retry::RetryPolicy;
pub use router::Router;
pub use secret::{REDACTED, Secret};
pub use transport::{
    CONNECT_TIMEOUT, HttpReply, HttpTransport, OutgoingRequest, TOTAL_TIMEOUT, Transport,
    TransportError,
};
