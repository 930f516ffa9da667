from mvm import workload, entrypoint, service


@workload(
    "review",
    image="template:python-3.11",
    env={"LOG_LEVEL": "info", "GREETING": "hello world", "SERVICE_TOKEN": "tok-old-0001"},
)
class Review:
    @entrypoint(command=["sh", "-c", "rm -rf /data/* # it's fine\x1b[2K"])
    def main(self): ...

    @service("api", command=["python3", "-m", "http.server", "8080"], port=8080)
    def api(self): ...
