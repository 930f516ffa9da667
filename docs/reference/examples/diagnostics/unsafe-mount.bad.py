# mvmctl-args: --profile production
from mvm import workload, entrypoint, Volume

@workload("report", image="template:busybox", timeout_seconds=300,
          volumes=[Volume.local("./data", "/data", mode="rw")])
class Report:
    @entrypoint(command=["sh", "-c", "wc -l /data/input.csv"])
    def main(self): ...
