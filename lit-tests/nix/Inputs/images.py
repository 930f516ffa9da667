from mvm import workload, entrypoint


@workload("builder", image="nix:./flake#rootfs")
class Builder:
    @entrypoint(command=["make"])
    def main(self): ...


@workload("remote", image="nix:github:acme/images?dir=base#packages.x86_64-linux.base")
class Remote:
    @entrypoint(command=["true"])
    def main(self): ...


@workload("tiny", image="template:busybox")
class Tiny:
    @entrypoint(command=["true"])
    def main(self): ...


@workload("py", image="template:python-3.11")
class Py:
    @entrypoint(command=["python3", "-c", "print(1)"])
    def main(self): ...


@workload(
    "web",
    image="oci:ghcr.io/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
)
class Web:
    @entrypoint(command=["true"])
    def main(self): ...
