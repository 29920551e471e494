//! Prints the table reference; `scripts/db-docs` writes it to `docs/d1-tables.md`.

fn main() {
    print!("{}", platform_db::docs::render());
}
