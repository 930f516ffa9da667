# mvmctl-args: --max-files 2
from mvm import workload

# Without `files=`, the whole directory ships: more than two files here.
@workload("report", image="template:python-3.11")
def report():
    print("done")
