from mvm import workload, entrypoint
L0 = ["x"]
L1 = [L0, L0]
L2 = [L1, L1]
L3 = [L2, L2]
L4 = [L3, L3]
L5 = [L4, L4]
L6 = [L5, L5]
L7 = [L6, L6]
L8 = [L7, L7]
L9 = [L8, L8]
L10 = [L9, L9]
L11 = [L10, L10]
L12 = [L11, L11]
L13 = [L12, L12]
L14 = [L13, L13]
L15 = [L14, L14]
@workload("fan", image="template:busybox", labels={"k": L15})
class F:
    @entrypoint(command=["x"])
    def main(self): ...
