//! Service level objectives as pure functions over plain data: event series that sum any
//! window in O(1), error budgets and burn rates as ratios of sums, multi-window multi-burn-rate
//! alert rules with their state machine.
//!
//! Where the events come from (signal rollups, metric queries) and where alerts go
//! (notifications) is the server's and the notifier's business.

pub mod alert;
pub mod budget;
pub mod evaluate;
pub mod indicator;
pub mod series;
pub mod spec;
pub mod timeslice;

pub use alert::{AlertPolicy, BurnRule, Phase, RuleState, Severity, Transition, WindowBurn};
pub use evaluate::{Evaluation, SloEvaluator};
pub use series::{EventSeries, Events};
