from mvm import workload, entrypoint, NetworkPolicy, SecretRef, Volume


@workload(
    "agent-tool",
    image="oci:ghcr.io/acme/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    cpu=2,
    memory_mb=1024,
    timeout_seconds=60,
    network=NetworkPolicy.deny_by_default().allow_https("api.openai.com"),
    secrets={"OPENAI_API_KEY": SecretRef("openai-api-key", hosts=["api.openai.com"])},
    volumes=[Volume.local("./data", "/data", mode="ro")],
)
class AgentTool:
    @entrypoint(command=["python", "/app/main.py"])
    def main(self): ...
