from mvm import workload, entrypoint

@workload("nightly-report", image="template:busybox")
class NightlyReport:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
