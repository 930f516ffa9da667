from mvm import workload, entrypoint


@workload("tiny", image="template:busybox")
class Tiny:
    @entrypoint(command=["/bin/sh", "-c", "echo ok"])
    def main(self): ...
