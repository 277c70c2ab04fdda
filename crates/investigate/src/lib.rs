//! Investigations: what explains a breach. For now the log template miner behind the
//! error-pattern probe, which finds the log templates that appeared or grew in an incident
//! window against a baseline window.
//!
//! The miner is pure (no I/O, no clock, deterministic): fetching the log messages of a window
//! is the store's business, ranking the findings against other probes the ranker's.

pub mod templates;

pub use templates::{
    CompareConfig, ConfigError, MinerConfig, PatternChange, Template, TemplateId, TemplateMiner,
    WILDCARD, compare, compare_with, grouping_accuracy,
};
