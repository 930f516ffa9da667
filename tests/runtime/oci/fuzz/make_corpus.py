#!/usr/bin/env python3
"""Writes the seed corpus of the unpack fuzz target (unpack_fuzz.cc) to corpus/.

Each seed is the fuzz input format: a first byte, then one uncompressed layer tar (first byte
even), or two layers, the first 512 * (byte >> 1) bytes long (first byte odd). The tars are pax,
cut after their last member's data (no end-of-archive blocks or record padding) to stay tiny.
Run it again after changing it; the seeds are checked in. `regress_*` files are fuzzer finds,
kept as they were found.
"""

import io
import os
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))


def member(name, kind="file", data=b"", link="", mode=0o644, uid=0, gid=0, pax=None):
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 1700000000
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
                 "fifo": tarfile.FIFOTYPE}[kind]
    info.linkname = link
    info.size = len(data) if kind == "file" else 0
    if pax:
        info.pax_headers = pax
    return info, data


def tar(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data else None)
            end = out.tell()
    return out.getvalue()[:end]


def one(members):
    return b"\x00" + tar(members)


def two(lower, upper):
    first = tar(lower)
    assert len(first) % 512 == 0 and len(first) // 512 < 128
    return bytes([(len(first) // 512) << 1 | 1]) + first + tar(upper)


SEEDS = {
    "basic": one([member("etc", "dir", mode=0o755), member("etc/passwd", data=b"root:x:0:0\n"),
                  member("usr/lib/tool", data=b"#!/bin/sh\n", mode=0o4755, uid=1000),
                  member("lib", "symlink", link="usr/lib"),
                  member("usr/lib/again", "hardlink", link="usr/lib/tool")]),
    "policies": one([member("bin/ping", data=b"x", mode=0o755,
                            pax={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}),
                     member("dev/null", "chr"), member("run/p", "fifo"),
                     member("d", "dir", mode=0o3775)]),
    "hostile": one([member("../escape", data=b"x"), member("/abs", data=b"x"),
                    member("h", "hardlink", link="../outside")]),
    "whiteouts": two([member("d/old", data=b"o"), member("d/sub/x", data=b"o"),
                      member("f", data=b"lower"), member("g", data=b"g")],
                     [member("d/.wh..wh..opq"), member("d/new", data=b"n"), member(".wh.g"),
                      member("f", data=b"upper"), member(".wh.f")]),
    "symlink_escape": two([member("root", "symlink", link="/"),
                           member("up", "symlink", link="../../../.."),
                           member("out", "symlink", link="../secret"),
                           member("real/f", data=b"data"), member("s", "symlink", link="real")],
                          [member("root/escaped", data=b"1"), member("up/escaped2", data=b"2"),
                           member("out", data=b"replaced"), member("h", "hardlink", link="s/f"),
                           member("root/etc/passwd", data=b"3")]),
    "hardlink_replaced": two([member("a", data=b"old"), member("b", "hardlink", link="a")],
                             [member("a", data=b"new"), member("c", "hardlink", link="b")]),
}

if __name__ == "__main__":
    for name, data in SEEDS.items():
        with open(os.path.join(HERE, "corpus", name), "wb") as f:
            f.write(data)
