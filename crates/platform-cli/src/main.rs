//! `platform`: the operator's command line. Offline, it checks and plans the config with the code
//! the sync-config worker runs; against a deployed platform, it drives the admin API; and it wires
//! applications and creates and deploys the platform itself. Reference: docs/cli.md.

#[cfg(not(target_arch = "wasm32"))]
mod app;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    app::main()
}

/// Never built for the Workers target; this keeps `--target wasm32-unknown-unknown` checks of the
/// whole workspace meaningful for the crates that are.
#[cfg(target_arch = "wasm32")]
fn main() {}
