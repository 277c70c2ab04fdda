//! Service level objectives as pure functions over plain data: event series that sum any
//! window in O(1), error budgets and burn rates as ratios of sums, multi-window multi-burn-rate
//! alert rules with their state machine.
//!
//! Where the events come from (signal rollups, metric queries) and where alerts go
//! (notifications) is the server's and the notifier's business.

pub mod alert;
pub mod backtest;
pub mod budget;
pub mod cron;
pub mod evaluate;
pub mod import;
pub mod indicator;
pub mod instance;
pub mod parse;
pub mod series;
pub mod spec;
pub mod timeslice;

pub use alert::{AlertPolicy, BurnRule, Phase, RuleState, Severity, Transition, WindowBurn};
pub use cron::{Cron, CronError, ExclusionSchedule, excluded};
pub use evaluate::{Evaluation, SloEvaluator};
pub use import::{ImportReport, import};
pub use parse::{SpecError, SpecErrors, parse_specs, to_yaml, validate_dir};
pub use series::{EventSeries, Events};
