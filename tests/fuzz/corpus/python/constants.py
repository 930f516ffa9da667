from mvm import workload, entrypoint, SecretRef

MEMORY = 1024 * 2
CPU: int = 4 // 2 - 1 + 1
BASE = "template:"
IMAGE = BASE + "python-3.11"
HOSTS = ["api.example.com", "*.cdn.example.com"]
SECRET = SecretRef("key", hosts=HOSTS)
TWICE = 1
TWICE = 2
SELF = SELF + 1
NEG = -9223372036854775807 - 1
BIG = 9223372036854775807 * 2

@workload("consts", image=IMAGE, cpu=CPU, memory_mb=MEMORY, secrets={"K": SECRET},
          disk_mb=TWICE, timeout_seconds=SELF, ports=[NEG, BIG, 0x1F90, 0o17, 0b1, 1_000])
class Consts:
    @entrypoint(command=["a"] + ["b"])
    def main(self): ...
