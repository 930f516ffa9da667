"""Hostile workloads sized for a microVM under TCG emulation (tests/runtime/qemu_microvm).

The container backend's fixtures (tests/fixtures/runtime/hostile.py) grow memory through a shell
string and flood 40 MB through `yes`, which take minutes of emulated CPU; these reach the same limits
with less guest work: `tail` of an endless line (one growing buffer), and 18 MB of zeros (the output limit is 16 MiB).
"""

from mvm import entrypoint, workload


@workload("memory-hog", image="template:busybox", isolation="microvm", memory_mb=64,
          timeout_seconds=60)
class MemoryHog:
    @entrypoint(command=["tail", "/dev/zero"])
    def main(self): ...


@workload("flood", image="template:busybox", isolation="microvm", timeout_seconds=120)
class Flood:
    @entrypoint(command=["sh", "-c", "head -c 18000000 /dev/zero; echo done >&2"])
    def main(self): ...
