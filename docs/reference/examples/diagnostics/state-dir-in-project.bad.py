from mvm import workload

@workload("report", image="template:python-3.11", files=["state-dir-in-project.*.py", "state-dir-in-project.d/**"])
def report():
    print("done")
