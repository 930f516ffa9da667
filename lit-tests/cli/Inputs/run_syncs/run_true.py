from mvm import entrypoint, workload


@workload("run-true", image="template:busybox", isolation="container", timeout_seconds=30)
class RunTrue:
    @entrypoint(command=["/bin/true"])
    def main(self): ...
