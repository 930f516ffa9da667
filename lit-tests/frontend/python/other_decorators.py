# Decorators that do not come from `mvm` are ignored, even when they are called `workload` or
# `entrypoint` and their arguments are anything but static: this file has no declaration at all.
# RUN: %mvmctl check %s 2>&1 | count 0
# RUN: %mvmctl check --format=json %s | FileCheck %s
# RUN: %mvmctl compile --dump ir %s | FileCheck %s --check-prefix=IR
# CHECK: {{^}}{"diagnostics":[]}{{$}}
# IR: {{^}}{"schema_version":"mvm.ir/v1"}{{$}}
import functools
import os
from dataclasses import dataclass

import modal
import pytest
from celery_like import entrypoint, workload
from flask import Flask

app = Flask(__name__)
stub = modal.App("example")
PORT = 1
PORT = 2


@app.route("/", methods=["GET"])
def index():
    return f"hello {PORT}"


@pytest.fixture(scope="module")
def client():
    return app.test_client()


@pytest.mark.parametrize("x", [1, 2])
def test_x(x):
    assert x


@stub.function(image=modal.Image.debian_slim().pip_install("requests"), secrets=[os.environ["S"]])
def remote(): ...


@workload("Not An Id!", image=os.environ["X"], cpu=0, **{"whatever": True})
class NotOurs:
    @entrypoint(anything=goes())
    def main(self): ...


@dataclass
class Point:
    x: int = 0


@functools.lru_cache(maxsize=None)
def cached(): ...
