"""Runs longer than its declared timeout: the launcher kills it.

    mvmctl run examples/timeout.py        # exits 124 after 2 seconds
"""

import time

from mvm import workload


@workload("sleepy", image="template:python-3.11", isolation="container", timeout_seconds=2)
def sleepy():
    print("sleeping for a minute", flush=True)
    time.sleep(60)
    print("woke up: the timeout did not hold")
