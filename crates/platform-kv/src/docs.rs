//! Renders the keyspace reference (`docs/kv-keys.md`) from the registry.

use std::fmt::Write;

use crate::families::{example_key, REGISTRY};
use crate::spec::{PlatformWorker, Subsystem, Writers};

/// The reference, as committed in `docs/kv-keys.md`.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str("# PLATFORM_CACHE key reference\n\n");
    out.push_str(
        "Every key of the `PLATFORM_CACHE` KV namespace, grouped by subsystem.\n\n\
         > Generated from `crates/platform-kv/src/families.rs` by `scripts/kv-docs`; do not edit by hand.\n\
         > A test fails when this file is stale.\n\n\
         A worker writes only the families whose Worker column names it; its store refuses any other\n\
         write. Every write carries KV metadata `{\"writer\": <worker>, \"written_at\": <ms>}`.\n",
    );
    for subsystem in Subsystem::ALL {
        let specs: Vec<_> = REGISTRY
            .iter()
            .filter(|spec| spec.subsystem == subsystem)
            .collect();
        if specs.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "\n## {}\n\n| Key Pattern | Example | TTL | Worker | Value | Purpose |\n|---|---|---|---|---|---|\n",
            subsystem.title()
        );
        for spec in specs {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} | {} |",
                spec.pattern,
                example_key(spec),
                spec.ttl,
                spec.writers,
                spec.format,
                spec.purpose
            );
        }
    }
    render_by_worker(&mut out);
    out.push_str(
        "\n## Key conventions\n\n\
         - Upper-case prefixes (`CONFIG:`, `FEATURE:`, `BUDGET_WARN:`) are system state; lower-case\n  \
         prefixes (`platform-usage:`, `sentinel:`) are operational cache.\n\
         - TTL None means the key stays until it is deleted or overwritten. Expiry only cleans up:\n  \
         decisions use explicit timestamps such as `auto_reset_at`.\n\
         - Dedup keys use short TTLs (60 s to 24 h) to prevent duplicate actions.\n\
         - Keys use `:` as separator. `{key}`, `{id}` and `{feature}` are feature keys\n  \
         (`project:category:feature`); other placeholders are single segments without `:`.\n",
    );
    out
}

/// Which families each worker writes; the shared alert module's are listed once, apart.
fn render_by_worker(out: &mut String) {
    out.push_str("\n## Keys written by each worker\n");
    for worker in PlatformWorker::ALL {
        let _ = write!(out, "\n### {}\n\n", worker.crate_name());
        for spec in REGISTRY
            .iter()
            .filter(|spec| matches!(spec.writers, Writers::Only(w) if w.contains(&worker)))
        {
            let _ = writeln!(out, "- `{}`", spec.pattern);
        }
    }
    out.push_str("\n### shared alert module (every worker)\n\n");
    for spec in REGISTRY
        .iter()
        .filter(|spec| spec.writers == Writers::SharedAlertModule)
    {
        let _ = writeln!(out, "- `{}`", spec.pattern);
    }
}
