#!/usr/bin/env python3
# Runs the diagnostics reference's examples (docs/reference/examples/diagnostics/) through a built
# mvmctl: for every kind of ir/support/diagnostics.def, `<kind>.bad.<ext>` must report that kind and no
# other (human and `--format=json`), exiting 1 for an error kind and 0 for a warning kind, and
# `<kind>.good.<ext>` must exit 0 with no diagnostics. A kind without both files fails, naming it, as does a file that belongs to no kind.
# Flags come from a first line `# mvmctl-args: ...` (`//` in TypeScript) of the failing example, with
# `{dir}` standing for the examples directory; `.json` examples are IR, read with `--from-ir`. Both
# files of a kind are checked with the same flags. `xtask gen-docs` renders the page from the same
# files in-process; this test checks the real binary, its exit codes and its JSON.
#
# usage: diagnostic_examples.py SOURCE_ROOT MVMCTL
# Exit status: 0 every kind has working examples, 1 otherwise (each problem is listed).
#
# RUN: python3 %s %src %mvmctl

import json
import os
import re
import subprocess
import sys

KIND_RE = re.compile(r'^\s*MVM_DIAGNOSTIC\(\s*\w+\s*,\s*"([a-z0-9-]+)"\s*,\s*\d+\s*,\s*(\w+)',
                     re.MULTILINE)
EXAMPLES = "docs/reference/examples/diagnostics"
EXTENSIONS = (".py", ".ts", ".tsx", ".json")
# `path:line:col: error: message [kind]` (or `warning:`), the first line of each human diagnostic.
HUMAN_ERROR_RE = re.compile(r"^\S+:\d+:\d+: (?:error|warning): .* \[([a-z0-9-]+)\]$", re.MULTILINE)


def flags_of(path, ext):
    if ext == ".json":
        return ["--from-ir"]
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    for marker in ("# mvmctl-args:", "// mvmctl-args:"):
        if first.startswith(marker):
            return [w.replace("{dir}", EXAMPLES) for w in first[len(marker):].split()]
    return []


def check(mvmctl, flags, path, json_format):
    argv = [mvmctl, "check", *flags] + (["--format=json"] if json_format else []) + [path]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def redacted_text(path, diagnostics):
    """The unquoted source text under each diagnostic's range (single-line ranges only)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    for d in diagnostics:
        if d["line"] == d["end_line"]:
            text = lines[d["line"] - 1][d["column"] - 1:d["end_column"] - 1].strip("\"'")
            if text and text != "****":
                out.append(text)
    return out


def check_kind(root, mvmctl, kind, severity, problems):
    for ext in EXTENSIONS:
        bad = f"{EXAMPLES}/{kind}.bad{ext}"
        good = f"{EXAMPLES}/{kind}.good{ext}"
        has_bad = os.path.isfile(os.path.join(root, bad))
        has_good = os.path.isfile(os.path.join(root, good))
        if has_bad or has_good:
            break
    if not (has_bad and has_good):
        problems.append(f"{kind}: no example; add {EXAMPLES}/{kind}.bad.py and {kind}.good.py"
                        if not has_bad and not has_good else
                        f"{kind}: {bad if has_bad else good} has no counterpart "
                        f"{good if has_bad else bad}")
        return
    flags = flags_of(bad, ext)

    want_rc = 1 if severity == "error" else 0
    rc, _, err = check(mvmctl, flags, bad, json_format=False)
    if rc != want_rc:
        problems.append(f"{kind}: `mvmctl check {' '.join(flags)} {bad}` exited {rc}, "
                        f"expected {want_rc}\n{err}")
    reported = set(HUMAN_ERROR_RE.findall(err))
    if reported != {kind}:
        problems.append(f"{kind}: {bad} reports {sorted(reported) or 'no error'} in human output, "
                        f"expected exactly [{kind}]\n{err}")
    rc, out, _ = check(mvmctl, flags, bad, json_format=True)
    try:
        diagnostics = json.loads(out)["diagnostics"]
    except (ValueError, KeyError) as e:
        problems.append(f"{kind}: {bad}: `--format=json` printed no diagnostics object ({e}): {out!r}")
        return
    kinds = {d["kind"] for d in diagnostics}
    if rc != want_rc or kinds != {kind} or not any(d["severity"] == severity for d in diagnostics):
        problems.append(f"{kind}: {bad} with --format=json exited {rc} listing kinds {sorted(kinds)}, "
                        f"expected exit {want_rc} and a{'n' if severity == 'error' else ''} "
                        f"{severity} of kind {kind} only")
    if kind == "plaintext-secret":
        # The value itself must never be printed, in either format.
        for text in redacted_text(os.path.join(root, bad), diagnostics):
            if text in err or text in out:
                problems.append(f"{kind}: the secret value {text} is printed unmasked")
        if '"****"' not in err:
            problems.append(f"{kind}: the human output does not show the masked value \"****\"\n{err}")

    for json_format in (False, True):
        rc, out, err = check(mvmctl, flags, good, json_format)
        clean = (out == '{"diagnostics":[]}\n') if json_format else (out == "" and err == "")
        if rc != 0 or not clean:
            problems.append(f"{kind}: `mvmctl check {' '.join(flags)}"
                            f"{' --format=json' if json_format else ''} {good}` exited {rc}, "
                            f"expected 0 and no diagnostics\n{out}{err}")


def main(argv):
    if len(argv) != 2:
        print("usage: diagnostic_examples.py SOURCE_ROOT MVMCTL", file=sys.stderr)
        return 2
    root, mvmctl = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    with open(os.path.join(root, "ir", "support", "diagnostics.def"), encoding="utf-8") as f:
        kinds = KIND_RE.findall(f.read())
    if not kinds:
        print("diagnostic_examples: no MVM_DIAGNOSTIC entries in diagnostics.def", file=sys.stderr)
        return 1
    # The examples are run by their repository-relative paths, as the page shows them.
    os.chdir(root)
    problems = []
    for kind, severity in kinds:
        check_kind(root, mvmctl, kind, severity.lower(), problems)
    names = {kind for kind, _ in kinds}
    for name in sorted(os.listdir(EXAMPLES)):
        if name.split(".", 1)[0] not in names:
            problems.append(f"{EXAMPLES}/{name}: belongs to no diagnostic kind in diagnostics.def")
    if problems:
        print(f"{len(problems)} problem(s) with the diagnostic examples:")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"all {len(kinds)} diagnostic kinds have a failing and a fixed example that behave")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
