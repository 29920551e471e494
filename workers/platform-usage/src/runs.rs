//! The handlers platform-usage stamps in `handler_runs`, for `/health` and the platform's watch.

use platform_core::handlers::HandlerSpec;

pub const TELEMETRY: HandlerSpec = HandlerSpec::event_driven("telemetry");
pub const DEAD_LETTERS: HandlerSpec = HandlerSpec::event_driven("dead-letters");
pub const SWEEP: HandlerSpec = HandlerSpec::every_minutes("sweep", 5);
pub const RECONCILE: HandlerSpec = HandlerSpec::every_minutes("reconcile", 60);
pub const HANDLERS: &[HandlerSpec] = &[TELEMETRY, DEAD_LETTERS, SWEEP, RECONCILE];
