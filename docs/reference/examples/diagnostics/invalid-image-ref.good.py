from mvm import workload, entrypoint

@workload("report", image="oci:python:3.12")
class Report:
    @entrypoint(command=["python3", "-c", "print('done')"])
    def main(self): ...
