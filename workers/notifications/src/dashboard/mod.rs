//! The operator's dashboard, served by this worker because it already knows the people and how
//! they prove who they are (Cloudflare Access or a personal token): the same identity as the
//! inbox, with the `admin` role for actions. Pages are rendered here from the other workers'
//! admin routes, read through service bindings ([`upstream`]), and the usage ledger
//! ([`ledger`]); rendering itself is the pure `platform_dashboard` crate. docs/dashboard.md.

mod ledger;
mod respond;
mod upstream;

use platform_dashboard::action::{Action, CONFIG, ERRORS, PATTERNS, SENTINEL, USAGE};
use platform_dashboard::layout::{self, Viewer, PAGES};
use platform_dashboard::{csrf, pages};
use platform_db::notifications as people;
use platform_notifications::token;
use platform_worker::auth;
use platform_worker::bindings::ADMIN_TOKEN;
use platform_worker::skeleton::{Cx, Reply};
use platform_worker::ApiError;

use crate::context::Context;
use crate::{identity, inbox};

/// The role that may act from the dashboard.
pub const ADMIN_ROLE: &str = "admin";

/// The signed-in person, or the refusal page (401 without credentials, 403 with wrong ones).
async fn viewer(cx: &Cx) -> Result<Viewer, Reply> {
    let refuse = |error: ApiError| Err(respond::html(error.status, layout::refusal(&error.message)));
    let context = match Context::open(&cx.env) {
        Ok(context) => context,
        Err(error) => return Err(Err(error)),
    };
    match identity::person(cx, &context).await {
        Ok(member) => {
            let person = member.person;
            let secret = auth::configured(&cx.env, ADMIN_TOKEN).unwrap_or_default();
            Ok(Viewer {
                admin: person.role == ADMIN_ROLE,
                csrf: csrf::token(secret.as_bytes(), &person.id, cx.now),
                label: person.label().to_owned(),
                id: person.id,
            })
        }
        Err(error) if error.status < 500 => refuse(error),
        Err(error) => Err(Err(error)),
    }
}

macro_rules! signed_in {
    ($cx:expr) => {
        match viewer(&$cx).await {
            Ok(viewer) => viewer,
            Err(refusal) => return refusal,
        }
    };
}

/// `GET /dashboard` and `GET /dashboard/{page}`.
pub async fn page(cx: Cx) -> Reply {
    let viewer = signed_in!(cx);
    let name = match cx.param("page") {
        "" => "overview",
        name => name,
    };
    let Some((path, title)) = PAGES.iter().find(|(path, _)| *path == name) else {
        let message = format!("there is no page {name:?}: pick one from the navigation");
        return respond::html(404, layout::problem(&viewer, "No such page", &message));
    };
    let env = &cx.env;
    let body = match *path {
        "overview" => {
            let cost = upstream::get(env, USAGE, "/cost?period=month", true).await;
            let status = upstream::get(env, USAGE, "/status", false).await;
            let gaps = upstream::get(env, SENTINEL, "/gaps", false).await;
            let anomalies = upstream::get(env, SENTINEL, "/anomalies", false).await;
            let ledger = month(&cx).await;
            pages::overview::render(&pages::overview::Overview {
                cost: &cost,
                status: &status,
                gaps: &gaps,
                anomalies: &anomalies,
                ledger: &ledger,
            })
        }
        "budgets" => {
            let status = upstream::get(env, USAGE, "/status", false).await;
            pages::budgets::render(&viewer, &status, &month(&cx).await)
        }
        "usage" => pages::usage::render(&month(&cx).await),
        "errors" => pages::errors::render(
            &viewer,
            &upstream::get(env, ERRORS, "/errors?limit=100", false).await,
        ),
        "anomalies" => pages::incidents::render(
            &upstream::get(env, SENTINEL, "/gaps", false).await,
            &upstream::get(env, SENTINEL, "/anomalies", false).await,
        ),
        "patterns" => {
            pages::patterns::render(&viewer, &upstream::get(env, PATTERNS, "/patterns", false).await)
        }
        "inbox" => pages::inbox::render(&inbox::list(&cx).await.map_err(|e| e.message)),
        _ => {
            let mut reports = Vec::new();
            for (name, binding) in [
                ("platform-usage", USAGE),
                ("platform-error-collector", ERRORS),
                ("platform-sentinel", SENTINEL),
                ("platform-pattern-discovery", PATTERNS),
                ("platform-sync-config", CONFIG),
            ] {
                reports.push((name, upstream::health(env, binding).await));
            }
            let own = cx.worker.health(env, cx.now).await;
            let own = serde_json::to_value(&own).map_err(|e| e.to_string());
            reports.insert(0, ("platform-notifications", own));
            pages::health::render(&reports)
        }
    };
    let flash = done(&cx);
    respond::html(200, layout::page(title, path, &viewer, flash.as_deref(), &body))
}

async fn month(cx: &Cx) -> Result<platform_dashboard::data::Ledger, String> {
    let context = Context::open(&cx.env).map_err(|e| e.message)?;
    ledger::month(&context, cx.now).await.map_err(|e| e.log_message())
}

