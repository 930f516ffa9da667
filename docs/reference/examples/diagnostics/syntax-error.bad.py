from mvm import workload, entrypoint

@workload("report", image="template:busybox"
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
