import os
from mvm import workload, entrypoint

@workload("report", image=os.environ["REPORT_IMAGE"])
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
