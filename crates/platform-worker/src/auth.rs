//! Admin authentication: a bearer token compared with the `ADMIN_TOKEN` secret in constant time.

use sha2::{Digest, Sha256};
use worker::{Env, Request};

use crate::bindings::ADMIN_TOKEN;
use crate::response::ApiError;

/// Refuses the request unless it carries `Authorization: Bearer <ADMIN_TOKEN>`: 401 without a
/// token, 403 with a wrong one, 503 when the secret is not configured (fail closed).
pub fn require_admin(req: &Request, env: &Env) -> Result<(), ApiError> {
    let expected = env
        .secret(ADMIN_TOKEN)
        .map(|secret| secret.to_string())
        .ok()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::unavailable("admin routes are disabled: the ADMIN_TOKEN secret is not set")
        })?;
    let header = req.headers().get("Authorization").ok().flatten();
    let presented = header
        .as_deref()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    if tokens_match(presented, &expected) {
        Ok(())
    } else {
        Err(ApiError::forbidden("wrong bearer token"))
    }
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
