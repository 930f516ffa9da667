from mvm import workload

@workload("report", image="template:python-3.11", files=["file-limit-exceeded.good.py"])
def report():
    print("done")
