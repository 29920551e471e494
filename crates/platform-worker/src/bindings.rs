//! The bindings a worker needs, and whether the runtime gave them.

use serde::Serialize;
use worker::Env;

pub const PLATFORM_CACHE: &str = "PLATFORM_CACHE";
pub const PLATFORM_DB: &str = "PLATFORM_DB";
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";

/// A binding by kind and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Binding {
    Kv(&'static str),
    D1(&'static str),
    Queue(&'static str),
    Service(&'static str),
    Secret(&'static str),
    Var(&'static str),
    /// A Workers AI binding (`[ai] binding = ...`).
    Ai(&'static str),
}

impl Binding {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Kv(name)
            | Self::D1(name)
            | Self::Queue(name)
            | Self::Service(name)
            | Self::Secret(name)
            | Self::Var(name)
            | Self::Ai(name) => name,
        }
    }

    pub fn is_present(self, env: &Env) -> bool {
        match self {
            Self::Kv(name) => env.kv(name).is_ok(),
            Self::D1(name) => env.d1(name).is_ok(),
            Self::Queue(name) => env.queue(name).is_ok(),
            Self::Service(name) => env.service(name).is_ok(),
            Self::Secret(name) => env.secret(name).is_ok_and(|s| !s.to_string().is_empty()),
            Self::Var(name) => env.var(name).is_ok(),
            Self::Ai(name) => worker::js_sys::Reflect::get(env, &name.into()).is_ok_and(|b| b.is_object()),
        }
    }
}

/// The bindings every worker has: the shared namespace, the database and the admin token.
pub const COMMON: [Binding; 3] = [
    Binding::Kv(PLATFORM_CACHE),
    Binding::D1(PLATFORM_DB),
    Binding::Secret(ADMIN_TOKEN),
];
