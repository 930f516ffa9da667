from mvm import workload, entrypoint

@workload("broken", image="template:busybox"
class Broken:
    @entrypoint(command=["x"]
    def main(self) ...
        return (]
