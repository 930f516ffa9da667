from mvm import workload, entrypoint
import mvm
match command:
    case [x, *rest] if x: pass
    case {"k": v, **kw}: pass
async def g():
    async with a as b, c:
        await d
    async for i in j: yield i
type Alias[T] = list[T]
def generic[T: int, *Ts, **P](x: T, /, *, y=1) -> T: ...
try:
    pass
except* ValueError as e:
    raise
finally:
    del e
with (open("a") as a, open("b") as b): print(a, b, sep="", end="")
x = [i for i in range(3) if i] + list({i: i for i in ()}) + [*{1, 2}]
global q; nonlocal_ = 1; assert x, "m"; exec = 1; print >> sys.stderr
@mvm.workload(id="attr-form", image="template:busybox")
class A:
    @mvm.entrypoint(command=["x"])
    def main(self): ...
