#!/usr/bin/python3
# Validates SARIF logs against the SARIF 2.1.0 JSON schema with a real JSON Schema validator
# (Debian's python3-jsonschema, with python3-rfc3987 so that `uri` and `uri-reference` formats are
# checked too), and prints one line per log: `valid` or the first errors. Usage:
#   validate_sarif.py SCHEMA LOG...
# A missing validator or schema is a failure, never a skip: scripts/bootstrap.sh installs both.
import json
import sys

try:
    import jsonschema
    import rfc3987  # noqa: F401  (jsonschema's FormatChecker checks `uri` only when it is there)
except ImportError as e:
    sys.exit(f"validate_sarif: {e}; run scripts/bootstrap.sh (python3-jsonschema, python3-rfc3987)")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: validate_sarif.py SCHEMA LOG...")
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=jsonschema.FormatChecker())
    failed = False
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            log = json.load(f)
        errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        if errors:
            failed = True
            for e in errors[:5]:
                where = "/".join(str(p) for p in e.absolute_path)
                print(f"{path}: invalid at /{where}: {e.message}")
        else:
            print(f"{path}: valid")
    sys.exit(1 if failed else 0)


main()
