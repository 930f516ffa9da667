from mvm import workload, entrypoint

@workload("report", image="template:busybox", memory_mb=512)
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
