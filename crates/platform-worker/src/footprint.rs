//! The platform's own footprint: what each invocation of a platform worker cost in billed
//! operations, logged as one structured line (`"event":"footprint"`) after the handler ends.
//! `scripts/bench/run day` sums these lines over a simulated day; an operator can sum them from
//! the logs.

use std::cell::Cell;

use platform_kv::PlatformWorker;
use serde::Serialize;

thread_local! {
    static SUBREQUESTS: Cell<u32> = const { Cell::new(0) };
}

/// Counts one outbound request (Slack, GitHub, the Cloudflare API).
pub fn subrequest() {
    SUBREQUESTS.with(|n| n.set(n.get() + 1));
}

/// One invocation's footprint.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    pub event: &'static str,
    pub worker: &'static str,
    pub handler: &'static str,
    pub kv_reads: u32,
    pub kv_writes: u32,
    pub kv_deletes: u32,
    pub kv_lists: u32,
    pub d1_round_trips: u32,
    pub d1_rows_read: u64,
    pub d1_rows_written: u64,
    pub subrequests: u32,
}

impl Footprint {
    /// What this isolate used since the last footprint was taken.
    pub fn take(worker: PlatformWorker, handler: &'static str) -> Self {
        let kv = platform_kv::metered::take_isolate_counts();
        let d1 = platform_db::metered::take_isolate_counts();
        Self {
            event: "footprint",
            worker: worker.crate_name(),
            handler,
            kv_reads: kv.reads,
            kv_writes: kv.writes,
            kv_deletes: kv.deletes,
            kv_lists: kv.lists,
            d1_round_trips: d1.round_trips,
            d1_rows_read: d1.rows_read,
            d1_rows_written: d1.rows_written,
            subrequests: SUBREQUESTS.with(Cell::take),
        }
    }

    /// Logs the footprint of the invocation that just ended, unless it used nothing.
    pub fn log(worker: PlatformWorker, handler: &'static str) {
        let footprint = Self::take(worker, handler);
        let used = Self {
            event: footprint.event,
            worker: footprint.worker,
            handler: footprint.handler,
            ..Self::default()
        };
        if footprint != used {
            if let Ok(line) = serde_json::to_string(&footprint) {
                worker::console_log!("{line}");
            }
        }
    }
}
