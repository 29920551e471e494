//! The dashboard's responses: HTML under a strict Content-Security-Policy (nothing but this
//! worker's own stylesheet may load, no script at all, forms post only here, no framing), never
//! cached; the stylesheet cached for a year under its versioned path.

use platform_worker::skeleton::Reply;
use platform_worker::ApiError;
use worker::Response;

use crate::cookie::COOKIE;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn failed(e: worker::Error) -> ApiError {
    ApiError::internal("writing the page", e)
}

fn secured(mut response: Response) -> Reply {
    let headers = response.headers_mut();
    for (name, value) in [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ] {
        headers.set(name, value).map_err(failed)?;
    }
    Ok(response)
}

pub fn html(status: u16, body: String) -> Reply {
    let mut response = Response::from_html(body).map_err(failed)?.with_status(status);
    response
        .headers_mut()
        .set("Cache-Control", "no-store")
        .map_err(failed)?;
    secured(response)
}

pub fn style(css: &'static str) -> Reply {
    let mut response = Response::ok(css).map_err(failed)?;
    let headers = response.headers_mut();
    headers
        .set("Content-Type", "text/css; charset=utf-8")
        .map_err(failed)?;
    headers
        .set("Cache-Control", "public, max-age=31536000, immutable")
        .map_err(failed)?;
    secured(response)
}

/// 303 to `location`, optionally setting (`Some(token)`) or clearing (`Some("")`) the cookie.
pub fn redirect(location: &str, cookie: Option<&str>) -> Reply {
    let mut response = Response::empty().map_err(failed)?.with_status(303);
    let headers = response.headers_mut();
    headers.set("Location", location).map_err(failed)?;
    headers.set("Cache-Control", "no-store").map_err(failed)?;
    if let Some(token) = cookie {
        let age = if token.is_empty() { 0 } else { 43_200 };
        headers
            .set(
                "Set-Cookie",
                &format!(
                    "{COOKIE}={token}; Path=/dashboard; Max-Age={age}; HttpOnly; Secure; SameSite=Strict"
                ),
            )
            .map_err(failed)?;
    }
    secured(response)
}
