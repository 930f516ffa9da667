from mvm import workload

@workload("report", image="template:busybox")
class Report:
    def main(self): ...
