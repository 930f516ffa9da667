from mvm import workload, entrypoint

@workload("report", image="template:busybox")
class Report:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...

@entrypoint(command=["sh", "-c", "rm -rf /tmp/report"])
def cleanup(): ...
