from mvm import workload, entrypoint

@workload("report", image="template:busybox", isolation="microvmm")
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
