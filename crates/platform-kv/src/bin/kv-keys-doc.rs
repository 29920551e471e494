//! Prints the keyspace reference generated from the registry (`scripts/kv-docs` writes it to
//! `docs/kv-keys.md`).

fn main() {
    print!("{}", platform_kv::docs::render());
}
