import mvm as m
from mvm import workload as wl, entrypoint as ep, SecretRef as S, NetworkPolicy as NP, Volume as V

@wl("aliased", image="oci:ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    network=NP.deny_by_default().allow_https("API.Example.com").allow_https("*.example.org"),
    secrets={"TOKEN": S("token", hosts=["api.example.com"])},
    volumes=[V.memory("/tmp/x", size_mb=8)], timeout_seconds=10)
class Aliased:
    @ep(command=["run"])
    def main(self): ...

    @m.service("web", command=["serve"], port=8080)
    def web(self): ...
