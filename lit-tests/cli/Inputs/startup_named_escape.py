from mvm import entrypoint, workload


@workload("named-escape", image="template:busybox", isolation="container", timeout_seconds=30)
class NamedEscape:
    @entrypoint(command=["/bin/echo", "\N{snowman}"])
    def main(self): ...