/// The flash after an action: named by the action, never text from the request.
fn done(cx: &Cx) -> Option<String> {
    let name = cx.query("done").ok().flatten()?;
    let target = cx.query("target").ok().flatten().unwrap_or_default();
    let (question, _) = Action::parse(&name, &target).ok()?.question();
    Some(format!("Done: {}", question.trim_end_matches('?')))
}

/// The action a request names (query or form), or the page that says what is wrong with it.
fn named(viewer: &Viewer, pairs: &[(String, String)]) -> Result<Action, Reply> {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    Action::parse(value("action"), value("target"))
        .map_err(|message| respond::html(400, layout::problem(viewer, "Not an action", &message)))
}

fn only_admins(viewer: &Viewer) -> Result<(), Reply> {
    if viewer.admin {
        return Ok(());
    }
    let message = "only people with the admin role can act from the dashboard: ask an admin to register you with role \"admin\"";
    Err(respond::html(
        403,
        layout::problem(viewer, "Not allowed", message),
    ))
}

/// `GET /dashboard/confirm?action=&target=`: the confirmation step (changes nothing).
pub async fn confirm(cx: Cx) -> Reply {
    let viewer = signed_in!(cx);
    if let Err(refusal) = only_admins(&viewer) {
        return refusal;
    }
    let pairs: Vec<(String, String)> = ["action", "target"]
        .iter()
        .map(|name| {
            (
                name.to_string(),
                cx.query(name).ok().flatten().unwrap_or_default(),
            )
        })
        .collect();
    match named(&viewer, &pairs) {
        Ok(action) => respond::html(200, layout::confirm(&viewer, &action)),
        Err(refusal) => refusal,
    }
}

/// A post a browser says comes from another site (`Sec-Fetch-Site: cross-site`): refused before
/// anything else, whatever it carries (the token and the SameSite cookie refuse it too).
fn cross_site(cx: &Cx) -> bool {
    let site = cx.req.headers().get("Sec-Fetch-Site").ok().flatten();
    site.as_deref() == Some("cross-site")
}

async fn form(cx: &mut Cx) -> Vec<(String, String)> {
    let body = cx.req.text().await.unwrap_or_default();
    form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

/// `POST /dashboard/actions`: an admin's confirmed action, with the form's token; then back to
/// the page it came from.
pub async fn act(mut cx: Cx) -> Reply {
    let viewer = signed_in!(cx);
    if cross_site(&cx) {
        let message = "this form was posted from another site: act from the dashboard's own pages";
        return respond::html(403, layout::problem(&viewer, "Not allowed", message));
    }
    if let Err(refusal) = only_admins(&viewer) {
        return refusal;
    }
    let pairs = form(&mut cx).await;
    let presented = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    let secret = auth::configured(&cx.env, ADMIN_TOKEN).unwrap_or_default();
    if secret.is_empty() || !csrf::verify(secret.as_bytes(), &viewer.id, presented, cx.now) {
        let message = "this form's token is missing, expired or not yours: reload the page and confirm again";
        return respond::html(403, layout::problem(&viewer, "Not allowed", message));
    }
    let action = match named(&viewer, &pairs) {
        Ok(action) => action,
        Err(refusal) => return refusal,
    };
    match upstream::act(&cx.env, &action.call(&viewer.id)).await {
        Ok(_) => {
            worker::console_log!(
                "dashboard: {} {} by {}",
                action.name(),
                action.target(),
                viewer.id
            );
            let mut location = format!("/dashboard/{}?done={}", action.page(), action.name());
            location.push_str("&target=");
            location.extend(form_urlencoded::byte_serialize(action.target().as_bytes()));
            respond::redirect(&location, None)
        }
        Err(why) => {
            let (question, _) = action.question();
            let message = format!("{} was not done: {why}", question.trim_end_matches('?'));
            respond::html(502, layout::problem(&viewer, "The action failed", &message))
        }
    }
}

/// `GET /dashboard/assets/{file}`: the stylesheet.
pub async fn asset(cx: Cx) -> Reply {
    if format!("/dashboard/assets/{}", cx.param("file")) == layout::STYLE_PATH {
        return respond::style(layout::STYLE);
    }
    Err(ApiError::not_found("no such asset"))
}

/// `POST /dashboard/login`: a personal token from the sign-in form, kept in the dashboard's
/// cookie once it is known to be a live token of a registered person.
pub async fn login(mut cx: Cx) -> Reply {
    if cross_site(&cx) {
        return respond::html(403, layout::refusal("sign in from the dashboard's own page"));
    }
    let pairs = form(&mut cx).await;
    let presented = pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map_or("", |(_, v)| v.trim());
    let context = Context::open(&cx.env)?;
    let known = token::is_personal(presented)
        && people::member_by_token(&context.db, &token::hash(presented))
            .await?
            .is_some();
    if !known {
        return respond::html(
            403,
            layout::refusal("unknown or revoked personal token: ask an admin for a new one"),
        );
    }
    respond::redirect("/dashboard/overview", Some(presented))
}

/// `POST /dashboard/logout`: forgets the cookie (an Access session ends at Access).
pub async fn logout(_cx: Cx) -> Reply {
    respond::redirect("/dashboard", Some(""))
}
