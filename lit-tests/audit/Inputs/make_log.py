#!/usr/bin/env python3
"""Writes an mvm audit log from the format alone: shares no code with mvmctl.

usage: make_log.py OUT N [--command WORD] [--back K] [--key KEY]

Writes N `exec` records to OUT, one per line, each {"seq","time","event","prev","hash",
"sandbox","command"} chained by SHA-256: `prev` is the previous record's `hash` ("sha256:" and 64
zeros for the first) and `hash` is "sha256:" + SHA-256 of the record's canonical JSON (RFC 8785)
without `hash`. The records hold only ASCII strings and integers, for which RFC 8785 is
`json.dumps(sort_keys=True, separators=(",", ":"))`. Times start at 2025-01-01T00:00:00.000Z and
advance one second per record; with --back K, record K and later are ten minutes earlier (a clock
set back). --command sets the word in the `command` field (default `echo`), so two logs can differ.

Without --key the log has no checkpoints and no head file, as a Log opened without a key writes it.
With --key (a `.key` file of `mvmctl key gen`: base64 of seed and public key) a checkpoint record
follows the N records, {..., "key_id", "public_key", "sig"} with `sig` the Ed25519 signature of
"mvm-audit-checkpoint-v1\n" + the canonical record without `hash` and `sig`, and OUT.head holds
the signed end of the log: the canonical {"hash","key_id","public_key","seq","sig"} and a newline,
`sig` signing "mvm-audit-head-v1\n" + the canonical head without `sig`. Signing uses
`openssl pkeyutl -rawin` (OpenSSL 3).
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import os
import subprocess
import tempfile


def canonical(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def sign(seed: bytes, message: bytes) -> str:
    # PKCS #8 for an Ed25519 private key (RFC 8410) is a fixed 16-byte prefix and the seed.
    der = binascii.unhexlify("302e020100300506032b657004220420") + seed
    with tempfile.TemporaryDirectory() as tmp:
        key_path = os.path.join(tmp, "key.der")
        msg_path = os.path.join(tmp, "message")
        with open(key_path, "wb") as f:
            f.write(der)
        with open(msg_path, "wb") as f:
            f.write(message)
        sig = subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-inkey", key_path, "-keyform", "DER", "-rawin",
             "-in", msg_path],
            check=True, capture_output=True).stdout
    return base64.b64encode(sig).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("n", type=int)
    parser.add_argument("--command", default="echo")
    parser.add_argument("--back", type=int, default=0)
    parser.add_argument("--key")
    args = parser.parse_args()

    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    prev = "sha256:" + "0" * 64
    lines = []
    for seq in range(1, args.n + 1):
        when = start + datetime.timedelta(seconds=seq - 1)
        if args.back and seq >= args.back:
            when -= datetime.timedelta(minutes=10)
        record = {
            "seq": seq,
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000),
            "event": "exec",
            "prev": prev,
            "sandbox": "web",
            "command": "%s %d" % (args.command, seq),
        }
        record["hash"] = "sha256:" + hashlib.sha256(canonical(record).encode()).hexdigest()
        prev = record["hash"]
        lines.append(canonical(record) + "\n")
    if args.key:
        with open(args.key, encoding="ascii") as f:
            secret = base64.b64decode(f.read().strip(), validate=True)
        seed, public = secret[:32], secret[32:]
        public_b64 = base64.b64encode(public).decode()
        key_id = hashlib.sha256(public).hexdigest()[:16]
        seq = args.n + 1
        when = start + datetime.timedelta(seconds=args.n)
        checkpoint = {
            "seq": seq,
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "event": "checkpoint",
            "prev": prev,
            "key_id": key_id,
            "public_key": public_b64,
        }
        checkpoint["sig"] = sign(seed, b"mvm-audit-checkpoint-v1\n" + canonical(checkpoint).encode())
        checkpoint["hash"] = "sha256:" + hashlib.sha256(canonical(checkpoint).encode()).hexdigest()
        lines.append(canonical(checkpoint) + "\n")
        head = {"seq": seq, "hash": checkpoint["hash"], "key_id": key_id, "public_key": public_b64}
        head["sig"] = sign(seed, b"mvm-audit-head-v1\n" + canonical(head).encode())
        with open(args.out + ".head", "w", encoding="ascii") as f:
            f.write(canonical(head) + "\n")
    with open(args.out, "w", encoding="ascii") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
