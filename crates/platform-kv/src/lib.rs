//! The `PLATFORM_CACHE` keyspace as code.
//!
//! Every key the platform reads or writes belongs to a *family* declared once in [`families`], with
//! its pattern, expiry policy, the workers allowed to write it, its value type and its purpose. Keys
//! are only made by the families' typed constructors, values only go through their declared type,
//! and a worker's [`Store`] refuses to write a family it does not own. `docs/kv-keys.md` is
//! generated from the same registry ([`docs::render`]).

pub mod classify;
pub mod docs;
pub mod families;
pub mod isolate;
pub mod key;
pub mod kv;
pub mod memory;
pub mod metered;
pub mod primitives;
pub mod spec;
pub mod store;
pub mod value;
#[cfg(feature = "workers")]
pub mod workers;

pub use families::REGISTRY;
pub use isolate::{IsolateCache, IsolateCell};
pub use key::{Family, Key, KeyError, KeyPrefix, Part, TypedKey};
pub use kv::{Expiration, Kv, KvError, ListPage, ListedKey, PutOptions, Stored};
pub use memory::{block_on, ManualClock, MemoryKv};
pub use metered::{Metered, OpCounts};
pub use spec::{PlatformWorker, Spec, Subsystem, Ttl, ValueFormat, Writers};
pub use store::{Clock, Store, StoreError};
pub use value::{
    BreakerSignal, Json, JsonArray, JsonObject, KvValue, LockRecord, ProjectState, SamplingMode, Timestamp,
    ValueError,
};
