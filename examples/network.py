"""Tries to reach the network without declaring any: every attempt fails.

No `network=` means no network at all: the sandbox has only its own loopback interface, so neither
the internet nor a service on the host's 127.0.0.1 is reachable.

    mvmctl run examples/network.py        # exits 0 when every attempt was blocked
"""

import socket

from mvm import workload

TARGETS = [("1.1.1.1", 443), ("deb.debian.org", 80), ("127.0.0.1", 22)]


@workload("network-probe", image="template:python-3.11", isolation="container", timeout_seconds=30)
def probe():
    reached = []
    for host, port in TARGETS:
        try:
            with socket.create_connection((host, port), timeout=3):
                reached.append(f"{host}:{port}")
                print(f"{host}:{port}: connected")
        except OSError as e:
            print(f"{host}:{port}: blocked ({e.__class__.__name__}: {e})")
    return 1 if reached else 0
