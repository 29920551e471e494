//! The sentinel's detection rules, pure: time arrives as a value, history as plain data, and each
//! rule answers what is wrong now. [`incident`] turns those findings into one alert when a
//! condition begins and one recovery when it ends; [`silences`] decides which alerts are held back.

pub mod anomaly;
pub mod cadence;
pub mod gaps;
pub mod heartbeat;
pub mod incident;
pub mod pricing;
pub mod silences;
pub mod watch;

pub use incident::{Finding, IncidentKind};

/// An hour in milliseconds.
pub const HOUR_MS: u64 = 3_600_000;
/// A day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;
