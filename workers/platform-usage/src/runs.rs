//! The handlers platform-usage stamps in `handler_runs`, for `/health` and the platform's watch.

use platform_core::handlers::HandlerSpec;

pub const TELEMETRY: HandlerSpec = HandlerSpec {
    name: "telemetry",
    every_ms: None,
};
pub const DEAD_LETTERS: HandlerSpec = HandlerSpec {
    name: "dead-letters",
    every_ms: None,
};
pub const SWEEP: HandlerSpec = HandlerSpec {
    name: "sweep",
    every_ms: Some(5 * 60_000),
};
pub const RECONCILE: HandlerSpec = HandlerSpec {
    name: "reconcile",
    every_ms: Some(60 * 60_000),
};
pub const HANDLERS: &[HandlerSpec] = &[TELEMETRY, DEAD_LETTERS, SWEEP, RECONCILE];
