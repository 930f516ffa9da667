from mvm import workload

@workload("good", image="template:busybox")
def good(): ...

@workload("bad", image="template:busybox", cpu=0)
def bad(): ...
