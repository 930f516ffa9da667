#!/bin/sh
# usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR
# `cmake --install` into a fresh prefix, that prefix moved elsewhere, and the installed mvmctl runs a
# shipped function-form example in a real container sandbox: it finds its guest agent and the Python
# SDK relative to its own executable, and names the installed template flake in a Nix build
# request, with no MVM_* variable set and nothing copied by hand. A lone copy of mvmctl says what it
# is missing and how to install it.
set -eu
cmake=$1
build=$2
src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mvm-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset MVM_AGENT MVM_EGRESS MVM_PYTHON_SDK MVM_TEMPLATES_DIR MVM_MVMCTL 2>/dev/null || true

fail() {
  echo "install_test: $*" >&2
  exit 1
}

"$cmake" --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
for f in bin/mvmctl bin/mvm-launcher libexec/mvm/mvm-agent libexec/mvm/mvm-egress share/mvm/sdks/python/mvm/run.py \
  share/mvm/templates/flake.nix; do
  [ -f "$tmp/prefix/$f" ] || fail "the install has no $f"
done
# Relative lookup, not the configured prefix: the whole tree is moved before it runs.
mv "$tmp/prefix" "$tmp/moved"

# The python-3.11 template is built once per test run into the shared cache (ctest sets it).
mkdir -p "$tmp/state" "$tmp/config" "$tmp/work"
if [ -n "${MVM_TEST_ROOTFS_CACHE:-}" ]; then
  mkdir -p "$MVM_TEST_ROOTFS_CACHE"
  ln -s "$MVM_TEST_ROOTFS_CACHE" "$tmp/state/rootfs"
fi
cp "$src/examples/hello.py" "$tmp/work/hello.py"
cd "$tmp/work"
status=0
XDG_CONFIG_HOME="$tmp/config" "$tmp/moved/bin/mvmctl" run --state-dir "$tmp/state" \
  --backend container hello.py -- one two >"$tmp/out" 2>"$tmp/err" || status=$?
if [ "$status" -ne 0 ] ||
  ! grep -q '^hello from mvm: Python 3\.11' "$tmp/out" ||
  ! grep -q "argv \['one', 'two'\]" "$tmp/out"; then
  echo "--- stdout" >&2
  cat "$tmp/out" >&2
  echo "--- stderr" >&2
  cat "$tmp/err" >&2
  fail "the installed mvmctl did not run examples/hello.py (exit $status)"
fi

# The template flake a Nix build request names is the moved prefix's.
"$tmp/moved/bin/mvmctl" compile "$src/lit-tests/plan/Inputs/defaults.py" --emit nix --dump nix \
  --state-dir "$tmp/state" >"$tmp/nix.json" 2>"$tmp/err" ||
  { cat "$tmp/err" >&2; fail "the installed mvmctl could not write a Nix build request"; }
grep -q "\"flake_ref\":\"path:$tmp/moved/share/mvm/templates\"" "$tmp/nix.json" ||
  { cat "$tmp/nix.json" >&2; fail "the Nix request does not name the installed template flake"; }

# A copy of mvmctl alone cannot find its agent, nor with the agent its egress helper, and says so.
mkdir -p "$tmp/lonely"
cp "$tmp/moved/bin/mvmctl" "$tmp/lonely/mvmctl"
status=0
XDG_CONFIG_HOME="$tmp/config" "$tmp/lonely/mvmctl" run --state-dir "$tmp/state" \
  --backend container hello.py >"$tmp/out" 2>"$tmp/err" || status=$?
[ "$status" -eq 125 ] || fail "a lone mvmctl exited $status, not 125"
grep -q "the guest agent \`mvm-agent\` is neither beside this executable" "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "a lone mvmctl did not say where it looked for the agent"; }
grep -q "cmake --install build --prefix PREFIX" "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "a lone mvmctl did not say how to install"; }
cp "$tmp/moved/libexec/mvm/mvm-agent" "$tmp/lonely/mvm-agent"
status=0
XDG_CONFIG_HOME="$tmp/config" "$tmp/lonely/mvmctl" run --state-dir "$tmp/state" \
  --backend container hello.py >"$tmp/out" 2>"$tmp/err" || status=$?
[ "$status" -eq 125 ] || fail "mvmctl with only its agent exited $status, not 125"
grep -q "the egress helper \`mvm-egress\` is neither beside this executable" "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "mvmctl with only its agent did not say where it looked for mvm-egress"; }
echo "install_test: ok"
