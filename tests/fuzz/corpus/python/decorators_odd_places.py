from mvm import workload, entrypoint, service
import flask

app = flask.Flask(__name__)

@app.route("/")
@workload("stacked", image="template:busybox")
@workload("stacked-again", image="template:busybox")
def handler(): ...

def outer():
    @workload("inner", image="template:busybox")
    class Inner: ...

@entrypoint(command=["x"])
def lonely(): ...

@workload("cls", image="template:busybox")
class Cls:
    @service
    def bare(self): ...

    @workload("method", image="template:busybox")
    def m(self): ...

    class Nested:
        @entrypoint(command=["y"])
        def inner(self): ...

    @staticmethod
    @entrypoint(command=["z"])
    @service("svc", command=["s"], port=70000)
    async def both(): ...

if True:
    @workload("in-if", image="template:busybox")
    class InIf: ...

@(workload)("paren", image="template:busybox")
class Paren: ...

@workload
class Bare: ...

@workload()
class Empty: ...
