from mvm import workload, entrypoint, service, Volume, NetworkPolicy, SecretRef

@workload("typos", imgae="template:busybox", cpus=2, memmory_mb=64, network=NetworkPolicy.deny_by_default().allow_htps("x").allow_dns(1, 2),
          volumes=[Volume.locall("a", "/b"), Volume.memory("/m", sizemb=1)], secrets={"X": SecretRef("x", host=["h"], hostz=[])})
class Typos:
    @entrypoint(commnd=["x"], timeout=5)
    def main(self): ...

    @service("s", command=["y"], prot=80)
    def svc(self): ...
