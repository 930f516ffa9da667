# A plaintext string where a secret is expected is `plaintext-secret`; the literal is masked as "****" in
# every output (the source line of this and of any other diagnostic, JSON, SARIF) and never reaches the IR.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
# RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=SARIF
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl check --format=sarif %s | FileCheck %s --check-prefix=NOLEAK
# RUN: not %mvmctl compile --dump ir %s 2>&1 | FileCheck %s --check-prefix=NOLEAK
# NOLEAK-NOT: sk-live
# NOLEAK-NOT: part-two
from mvm import workload, NetworkPolicy

TOKEN = "sk-live-from-a-constant"
SECRETS = {"FROM_DICT": "sk-live-from-a-dict-constant"}
# CHECK: fail_plaintext_secret.py:[[@LINE-1]]:25: error: secret `FROM_DICT` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
# CHECK-NEXT: {{^}}SECRETS = {"FROM_DICT": "****"}{{$}}
# CHECK-NEXT: {{^}}                        ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: store the value in a secret store and reference it by name: `SecretRef("name", hosts=[...])`{{$}}
# JSON: {"file":"{{[^"]*}}fail_plaintext_secret.py","line":[[@LINE-5]],"column":25,"end_line":[[@LINE-5]],"end_column":55,"severity":"error","code":"MVM1005","kind":"plaintext-secret","message":"secret `FROM_DICT` is a plaintext string; secrets must be `SecretRef` references","hint":"store the value in a secret store and reference it by name: `SecretRef(\"name\", hosts=[...])`"}

@workload("literal", image="template:busybox",
          secrets={"OPENAI_API_KEY": "sk-live-0123456789abcdef"})
# CHECK: fail_plaintext_secret.py:[[@LINE-1]]:38: error: secret `OPENAI_API_KEY` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
# CHECK-NEXT: {{^}}          secrets={"OPENAI_API_KEY": "****"}){{$}}
# CHECK-NEXT: {{^}}                                     ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: store the value in a secret store and reference it by name: `SecretRef("name", hosts=[...])`{{$}}
def literal(): ...

@workload("constant", image="template:busybox", secrets={"TOKEN": TOKEN})
# CHECK: fail_plaintext_secret.py:[[@LINE-1]]:67: error: secret `TOKEN` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
# CHECK-NEXT: {{^}}@workload("constant", image="template:busybox", secrets={"TOKEN": "****"}){{$}}
# CHECK-NEXT: {{^}}                                                                  ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: store the value in a secret store and reference it by name: `SecretRef("name", hosts=[...])`{{$}}
def constant(): ...

@workload("dict-constant", image="template:busybox", secrets=SECRETS)
def dict_constant(): ...

@workload("concatenated", image="template:busybox",
          secrets={"SPLIT": "sk-live-part-one-"
                            # CHECK: fail_plaintext_secret.py:[[@LINE-1]]:29: error: secret `SPLIT` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
                            # CHECK-NEXT: {{^}}          secrets={"SPLIT": "****"{{$}}
                            # CHECK-NEXT: {{^}}                            ^~~~~~{{$}}
                            # CHECK-NEXT: {{^}}  hint: store the value in a secret store and reference it by name: `SecretRef("name", hosts=[...])`{{$}}
                            "part-two", "FOLDED": "sk-live-" + TOKEN})
# CHECK: fail_plaintext_secret.py:[[@LINE-1]]:51: error: secret `FOLDED` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
# CHECK-NEXT: {{^}}"****", "FOLDED": "****"}){{$}}
# CHECK-NEXT: {{^}}                  ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: store the value in a secret store and reference it by name: `SecretRef("name", hosts=[...])`{{$}}
def concatenated(): ...

@workload("same-line", image="template:busybox", cpu=0, secrets={"K": "sk-live-next-to-an-error"})
# CHECK: fail_plaintext_secret.py:[[@LINE-1]]:54: error: `cpu` is 0, outside the range 1..64 [out-of-range]{{$}}
# CHECK-NEXT: {{^}}@workload("same-line", image="template:busybox", cpu=0, secrets={"K": "****"}){{$}}
# CHECK-NEXT: {{^}}                                                     ^{{$}}
# JSON-SAME: {"file":"{{[^"]*}}fail_plaintext_secret.py","line":[[@LINE-4]],"column":54,"end_line":[[@LINE-4]],"end_column":55,"severity":"error","code":"MVM2001","kind":"out-of-range","message":"`cpu` is 0, outside the range 1..64"}
# CHECK: fail_plaintext_secret.py:[[@LINE-5]]:71: error: secret `K` is a plaintext string; secrets must be `SecretRef` references [plaintext-secret]{{$}}
# CHECK-NEXT: {{^}}@workload("same-line", image="template:busybox", cpu=0, secrets={"K": "****"}){{$}}
# CHECK-NEXT: {{^}}                                                                      ^~~~~~{{$}}
# CHECK-NEXT: {{^}}  hint: store the value in a secret store and reference it by name: `SecretRef("name", hosts=[...])`{{$}}
def same_line(): ...

# SARIF: "version": "2.1.0"
# SARIF: "ruleId": "MVM1005"
# SARIF: "text": "secret `OPENAI_API_KEY` is a plaintext string; secrets must be `SecretRef` references (hint: store the value in a secret store and reference it by name: `SecretRef(\"name\", hosts=[...])`)"
# CHECK: {{^}}7 errors generated.{{$}}
