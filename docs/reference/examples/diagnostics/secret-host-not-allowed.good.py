from mvm import workload, entrypoint, NetworkPolicy, SecretRef

@workload("summarise", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.example.net"),
          secrets={"API_KEY": SecretRef("example-api-key", hosts=["api.example.net"])})
class Summarise:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
