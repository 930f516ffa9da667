from mvm import workload, entrypoint, service, Volume

@workload("-BAD_ID-" * 10, image="oci:nginx:latest", cpu=0, memory_mb=262145, disk_mb=-1, timeout_seconds=86401,
          ports=[0, 65536, 2147483648, -2147483649], isolation="vm", volumes=[Volume.memory("relative", size_mb=0)])
class Range:
    @entrypoint("main", command=["x"], timeout_seconds=0)
    def main(self): ...

    @entrypoint("main", command=["y"])
    def dup(self): ...

    @service("main", command=["z"], port=0)
    def svc(self): ...

@workload("-bad_id-", image="docker:nginx")
def other(): ...

@workload("-bad_id-", image="nix:")
def another(): ...
