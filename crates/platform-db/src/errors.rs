//! The error collector's tables: the fingerprint record (`error_fingerprints`: counts added per
//! tail batch, the atomic claim of each GitHub issue, its outcome and retry schedule, the caps'
//! counts), the issues filed once per project and day (`error_daily_issues`) and the collector's
//! own facts for `/health` (`error_collector_state`), and the GitHub webhook deliveries applied
//! (`github_webhook_deliveries`).

pub mod daily;
pub mod deliveries;
pub mod fingerprints;
pub mod listing;
pub mod state;
pub mod tail_scripts;

pub use daily::{DailyIssue, DailyKind};
pub use fingerprints::{Changed, Created, Fingerprint, Status};
pub use listing::{Filter, Listed, Summary, Warning};
pub use state::{CollectorState, Fact, FactKey};
