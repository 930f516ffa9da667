from mvm import workload, entrypoint

@workload("report", image="template:busybox", memory=512)
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
