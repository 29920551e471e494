//! The registry against the migrations and the generated reference.

use std::collections::BTreeSet;

use platform_db::sqlite::Sqlite;
use platform_db::{Retention, TABLES};

fn migrated() -> Sqlite {
    match Sqlite::migrated() {
        Ok(db) => db,
        Err(e) => panic!("migrations do not apply: {e}"),
    }
}

fn columns(db: &Sqlite, table: &str) -> Vec<String> {
    let rows = db
        .select(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    rows.iter()
        .map(|r| r.get::<String>("name").unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn every_migrated_table_is_declared_with_its_columns_in_order() {
    let db = migrated();
    let migrated: BTreeSet<String> = db
        .select("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| r.get::<String>("name").unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let declared: BTreeSet<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
    assert_eq!(
        migrated, declared,
        "tables in wrangler/migrations vs crates/platform-db/src/tables.rs"
    );
    for table in TABLES {
        assert_eq!(
            columns(&db, table.name),
            table.columns,
            "columns of {} (migrations vs registry)",
            table.name
        );
    }
}

#[test]
fn retention_columns_exist() {
    for table in TABLES {
        if let Retention::Days { column, .. } = table.retention {
            assert!(
                table.columns.contains(&column),
                "{}: no column {column}",
                table.name
            );
        }
    }
}

#[test]
fn generated_reference_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/d1-tables.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == platform_db::docs::render(),
        "docs/d1-tables.md is stale: run scripts/db-docs"
    );
}

#[test]
fn every_worker_page_points_at_its_tables() {
    for worker in platform_kv::PlatformWorker::ALL {
        let name = worker.crate_name();
        let path = format!("{}/../../docs/workers/{name}.md", env!("CARGO_MANIFEST_DIR"));
        let page = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            page.contains(&format!("../d1-tables.md#{name}")),
            "docs/workers/{name}.md does not link its section of docs/d1-tables.md"
        );
    }
}
