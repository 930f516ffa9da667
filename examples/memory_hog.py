"""Allocates far more memory than it declares: the sandbox's memory limit stops it.

    mvmctl run examples/memory_hog.py     # exits 137: "killed: memory limit 64 MiB reached"
"""

from mvm import workload


@workload("memory-hog", image="template:python-3.11", isolation="container", memory_mb=64,
          timeout_seconds=60)
def hog():
    chunks = []
    for i in range(1, 1025):
        chunks.append(bytearray(1 << 20))  # touched: bytearray zero-fills every page
        if i % 64 == 0:
            print(f"holding {i} MiB", flush=True)
    print("allocated 1 GiB: the memory limit did not hold")
