"""The smallest workload: a Python function that runs in a sandbox.

    mvmctl run examples/hello.py
"""

import platform
import sys

from mvm import workload


@workload("hello", image="template:python-3.11", isolation="container", timeout_seconds=30)
def hello():
    print(f"hello from mvm: Python {platform.python_version()} on {platform.node()}")
    print(f"running as uid {__import__('os').getuid()}, argv {sys.argv[1:]}")
