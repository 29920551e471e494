//! Cloudflare Access logins: the `Cf-Access-Jwt-Assertion` header verified against the team's
//! signing keys (fetched from its certs URL, kept an hour in the isolate, fetched again when a
//! token names a key not seen yet: keys rotate) and the configured application audience.

use platform_kv::IsolateCache;
use platform_notifications::jwt::{self, Jwk, JwtError};
use worker::{Env, Method};

use crate::crypto;

/// The team's domain, `<team>.cloudflareaccess.com`.
pub const TEAM_DOMAIN_VAR: &str = "ACCESS_TEAM_DOMAIN";
/// The Application Audience (AUD) tag of the Access application in front of the worker.
pub const AUDIENCE_VAR: &str = "ACCESS_AUD";
pub const HEADER: &str = "Cf-Access-Jwt-Assertion";

thread_local! {
    static KEYS: IsolateCache<String, Vec<Jwk>> = const { IsolateCache::new(3_600_000, 4) };
}

/// Why a login is refused.
pub enum Refusal {
    /// Access is not configured: the token cannot be checked.
    NotConfigured,
    Token(JwtError),
    /// The team's keys could not be read.
    Keys(String),
}

/// The verified email of an Access token.
pub async fn verify(env: &Env, token: &str, now_ms: u64) -> Result<String, Refusal> {
    let var = |name: &str| {
        env.var(name)
            .ok()
            .map(|v| v.to_string())
            .filter(|v| !v.trim().is_empty())
    };
    let (Some(team), Some(audience)) = (var(TEAM_DOMAIN_VAR), var(AUDIENCE_VAR)) else {
        return Err(Refusal::NotConfigured);
    };
    let parsed = jwt::parse(token).map_err(Refusal::Token)?;
    let email = jwt::check(&parsed.claims, &audience, &team, now_ms / 1000).map_err(Refusal::Token)?;
    let key = key(&team, &parsed.kid, now_ms).await?;
    match crypto::verify_rs256(&key, parsed.signing_input.as_bytes(), &parsed.signature).await {
        Ok(true) => Ok(email),
        Ok(false) => Err(Refusal::Token(JwtError::Signature)),
        Err(error) => Err(Refusal::Keys(format!(
            "verifying with key {}: {error}",
            parsed.kid
        ))),
    }
}

async fn key(team: &str, kid: &str, now_ms: u64) -> Result<Jwk, Refusal> {
    let find = |keys: &[Jwk]| keys.iter().find(|k| k.kid == kid).cloned();
    if let Some(found) = KEYS
        .with(|cache| cache.get(&team.to_owned(), now_ms))
        .and_then(|keys| find(&keys))
    {
        return Ok(found);
    }
    let keys = fetch_keys(team).await.map_err(Refusal::Keys)?;
    KEYS.with(|cache| cache.put(team.to_owned(), keys.clone(), now_ms));
    find(&keys).ok_or_else(|| Refusal::Token(JwtError::UnknownKey(kid.to_owned())))
}

async fn fetch_keys(team: &str) -> Result<Vec<Jwk>, String> {
    let url = jwt::certs_url(team);
    let headers = platform_worker::outbound::headers()?;
    let request = platform_worker::outbound::request(Method::Get, &url, headers, None)?;
    let mut response =
        platform_worker::outbound::send(request, platform_worker::outbound::TIMEOUT_MS).await?;
    let body = response.text().await.map_err(|e| e.to_string())?;
    if response.status_code() != 200 {
        return Err(format!("{url} answered {}", response.status_code()));
    }
    jwt::keys(&body).map_err(|e| format!("{url}: {e}"))
}
