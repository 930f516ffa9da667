from mvm import workload, entrypoint

@workload("report")
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
