# mvm declarations next to Flask, pytest and same-named decorators from other packages: only the `mvm`
# ones are read, and a foreign decorator stacked on an mvm one changes nothing.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
# RUN: %mvmctl compile --dump ir %s | FileCheck %s
# JSON: {{^}}{"diagnostics":[]}{{$}}
import os

import pytest
from flask import Flask
from other import service

from mvm import entrypoint, workload

app = Flask(__name__)


@app.route("/health")
def health():
    return "ok"


@workload("web", image="template:python-3.11", timeout_seconds=60)
class Web:
    @entrypoint(command=["python3", "-m", "flask", "run"])
    @pytest.mark.skip(reason="not a test")
    def main(self): ...

    # `service` comes from `other`, so this is not an mvm service and its argument is never read.
    @service(port=os.environ["PORT"])
    def not_ours(self): ...

    @staticmethod
    def helper(): ...


@pytest.fixture
@workload("fn", image="template:busybox")
def fn():
    return 1
# Two workloads, and `web` has exactly one entrypoint and no services.
# CHECK: {{^}}{"schema_version":"mvm.ir/v1","workloads":[{"entrypoints":[{"command":["python3","-m","flask","run"],"loc":{{[{][^}]*}}},"name":"main"}],"id":"web",
# CHECK-NOT: "services"
# CHECK-SAME: {"entrypoints":[{"command":["python3","-m","mvm.run","/app/mixed_decorators.py","fn"],"loc":{{[{][^}]*}}},"name":"main"}],"id":"fn",
