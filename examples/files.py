"""Writes files in the sandbox's writable places and reads them back.

The root filesystem is read-only; /tmp and the declared memory volume are writable and vanish with
the sandbox.

    mvmctl run examples/files.py
"""

import hashlib
import os

from mvm import Volume, workload


@workload(
    "files",
    image="template:python-3.11",
    isolation="container",
    timeout_seconds=30,
    volumes=[Volume.memory("/scratch", size_mb=16)],
)
def files():
    data = os.urandom(1 << 20)
    for directory in ("/tmp", "/scratch"):
        path = os.path.join(directory, "blob.bin")
        with open(path, "wb") as f:
            f.write(data)
        with open(path, "rb") as f:
            back = f.read()
        assert back == data, f"{path}: read back different bytes"
        print(f"{path}: wrote and read back {len(back)} bytes, sha256 {hashlib.sha256(back).hexdigest()[:16]}")
    try:
        with open("/etc/mvm-was-here", "w") as f:
            f.write("x")
    except OSError as e:
        print(f"/etc is read-only, as it should be: {e.strerror}")
    else:
        raise SystemExit("wrote to the read-only root filesystem")
