from mvm import workload, entrypoint


@workload("py", image="template:python-3.11")
class Py:
    @entrypoint(command=["python3", "-c", "print(1)"])
    def main(self): ...
