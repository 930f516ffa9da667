# mvmctl-args: --profile production
from mvm import workload, entrypoint

@workload("report", timeout_seconds=300,
          image="oci:python:3.12@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
class Report:
    @entrypoint(command=["python3", "-c", "print('done')"])
    def main(self): ...
