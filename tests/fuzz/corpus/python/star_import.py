from mvm import *

@workload("star", image="nix:.#default", network=NetworkPolicy.deny_by_default().allow_dns())
class Star:
    @entrypoint("go", command=["go"])
    def go(self): ...
