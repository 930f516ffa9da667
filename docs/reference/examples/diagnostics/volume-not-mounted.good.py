from mvm import workload, entrypoint, Volume

@workload("notes", image="template:busybox",
          volumes=[Volume.local("./notes", "/notes", mode="ro")])
class Notes:
    @entrypoint(command=["sh", "-c", "ls /notes"])
    def main(self): ...
