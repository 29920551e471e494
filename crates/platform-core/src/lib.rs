//! Pure domain types shared by every platform worker.
//!
//! Nothing here touches the Workers runtime: time is passed in as milliseconds since the Unix epoch,
//! so everything is testable natively with `cargo test`.

pub mod account;
pub mod alert;
pub mod breaker;
pub mod budget;
pub mod budgets;
pub mod config;
pub mod dead_letter;
pub mod feature;
pub mod handlers;
pub mod json;
pub mod limits;
pub mod metric;
pub mod outbound_url;
pub mod pricing;
#[cfg(test)]
mod properties;
pub mod services;
pub mod settings;
pub mod sorted;
pub mod telemetry;
pub mod thresholds;
pub mod time;
pub mod usage;

pub use feature::{FeatureKey, FeatureKeyError, ProjectId};
pub use limits::{Limit, MetricLimits};
pub use metric::Metric;
pub use time::{EpochMs, UtcDay, UtcHour, UtcMonth};
