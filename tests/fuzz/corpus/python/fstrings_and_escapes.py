from mvm import workload, entrypoint
name = "x"

@workload(f"id-{name}", image="template:" "busybox", env={
    "RAW": r"\n\t", "ESC": "\x41\u00e9\U0001F600\101\N{BULLET}\
", "BYTES": b"bytes", "TRIPLE": """multi
line""", "FMT": f"{name!r:>10}", "NESTED": f"{f'{name}'}", "SURROGATE": "\ud800", "HIGH": "\U0010ffff",
})
class F:
    @entrypoint(command=[rb"x", u"y", F"z{1}"])
    def main(self): ...
