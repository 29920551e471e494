//! Who is calling a person's route: a verified Cloudflare Access login or a personal token, and
//! never the admin token, which manages people but is not one. Everything a person reads or
//! changes is keyed by the identity found here, never by anything the request names.

use platform_db::notifications::{self as inbox, Member};
use platform_notifications::token;
use platform_worker::auth;
use platform_worker::skeleton::Cx;
use platform_worker::ApiError;

use crate::access::{self, Refusal};
use crate::context::Context;
use crate::cookie;

/// The person making the request: 401 without credentials, 403 with ones that are not a
/// registered person's.
pub async fn person(cx: &Cx, context: &Context) -> Result<Member, ApiError> {
    let assertion = cx.req.headers().get(access::HEADER).ok().flatten();
    if let Some(assertion) = assertion {
        let email = access::verify(&cx.env, &assertion, cx.now)
            .await
            .map_err(|refusal| match refusal {
                Refusal::NotConfigured => ApiError::unauthorized(
                    "Cloudflare Access is not configured here (ACCESS_TEAM_DOMAIN, ACCESS_AUD): use a personal token",
                ),
                Refusal::Token(error) => ApiError::forbidden(error.to_string()),
                Refusal::Keys(detail) => ApiError {
                    detail: Some(detail),
                    ..ApiError::unavailable("the team's Access keys could not be read")
                },
            })?;
        return inbox::member_by_email(&context.db, &email)
            .await?
            .ok_or_else(|| ApiError::forbidden(format!("{email} is not a registered person")));
    }
    // The dashboard's sign-in cookie counts on the dashboard's own paths only, so no JSON route
    // can be driven by a browser's ambient credentials.
    let from_cookie = || {
        cx.req
            .path()
            .starts_with("/dashboard")
            .then(|| cookie::token(cx.req.headers().get("Cookie").ok().flatten()))
            .flatten()
    };
    let Some(presented) = auth::bearer(&cx.req).or_else(from_cookie) else {
        return Err(ApiError::unauthorized(
            "sign in through Cloudflare Access or present a personal token (Authorization: Bearer ntk_...)",
        ));
    };
    if token::is_personal(&presented) {
        return inbox::member_by_token(&context.db, &token::hash(&presented))
            .await?
            .ok_or_else(|| ApiError::forbidden("unknown or revoked personal token"));
    }
    if auth::is_admin_token(&cx.env, &presented) {
        return Err(ApiError::forbidden(
            "the admin token manages people but is not one: use a personal token or Cloudflare Access",
        ));
    }
    Err(ApiError::forbidden("not a personal token"))
}
