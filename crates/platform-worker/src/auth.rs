//! Admin authentication: a bearer token compared with the `ADMIN_TOKEN` secret in constant time.

use sha2::{Digest, Sha256};
use worker::{Env, Request};

use crate::bindings::ADMIN_TOKEN;
use crate::response::ApiError;

/// Refuses the request unless it carries `Authorization: Bearer <ADMIN_TOKEN>`: 401 without a
/// token, 403 with a wrong one, 503 when the secret is not configured (fail closed).
pub fn require_admin(req: &Request, env: &Env) -> Result<(), ApiError> {
    require_bearer(req, env, ADMIN_TOKEN)
}

/// Refuses the request unless it carries `Authorization: Bearer <secret>` for the secret named
/// `secret`, as [`require_admin`] does for `ADMIN_TOKEN`.
pub fn require_bearer(req: &Request, env: &Env, secret: &str) -> Result<(), ApiError> {
    let expected = configured(env, secret).ok_or_else(|| {
        ApiError::unavailable(format!("this route is disabled: the {secret} secret is not set"))
    })?;
    let presented = bearer(req).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    if tokens_match(&presented, &expected) {
        Ok(())
    } else {
        Err(ApiError::forbidden("wrong bearer token"))
    }
}

/// The secret named `name`, when it is set and not empty.
pub fn configured(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|secret| secret.to_string())
        .ok()
        .filter(|token| !token.is_empty())
}

/// The request's bearer token, if it has one.
pub fn bearer(req: &Request) -> Option<String> {
    let header = req.headers().get("Authorization").ok().flatten()?;
    header.strip_prefix("Bearer ").map(str::to_owned)
}

/// Whether `presented` is the admin token (compared in constant time).
pub fn is_admin_token(env: &Env, presented: &str) -> bool {
    configured(env, ADMIN_TOKEN).is_some_and(|expected| tokens_match(presented, &expected))
}

/// Compares digests so that neither the content nor the length of the secret leaks through timing.
fn tokens_match(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::tokens_match;

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cret", "s3cret "));
        assert!(!tokens_match("", "s3cret"));
    }
}
