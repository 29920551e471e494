//! The fingerprint record as the collector uses it (`platform_db::errors`), and the retry
//! schedule of creations GitHub refused or the limits deferred.

use std::future::Future;
use std::pin::Pin;

use platform_errors::lifecycle::backoff_ms;
use platform_worker::{ApiError, PlatformDb};

pub use platform_db::errors::{
    fingerprints, listing, state, DailyIssue, DailyKind, FactKey, Fingerprint, Status,
};

/// A failed or deferred creation, retried at `retry_at` (when GitHub or a limit said) or after a
/// backoff, by a later batch or the retry cron. `count_attempt` is false when nothing was tried.
/// Boxed: its many call sites share one copy.
pub fn creation_failed<'a>(
    db: &'a PlatformDb,
    row: &'a Fingerprint,
    error: &'a str,
    retry_at: Option<u64>,
    count_attempt: bool,
    now: u64,
) -> Pin<Box<dyn Future<Output = Result<(), ApiError>> + 'a>> {
    Box::pin(async move {
        let attempts = row.attempts + u64::from(count_attempt);
        let next = retry_at.unwrap_or(now + backoff_ms(attempts.max(1)));
        Ok(fingerprints::retry_later(db, &row.fingerprint, attempts, next, error).await?)
    })
}
