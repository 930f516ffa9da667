from mvm import workload, entrypoint

@workload("app", image="template:busybox")
class App:
    @entrypoint(command=["true"])
    def main(self): ...
