from mvm import workload, entrypoint, Image

@workload("tools", image=Image.debian(packages=["jq=1.6"]))
class Tools:
    @entrypoint(command=["jq", "--version"])
    def main(self): ...
