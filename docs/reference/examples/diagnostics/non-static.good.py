from mvm import workload, entrypoint

REPORT_IMAGE = "template:busybox"

@workload("report", image=REPORT_IMAGE)
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
