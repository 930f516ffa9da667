from mvm import workload, entrypoint, Volume

@workload("notes", image="template:busybox",
          volumes=[Volume.encrypted("notes", "/notes", size_mb=256)])
class Notes:
    @entrypoint(command=["sh", "-c", "ls /notes"])
    def main(self): ...
