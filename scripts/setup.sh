#!/usr/bin/env bash
# Everything a fresh machine (Debian, root, Node 20 and Rust by rustup present) needs before the
# demo, the tests and the benchmarks: util-linux/iproute2 tools, bubblewrap (bench/ compares a
# sandbox with it), zig and cargo-zigbuild from PyPI for the release
# build against glibc 2.17's symbols, the npm dev dependencies, and the build itself.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for tool in unshare:util-linux nsenter:util-linux lsns:util-linux setpriv:util-linux ip:iproute2 ping:iputils-ping gcc:gcc objdump:binutils bwrap:bubblewrap; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo is missing (this machine kind ships Rust through rustup)" >&2; exit 1; }
command -v node >/dev/null || { echo "setup: node is missing" >&2; exit 1; }
# The lint step of `npm test` runs rustfmt and clippy; rustup installs them when missing (offline it
# has nothing to fetch, so a machine with them already present is left as it is).
cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 || rustup component add rustfmt clippy
command -v python3 >/dev/null || { echo "setup: python3 is missing: it brings zig and cargo-zigbuild from PyPI" >&2; exit 1; }

PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  ziglang==0.15.2 cargo-zigbuild==0.24.1
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH NSJS_REQUIRE_ZIG=1

npm ci --no-audit --no-fund
npm run build
