from mvm import workload, entrypoint, service


@workload(
    "review",
    image="template:python-3.11",
    env={"LOG_LEVEL": "debug", "PYTHONPATH": "/evil", "SERVICE_TOKEN": "tok-new-0002"},
)
class Review:
    @entrypoint(command=["python3", "/app/main.py", "--out", "/tmp/report"])
    def main(self): ...

    @service("api", command=["python3", "-m", "http.server", "8080"], port=8080)
    def api(self): ...
