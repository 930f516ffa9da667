from mvm import workload
@workload("x", image="template:busybox, cpu=2)
def f(): """never closed
