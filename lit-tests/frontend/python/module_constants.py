# Module-level constants assigned once are read, including annotated ones, constants built from other
# constants, integer arithmetic (`+ - * //`, folded with Python's floor division) and string `+`.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
from mvm import workload, entrypoint, NetworkPolicy, SecretRef

GIB = 1024
MEMORY: int = 2 * GIB - 512 // 2
CPUS = (1 + 1) * 3
DISK = 0x1000 + 1_000
TIMEOUT: "int" = -7 // 2 + 64
DOMAIN = "example.com"
HOST = "api." + DOMAIN
IMAGE = "template:" "busybox"
COMMAND = ["python3", "/app/" + "main.py"]
PORTS = [8000 + 80, 9000]
LABELS = {"team": "ml", "tier": "b" + "ackend"}

@workload("constants", image=IMAGE, cpu=CPUS, memory_mb=MEMORY, disk_mb=DISK,
          timeout_seconds=TIMEOUT, ports=PORTS, labels=LABELS,
          network=NetworkPolicy.deny_by_default().allow_https(HOST),
          secrets={"KEY": SecretRef("key", hosts=[HOST])})
class Constants:
    @entrypoint(command=COMMAND)
    def main(self): ...

# CHECK: {"entrypoints":[{"command":["python3","/app/main.py"],
# CHECK-SAME: "id":"constants","image":{"kind":"template","ref":"busybox"}
# CHECK-SAME: "labels":{"team":"ml","tier":"backend"}
# CHECK-SAME: "rules":[{"host":"api.example.com",
# CHECK-SAME: "ports":[8080,9000],"resources":{"cpu":6,"disk_mb":5096,"memory_mb":1792}
# CHECK-SAME: "secrets":[{"env":"KEY","hosts":["api.example.com"],
# CHECK-SAME: "timeout_seconds":60}]}
