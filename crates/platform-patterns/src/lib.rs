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
