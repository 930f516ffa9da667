from mvm import workload, entrypoint

@workload("nested", image="template:busybox",
          labels={"a": {"b": {"c": [1, 2, {"d": None}]}}},
          env={"A": "1", "A": "2", 1: "x", "B": True, "C": 1.5, "D": (1, 2), "E": {"k": "v"}, **{"F": "f"}},
          secrets={"S": "sk-live-plaintext-secret", "T": {"name": "t"}},
          volumes=[{"kind": "local"}, Volume.local("../escape", "/", mode="rw"), Volume.local("a", "b", "c", "d")])
class N:
    @entrypoint(command=[], name="")
    def main(self): ...
