# mvmctl-args: --policy {dir}/policy-violation.policy.json
from mvm import workload, entrypoint

@workload("report", image="template:busybox", memory_mb=1024)
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
