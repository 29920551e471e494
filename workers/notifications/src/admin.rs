//! The admin's routes: registering and removing people, issuing and revoking their personal
//! tokens. A token is shown once, in the answer that issues it; only its hash is stored.

use platform_core::time::iso8601;
use platform_db::notifications as inbox;
use platform_kv::families::{NotificationCount, NotificationPrefs};
use platform_notifications::fields::{Fields, Invalid};
use platform_notifications::people::{self, Person};
use platform_notifications::token;
use platform_worker::ApiError;
use serde_json::{json, Value};
use worker::Env;

use crate::context::{bad_request, Context};
use crate::crypto;

const LABEL_MAX: usize = 100;

pub async fn list(env: &Env) -> Result<Value, ApiError> {
    let context = Context::open(env)?;
    let people: Vec<Value> = inbox::people(&context.db)
        .await?
        .iter()
        .map(|m| m.person.to_json())
        .collect();
    Ok(json!({ "people": people }))
}

pub async fn add(env: &Env, body: &Value, now: u64) -> Result<Value, ApiError> {
    let person = Person::from_json(body).map_err(bad_request)?;
    let context = Context::open(env)?;
    if !inbox::add_person(&context.db, &person, now).await? {
        return Err(ApiError::new(
            409,
            format!(
                "a person with id {} or the same email is registered already",
                person.id
            ),
        ));
    }
    Ok(json!({ "person": person.to_json() }))
}

async fn existing(context: &Context, raw_id: &str) -> Result<String, ApiError> {
    let id = people::user_id(raw_id).map_err(bad_request)?;
    match inbox::member(&context.db, &id).await? {
        Some(_) => Ok(id),
        None => Err(ApiError::not_found(format!("no person {id}"))),
    }
}

/// Removes the person, revokes their tokens and forgets their cached count and preferences (their
/// read keys expire on their own).
pub async fn remove(env: &Env, raw_id: &str, now: u64) -> Result<Value, ApiError> {
    let context = Context::open(env)?;
    let id = existing(&context, raw_id).await?;
    inbox::remove_person(&context.db, &id, now).await?;
    context.store.delete(&NotificationCount::key(&id)?).await?;
    context.store.delete(&NotificationPrefs::key(&id)?).await?;
    Ok(json!({ "removed": id }))
}

pub async fn tokens(env: &Env, raw_id: &str) -> Result<Value, ApiError> {
    let context = Context::open(env)?;
    let id = existing(&context, raw_id).await?;
    let tokens: Vec<Value> = inbox::tokens(&context.db, &id)
        .await?
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "label": t.label,
                "created_at": iso8601(t.created_at),
                "revoked_at": t.revoked_at.map(iso8601),
            })
        })
        .collect();
    Ok(json!({ "user": id, "tokens": tokens }))
}

/// Issues a token (`{"label": "..."}`, optional).
pub async fn issue(env: &Env, raw_id: &str, body: &Value, now: u64) -> Result<Value, ApiError> {
    let label = Fields::of(body, "body")
        .and_then(|fields| {
            fields.only(&["label"])?;
            fields.optional_text("label", LABEL_MAX)
        })
        .map_err(bad_request)?;
    let context = Context::open(env)?;
    let id = existing(&context, raw_id).await?;
    let random = crypto::random::<{ token::RANDOM_BYTES }>()
        .await
        .map_err(|e| ApiError::internal("drawing a token", e))?;
    let secret = token::format(&random);
    let hash = token::hash(&secret);
    let token_id = token::id(&hash);
    context
        .db
        .run(
            "issuing a token",
            inbox::add_token(&hash, &token_id, &id, label.as_deref(), now),
        )
        .await?;
    Ok(json!({
        "user": id,
        "id": token_id,
        "label": label,
        "token": secret,
        "note": "shown once: only its hash is stored",
    }))
}

pub async fn revoke(env: &Env, raw_id: &str, token_id: &str, now: u64) -> Result<Value, ApiError> {
    let context = Context::open(env)?;
    let id = existing(&context, raw_id).await?;
    if token_id.len() > 64 || !token_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_request(Invalid::new(
            "token",
            "must be a token id from the token list",
        )));
    }
    if !inbox::revoke_token(&context.db, &id, token_id, now).await? {
        return Err(ApiError::not_found(format!("{id} has no live token {token_id}")));
    }
    Ok(json!({ "user": id, "revoked": token_id }))
}
