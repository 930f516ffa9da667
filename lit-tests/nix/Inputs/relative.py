from mvm import workload, entrypoint


@workload("builder", image="nix:./flake#rootfs")
class Builder:
    @entrypoint(command=["make"])
    def main(self): ...
