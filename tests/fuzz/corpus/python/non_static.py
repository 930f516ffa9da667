import os
from mvm import workload, entrypoint, SecretRef

def helper(): return 2

@workload("ns", image=os.environ["IMAGE"], cpu=helper(), memory_mb=(x := 5), disk_mb=1 if True else 2,
          env={**os.environ}, ports=[*range(3)], labels={k: "v" for k in "ab"}, timeout_seconds=lambda: 1,
          isolation="container", network=NetworkPolicy.deny_by_default(), secrets={"A": SecretRef(*args)})
class NS:
    @entrypoint(*["x"], **{"command": ["y"]})
    def main(self): ...
