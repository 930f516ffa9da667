from mvm import workload

@workload("tiny", image="template:python-3.11", cpu=1, memory_mb=256)
def tiny():
    print("hello from mvm")
