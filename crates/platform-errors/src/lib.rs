//! The error collector's domain, free of the Workers runtime: what a tail event says, how an error
//! is named (normalised message, transient category, fingerprint), how urgent it is, what may be
//! shown of it (redaction), and the text of its GitHub issue. Tested natively.

pub mod capture;
pub mod deferred;
pub mod event;
pub mod fingerprint;
pub mod lifecycle;
pub mod milestone;
pub mod normalize;
pub mod patterns;
pub mod priority;
pub mod redact;
pub mod render;
pub mod sightings;
pub mod transient;
pub mod webhook;

pub use capture::{aggregate, capture, Aggregate, Occurrence, ScriptInfo, UNKNOWN_SCRIPT, UNMAPPED_PROJECT};
pub use event::{ErrorKind, TailEvent};
pub use priority::Priority;
