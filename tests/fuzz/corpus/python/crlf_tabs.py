from mvm import workload, entrypoint
@workload("crlf",
  image="template:busybox")
class C:
	@entrypoint(command=["x"])
	def main(self): ...
