from mvm import workload, entrypoint, NetworkPolicy, Volume


@workload("tiny", image="template:busybox")
class Tiny:
    @entrypoint(command=["true"])
    def main(self): ...


@workload(
    "builder",
    image="nix:./flake#agent-runtime",
    network=NetworkPolicy.deny_by_default().allow_dns(),
    volumes=[Volume.local("./data", "/data"), Volume.memory("/scratch")],
    ports=[8080],
)
class Builder:
    @entrypoint(command=["make"])
    def main(self): ...
