from mvm import workload, entrypoint

@workload("Nightly_Report", image="template:busybox")
class NightlyReport:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
