//! Pattern discovery's domain, free of the Workers runtime: the stored errors it learns from
//! ([`corpus`]), message templates mined from them ([`mining`]), the transient signal that makes a
//! template a candidate ([`signal`]), the narrowest rule of the DSL that covers a template
//! ([`synth`]), the checks every rule passes before it runs ([`safety`]), one discovery run
//! ([`discovery`]), the optional model's answer read by cluster id ([`ai`]) and the lifecycle
//! from suggestion to approved cache ([`lifecycle`]). Time is passed in; everything is tested
//! natively.

pub mod ai;
pub mod corpus;
pub mod discovery;
pub mod lifecycle;
pub mod mining;
pub mod safety;
pub mod signal;
pub mod synth;

pub use corpus::StoredError;
pub use lifecycle::{Status, Thresholds};
pub use platform_errors::patterns::RuleType;
pub use synth::Rule;

/// Milliseconds in a UTC day.
pub const DAY_MS: u64 = 86_400_000;

/// A stable 64-bit digest of `text` (FNV-1a) as 16 hex digits: ids that stay the same for the same
/// rule or template, without a cryptographic hash in the wasm (nothing here is adversarial: a
/// collision could only make two rules share a row, and the rule is stored beside its id).
pub(crate) fn digest(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}
