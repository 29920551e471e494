//! Prints the table reference; `scripts/db-docs` writes it to `docs/d1-tables.md`.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    print!("{}", platform_db::docs::render());
}

/// The reference is a native tool's output: a wasm build has nothing to print.
#[cfg(target_arch = "wasm32")]
fn main() {}
