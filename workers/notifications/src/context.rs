//! What every handler opens: the worker's store and database, and the person's state.

use platform_kv::families::NotificationPrefs;
use platform_kv::{Json, JsonObject, PlatformWorker, StoreError, TypedKey};
use platform_notifications::{Invalid, Person, Prefs};
use platform_worker::{ApiError, PlatformDb, PlatformStore};
use worker::Env;

pub const WORKER: PlatformWorker = PlatformWorker::Notifications;

pub struct Context {
    pub store: PlatformStore,
    pub db: PlatformDb,
}

impl Context {
    pub fn open(env: &Env) -> Result<Self, ApiError> {
        Ok(Self {
            store: platform_worker::store(env, WORKER)?,
            db: platform_worker::db(env, WORKER)?,
        })
    }

    /// The person's preferences; the defaults when they set none (or the stored value is not
    /// an object any more: one bad value must not lock its person out).
    pub async fn prefs(&self, user: &str) -> Result<Prefs, ApiError> {
        match self.store.get(&NotificationPrefs::key(user)?).await {
            Ok(stored) => Ok(Prefs::stored(stored.as_ref().map(|json| &json.0))),
            Err(StoreError::Value { key, error }) => {
                worker::console_warn!("{key} is not a preferences object ({error}): using the defaults");
                Ok(Prefs::default())
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl Context {
    /// The preferences of each of `people`, in their order, in bulk reads.
    pub async fn prefs_of(&self, people: &[&Person]) -> Result<Vec<Prefs>, ApiError> {
        let keys = people
            .iter()
            .map(|person| NotificationPrefs::key(&person.id))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&dyn TypedKey<Value = Json<JsonObject>>> =
            keys.iter().map(|key| key as &dyn TypedKey<Value = _>).collect();
        let values = self.store.get_bulk(&refs).await?;
        Ok(values
            .into_iter()
            .map(|value| match value {
                Ok(stored) => Prefs::stored(stored.as_ref().map(|json| &json.0)),
                Err(error) => {
                    worker::console_warn!("{error}: using the default preferences");
                    Prefs::default()
                }
            })
            .collect())
    }
}

/// A refused field as the 400 that names it.
pub fn bad_request(invalid: Invalid) -> ApiError {
    ApiError::bad_request(invalid.to_string())
}
