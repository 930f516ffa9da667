from mvm import workload, entrypoint, NetworkPolicy, SecretRef

@workload("net", image="template:busybox",
          network=NetworkPolicy.deny_by_default()
              .allow_https("B.example.com").allow_https("a.example.com").allow_https("a.example.com")
              .allow_http("*.Example.com").allow_https("*").allow_https("").allow_https("1.2.3.4").allow_dns(),
          secrets={"Z": SecretRef("z", hosts=["b.example.com", "B.EXAMPLE.COM", "c.example.com"]),
                   "A": SecretRef(name="a", hosts=[]), "lower-case": SecretRef("x")})
class Net:
    @entrypoint(command=["x"])
    def main(self): ...
