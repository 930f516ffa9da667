from mvm import workload

@workload("report", image="template:python-3.11", files=["*.py"])
def report():
    print("done")
