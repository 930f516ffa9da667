#!/bin/sh
# Runs tests/lsp/neovim_e2e.lua in headless Neovim against MVMCTL. Exit 77 (skipped) without nvim.
set -eu
mvmctl="$1"
lua="$2"
command -v nvim >/dev/null 2>&1 || { echo "nvim not installed (apt-get install neovim)"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/app.py" <<'PY'
from mvm import workload


@workload("hello", image="template:python-3.11", timeout_secs=30)
def hello():
    print("hi")
PY
MVMCTL="$mvmctl" MVM_TEST_FILE="$dir/app.py" MVM_RESULT="$dir/result" HOME="$dir" \
  timeout 110 nvim --headless -u NONE -i NONE -n -c "luafile $lua" </dev/null >"$dir/nvim.log" 2>&1 || true
if [ ! -f "$dir/result" ]; then
  echo "neovim wrote no result; its output:"
  cat "$dir/nvim.log"
  exit 1
fi
cat "$dir/result"
grep -q '^PASS' "$dir/result"
