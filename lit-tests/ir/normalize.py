# The normalize pass: hosts lowercased; network rules sorted by (host, protocol) byte-wise with duplicates
# removed (the first declaration keeps its location); secrets sorted by `env`; each secret's hosts sorted
# and de-duplicated. `--phase=frontend` shows the IR as declared, before any pass.
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
# RUN: %mvmctl compile --phase=frontend --dump ir %s | FileCheck %s --check-prefix=DECLARED
from mvm import workload, NetworkPolicy, SecretRef

@workload("normalized", image="template:busybox",
          network=NetworkPolicy.deny_by_default()
          .allow_https("Zeta.Example.COM")
          .allow_http("alpha.example.com")
          .allow_https("alpha.example.com")
          .allow_https("zeta.example.com")
          .allow_https("*.Mid.Example.com")
          .allow_http("ALPHA.example.com"),
          secrets={"ZED": SecretRef("z", hosts=["zeta.example.com", "ALPHA.example.com", "alpha.example.com"]),
                   "ALPHA": SecretRef("a", hosts=["x.mid.example.com"]),
                   "MID": SecretRef("m", hosts=["Zeta.example.com"])})
def normalized(): ...

# `*` sorts before letters; `http` before `https` for the same host; `Zeta.Example.COM` (line 10) and
# `zeta.example.com` (line 13) are one rule, kept at line 10.
# CHECK: "rules":[{"host":"*.mid.example.com","loc":{"column":24,"end_column":43,"end_line":14,"file":"{{[^"]*}}normalize.py","line":14},"protocol":"https"},
# CHECK-SAME: {"host":"alpha.example.com","loc":{"column":23,"end_column":42,"end_line":11,"file":"{{[^"]*}}normalize.py","line":11},"protocol":"http"},
# CHECK-SAME: {"host":"alpha.example.com","loc":{"column":24,"end_column":43,"end_line":12,"file":"{{[^"]*}}normalize.py","line":12},"protocol":"https"},
# CHECK-SAME: {"host":"zeta.example.com","loc":{"column":24,"end_column":42,"end_line":10,"file":"{{[^"]*}}normalize.py","line":10},"protocol":"https"}]},
# CHECK-SAME: "secrets":[{"env":"ALPHA","hosts":["x.mid.example.com"],
# CHECK-SAME: {"env":"MID","hosts":["zeta.example.com"],
# CHECK-SAME: {"env":"ZED","hosts":["alpha.example.com","zeta.example.com"],

# DECLARED: "rules":[{"host":"Zeta.Example.COM",{{.*}}{"host":"alpha.example.com",{{.*}}"protocol":"http"},{"host":"alpha.example.com",{{.*}}{"host":"zeta.example.com",{{.*}}{"host":"*.Mid.Example.com",{{.*}}{"host":"ALPHA.example.com",{{.*}}"protocol":"http"}]},
# DECLARED-SAME: "secrets":[{"env":"ZED","hosts":["zeta.example.com","ALPHA.example.com","alpha.example.com"],{{.*}}{"env":"ALPHA",{{.*}}{"env":"MID","hosts":["Zeta.example.com"],
