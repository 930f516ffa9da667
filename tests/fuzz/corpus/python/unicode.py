# -*- coding: utf-8 -*-
from mvm import workload, entrypoint

ÉTIQUETTE = "héllo wörld ✓ 日本語 😀"

@workload("ünïcode", image="template:busybox", labels={"ключ": ÉTIQUETTE, "e\u0301": "\u200b"})
class Ünïcode:
    @entrypoint(command=["echo", "	tab", "😀😀😀"], timeout_seconds=5)
    def 主(self): ...
