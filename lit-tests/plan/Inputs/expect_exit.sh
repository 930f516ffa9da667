#!/bin/sh
# usage: sh expect_exit.sh CODE CMD [ARG...]
# Runs CMD with its output passed through and succeeds only when it exits with exactly CODE (lit's
# `not` accepts any failure, but the exit codes of docs/cli.md are part of the contract).
want=$1
shift
"$@"
got=$?
if [ "$got" -ne "$want" ]; then
  echo "expect_exit: expected exit status $want, got $got from: $*" >&2
  exit 1
fi
