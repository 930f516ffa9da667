import dataclasses

@dataclasses.dataclass
class Point:
    x: int = 0
    y: int = 0

def workload(*a, **k):
    return lambda f: f

@workload("not-mvm", image="template:busybox")
class NotMvm: ...
