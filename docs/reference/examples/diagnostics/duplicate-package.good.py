from mvm import workload, entrypoint, Image

@workload("tools", image=Image.debian(packages=["jq", "python3-yaml"]))
class Tools:
    @entrypoint(command=["jq", "--version"])
    def main(self): ...
