from mvm import workload

@workload("report", image="template:python-3.11", files=["key-like-file-shipped.*.py", "key-like-file-shipped.d/*", "!*.key"])
def report():
    print("done")
