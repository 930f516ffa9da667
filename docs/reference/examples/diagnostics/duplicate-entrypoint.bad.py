from mvm import workload, entrypoint

@workload("shop", image="template:busybox")
class Shop:
    @entrypoint("import", command=["sh", "-c", "echo import orders"])
    def import_orders(self): ...

    @entrypoint("import", command=["sh", "-c", "echo import customers"])
    def import_customers(self): ...
