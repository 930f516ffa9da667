from mvm import SecretRef, Volume, entrypoint, workload

@workload("object-volume", image="template:busybox",
          volumes=[Volume.object("s3://datasets", "/datasets", endpoint="https://s3.example.com",
                                 credentials=SecretRef("datasets-keys"))])
class ObjectVolume:
    @entrypoint(command=["ls", "/datasets"])
    def main(self): ...
