//! Renders the table reference (`docs/d1-tables.md`) from the registry.

use std::fmt::Write;

use platform_kv::PlatformWorker;

use crate::tables::{Writers, TABLES};

/// The reference, as committed in `docs/d1-tables.md`.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str("# PLATFORM_DB table reference\n\n");
    out.push_str(
        "Every table of the `PLATFORM_DB` D1 database.\n\n\
         > Generated from `crates/platform-db/src/tables.rs` by `scripts/db-docs`; do not edit by hand.\n\
         > A test fails when this file is stale, and another when a table's columns differ from\n\
         > `wrangler/migrations/*.sql`.\n\n\
         A worker writes only the tables whose Writers column names it: its database refuses any other\n\
         write before the batch runs. The owner's retention sweep deletes rows older than the\n\
         retention; all SQL of the platform lives in `crates/platform-db`.\n\n\
         | Table | Owner | Writers | Retention | Columns | Purpose |\n|---|---|---|---|---|---|\n",
    );
    for table in TABLES {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            table.name,
            table.owner.crate_name(),
            table.writers,
            table.retention,
            table.columns.join(", "),
            table.purpose
        );
    }
    out.push_str("\n## Tables written by each worker\n");
    for worker in PlatformWorker::ALL {
        let _ = write!(out, "\n### {}\n\n", worker.crate_name());
        let owned: Vec<_> = TABLES
            .iter()
            .filter(|t| matches!(t.writers, Writers::Only(w) if w.contains(&worker)))
            .collect();
        if owned.is_empty() {
            out.push_str("- none of its own\n");
        }
        for table in owned {
            let _ = writeln!(out, "- `{}`", table.name);
        }
    }
    out.push_str("\n### every worker\n\n");
    for table in TABLES.iter().filter(|t| matches!(t.writers, Writers::Every(_))) {
        let _ = writeln!(out, "- `{}` ({})", table.name, table.writers);
    }
    out
}
