"""What a test does when something it needs is missing: CI installs every prerequisite, so there a
missing one fails instead of skipping (as tests/support/prerequisite.h does for the C++ tests)."""

import os
import unittest


def in_ci():
    return os.environ.get("CI", "") not in ("", "0", "false")


def missing(reason):
    if in_ci():
        raise RuntimeError(f"a prerequisite is missing, and CI runs every test: {reason}")
    raise unittest.SkipTest(reason)
