from mvm import workload, entrypoint

@workload("report", image="template:busybox", cpu=2, memory_mb=512)
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
