//! Every admin route of the six workers and the command that drives it. docs/cli.md lists the
//! same table; tests read the workers' route tables and fail on a route without a command here,
//! on a command the parser does not know, and on a route the docs do not list.

/// (worker, method, path as the worker's route table writes it, command).
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("platform-usage", "GET", "/status", "status"),
    ("platform-usage", "GET", "/settings", "settings show"),
    ("platform-usage", "PUT", "/settings", "settings set"),
    (
        "platform-usage",
        "POST",
        "/features/:key/disable",
        "features disable",
    ),
    (
        "platform-usage",
        "POST",
        "/features/:key/enable",
        "features enable",
    ),
    ("platform-usage", "GET", "/features/:key/usage", "usage"),
    (
        "platform-usage",
        "POST",
        "/projects/:slug/pause",
        "projects pause",
    ),
    (
        "platform-usage",
        "POST",
        "/projects/:slug/resume",
        "projects resume",
    ),
    ("platform-usage", "POST", "/global-stop", "stop"),
    ("platform-usage", "GET", "/usage/account", "account usage"),
    ("platform-usage", "POST", "/usage/backfill", "account backfill"),
    ("platform-usage", "GET", "/cost", "cost"),
    ("platform-usage", "GET", "/events", "events"),
    ("platform-usage", "GET", "/dlq", "dlq list"),
    ("platform-usage", "POST", "/dlq/:id/replay", "dlq replay"),
    ("platform-usage", "POST", "/dlq/:id/discard", "dlq discard"),
    ("error-collector", "GET", "/errors", "errors list"),
    ("error-collector", "GET", "/errors/:fingerprint", "errors show"),
    (
        "error-collector",
        "POST",
        "/errors/:fingerprint/mute",
        "errors mute",
    ),
    (
        "error-collector",
        "POST",
        "/errors/:fingerprint/unmute",
        "errors unmute",
    ),
    (
        "error-collector",
        "POST",
        "/errors/:fingerprint/resolve",
        "errors resolve",
    ),
    ("error-collector", "POST", "/gap-alerts", "gaps file"),
    ("error-collector", "GET", "/scripts", "scripts"),
    ("sentinel", "GET", "/gaps", "gaps"),
    ("sentinel", "GET", "/anomalies", "anomalies"),
    ("sentinel", "GET", "/silences", "silences list"),
    ("sentinel", "POST", "/silences", "silences add"),
    ("sentinel", "DELETE", "/silences/:id", "silences end"),
    ("notifications", "GET", "/users", "notifications users"),
    ("notifications", "POST", "/users", "notifications add"),
    ("notifications", "DELETE", "/users/:id", "notifications remove"),
    (
        "notifications",
        "GET",
        "/users/:id/tokens",
        "notifications tokens",
    ),
    (
        "notifications",
        "POST",
        "/users/:id/tokens",
        "notifications issue-token",
    ),
    (
        "notifications",
        "DELETE",
        "/users/:id/tokens/:token",
        "notifications revoke-token",
    ),
    ("sync-config", "POST", "/sync", "config apply"),
    ("sync-config", "GET", "/config", "config show"),
    ("sync-config", "GET", "/history", "config history"),
    ("pattern-discovery", "GET", "/patterns", "patterns list"),
    ("pattern-discovery", "GET", "/patterns/:id", "patterns show"),
    (
        "pattern-discovery",
        "POST",
        "/patterns/:id/approve",
        "patterns approve",
    ),
    (
        "pattern-discovery",
        "POST",
        "/patterns/:id/reject",
        "patterns reject",
    ),
    (
        "pattern-discovery",
        "POST",
        "/patterns/:id/disable",
        "patterns disable",
    ),
    ("pattern-discovery", "POST", "/discover", "patterns discover"),
    (
        "pattern-discovery",
        "POST",
        "/cache/refresh",
        "patterns refresh-cache",
    ),
];

#[cfg(test)]
mod tests {
    use super::ROUTES;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// The `Auth::Admin` routes of a worker's `src/lib.rs`, as `(METHOD, path)`.
    fn admin_routes(worker: &str) -> Vec<(String, String)> {
        let source = std::fs::read_to_string(repo().join("workers").join(worker).join("src/lib.rs")).unwrap();
        source
            .split("Route::new(Method::")
            .skip(1)
            .filter_map(|rest| {
                let (method, rest) = rest.split_once(',')?;
                let path = rest.split('"').nth(1)?;
                let auth = rest.split_once("Auth::")?.1;
                auth.starts_with("Admin")
                    .then(|| (method.trim().to_ascii_uppercase(), path.to_owned()))
            })
            .collect()
    }

    #[test]
    fn every_admin_route_of_every_worker_has_a_command() {
        let workers = [
            "platform-usage",
            "error-collector",
            "sentinel",
            "notifications",
            "sync-config",
            "pattern-discovery",
        ];
        let mut seen = 0;
        for worker in workers {
            let routes = admin_routes(worker);
            assert!(!routes.is_empty(), "{worker}: no admin routes read");
            for (method, path) in &routes {
                assert!(
                    ROUTES
                        .iter()
                        .any(|(w, m, p, _)| *w == worker && m == method && p == path),
                    "{worker} {method} {path} has no command in ROUTES"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, ROUTES.len(), "ROUTES lists a route no worker has");
    }

    #[test]
    fn every_listed_command_exists_and_the_docs_list_every_route() {
        use clap::CommandFactory;
        let cli = crate::app::Cli::command();
        let docs = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
        for (worker, method, path, command) in ROUTES {
            let mut found = &cli;
            for word in command.split(' ') {
                found = found
                    .find_subcommand(word)
                    .unwrap_or_else(|| panic!("`platform {command}`: no subcommand {word}"));
            }
            let row = format!("| `platform {command}");
            let route = format!("{worker} `{method} {path}`");
            assert!(
                docs.lines().any(|l| l.starts_with(&row) && l.contains(&route)),
                "docs/cli.md: no row `platform {command}` ... {route}"
            );
        }
    }
}
