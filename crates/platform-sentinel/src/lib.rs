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

use platform_core::handlers::HandlerSpec;

/// The sentinel's crons, as platform-usage holds them to in its `/health` (each watches the
/// other); the sentinel's declaration is tested to match.
pub const HANDLERS: [HandlerSpec; 2] = [
    HandlerSpec::every_minutes("detect", 60),
    HandlerSpec::every_minutes("watch", 5),
];

/// An hour in milliseconds.
pub const HOUR_MS: u64 = 3_600_000;
/// A day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;
