# Shared by the scripts: the repository root, the worker list, and versions pinned by Cargo.lock.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/node_modules/.bin:$PATH"

# Every worker crate, by directory name under workers/.
all_workers() {
  local dir
  for dir in "$ROOT"/workers/*/; do basename "$dir"; done
}

# The version of a package as resolved in Cargo.lock.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

step() { printf '\n==> %s\n' "$*"; }
