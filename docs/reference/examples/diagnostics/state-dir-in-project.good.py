from mvm import workload

@workload("report", image="template:python-3.11", files=["state-dir-in-project.*.py"])
def report():
    print("done")
