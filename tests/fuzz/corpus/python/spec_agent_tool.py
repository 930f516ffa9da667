"""An agent tool that may call one API with one secret, and nothing else."""

from mvm import workload, entrypoint, service, NetworkPolicy, SecretRef, Volume


@workload(
    "agent-tool",
    image="nix:./flake#agent-runtime",
    cpu=2,
    memory_mb=2048,
    disk_mb=4096,
    timeout_seconds=30,
    network=NetworkPolicy.deny_by_default()
    .allow_https("api.openai.com")
    .allow_http("mirror.example.org")
    .allow_dns(),
    secrets={"OPENAI_API_KEY": SecretRef("openai-api-key", hosts=["api.openai.com"])},
    volumes=[Volume.local("./data", "/data", mode="ro"), Volume.memory("/scratch", size_mb=256)],
    env={"LOG_LEVEL": "info"},
    ports=[8080],
    isolation="microvm",
    labels={"team": "ml"},
)
class AgentTool:
    @entrypoint(command=["python", "/app/main.py"])
    def main(self): ...

    @entrypoint("warmup", command=["python", "/app/warm.py"], timeout_seconds=5)
    def warmup(self): ...

    @service("api", command=["python", "-m", "http.server", "8080"], port=8080)
    def api(self): ...


# A function can be a workload too; its entrypoint runs this function.
@workload("tiny", image="template:python-3.11", cpu=1, memory_mb=256)
def tiny():
    print("hello from mvm")
