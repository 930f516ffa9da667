from mvm import workload, entrypoint, NetworkPolicy

@workload("fetch", image="template:busybox",
          network=NetworkPolicy.deny_by_default().allow_https("api.example.com"))
class Fetch:
    @entrypoint(command=["wget", "-qO-", "https://api.example.com/status"])
    def main(self): ...
