from mvm import workload

@workload("report", image="template:python-3.11", files=["*.py", "file-symlink-escapes.d/*"])
def report():
    print(open("/app/file-symlink-escapes.d/hostname").read())
