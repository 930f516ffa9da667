#!/bin/sh
# usage: sdk_install_test.sh MVMCTL SOURCE_DIR TS_PKG_DIR NODE
# Both SDKs installed as a user's project would install them, offline, and each README's quick start
# run exactly as the page shows it (extracted from the page, not copied here) against real sandboxes:
# - Python: a venv with Debian's setuptools and wheel (--system-site-packages), then
#   `pip install --no-index --no-build-isolation` of a copy of sdks/python;
# - TypeScript: `npm pack` of the package the build made, `npm install --offline` of the tarball into
#   a fresh project, and the quick start as plain JavaScript on this Node.js (20).
set -eu
mvmctl=$1
src=$2
pkg=$3
node=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mvm-sdk-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "sdk_install_test: $*" >&2
  exit 1
}

# Sandboxes go to a state directory of this test's own; templates come from the shared cache.
mkdir -p "$tmp/state"
if [ -n "${MVM_TEST_ROOTFS_CACHE:-}" ]; then
  mkdir -p "$MVM_TEST_ROOTFS_CACHE"
  ln -s "$MVM_TEST_ROOTFS_CACHE" "$tmp/state/rootfs"
fi
export MVM_MVMCTL="$mvmctl" MVM_STATE_DIR="$tmp/state" XDG_CONFIG_HOME="$tmp/config"
unset MVM_SDK_MODE PYTHONPATH 2>/dev/null || true

extract() {
  /usr/bin/python3 "$src/tests/install/extract_snippet.py" "$@"
}

# Python.
cp -r "$src/sdks/python" "$tmp/python-sdk"
rm -rf "$tmp/python-sdk/build" "$tmp/python-sdk/mvm.egg-info"
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv" || fail "python3 -m venv failed"
"$tmp/venv/bin/pip" install --no-index --no-build-isolation "$tmp/python-sdk" >"$tmp/pip.log" 2>&1 ||
  { cat "$tmp/pip.log" >&2; fail "pip install of sdks/python failed"; }
rm -rf "$tmp/python-sdk"
mkdir -p "$tmp/py-project"
extract "$src/sdks/python/README.md" "# quickstart.py" >"$tmp/py-project/quickstart.py"
(cd "$tmp/py-project" && "$tmp/venv/bin/python" quickstart.py) >"$tmp/out" 2>"$tmp/err" ||
  { cat "$tmp/out" "$tmp/err" >&2; fail "the Python quick start failed"; }
[ "$(cat "$tmp/out")" = "hi" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "the Python quick start printed something else"; }
# It ran the installed package, not a source tree.
(cd "$tmp/py-project" && "$tmp/venv/bin/python" -c 'import mvm; print(mvm.__file__)') >"$tmp/where"
grep -q "^$tmp/venv/" "$tmp/where" || fail "mvm was imported from $(cat "$tmp/where")"

# TypeScript.
mkdir -p "$tmp/ts-project"
(cd "$tmp" && npm pack --silent "$pkg" >"$tmp/pack.log" 2>&1) ||
  { cat "$tmp/pack.log" >&2; fail "npm pack failed"; }
tarball=$(ls "$tmp"/mvm-sdk-*.tgz) || fail "npm pack wrote no mvm-sdk-*.tgz"
printf '{"name": "quickstart", "version": "1.0.0", "private": true, "type": "module"}\n' \
  >"$tmp/ts-project/package.json"
(cd "$tmp/ts-project" &&
  npm install --offline --no-audit --no-fund --cache "$tmp/npm-cache" "$tarball" >"$tmp/npm.log" 2>&1) ||
  { cat "$tmp/npm.log" >&2; fail "npm install of the packed SDK failed"; }
extract "$src/sdks/typescript/README.md" "// quickstart.mjs" >"$tmp/ts-project/quickstart.mjs"
extract "$src/docs/sdk.md" "// quickstart.mjs" >"$tmp/sdk-md.mjs"
cmp -s "$tmp/ts-project/quickstart.mjs" "$tmp/sdk-md.mjs" ||
  fail "docs/sdk.md and sdks/typescript/README.md show different quick starts"
(cd "$tmp/ts-project" && "$node" quickstart.mjs) >"$tmp/out" 2>"$tmp/err" ||
  { cat "$tmp/out" "$tmp/err" >&2; fail "the TypeScript quick start failed on $("$node" --version)"; }
grep -qx "hi" "$tmp/out" || { cat "$tmp/out" "$tmp/err" >&2; fail "the TypeScript quick start printed something else"; }
echo "sdk_install_test: ok (node $("$node" --version))"
