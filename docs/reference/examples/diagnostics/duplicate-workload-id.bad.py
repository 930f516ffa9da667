from mvm import workload, entrypoint

@workload("report", image="template:busybox")
class Report:
    @entrypoint(command=["sh", "-c", "echo daily"])
    def main(self): ...

@workload("report", image="template:busybox")
class WeeklyReport:
    @entrypoint(command=["sh", "-c", "echo weekly"])
    def main(self): ...
