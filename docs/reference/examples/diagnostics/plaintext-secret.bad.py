from mvm import workload, entrypoint, NetworkPolicy

@workload("summarise", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com"),
          secrets={"API_KEY": "fake-key-0000-not-a-real-secret"})
class Summarise:
    @entrypoint(command=["sh", "-c", "echo done"])
    def main(self): ...
