# mvmctl-args: --profile production
from mvm import workload, entrypoint

@workload("report", image="template:busybox", timeout_seconds=300, isolation="microvm")
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
