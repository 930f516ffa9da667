#!/usr/bin/env python3
"""An independent DSSE check of an mvm plan file: shares no code with mvmctl.

usage: dsse_verify.py PLAN.plan.json KEY.pub

Verifies the Ed25519 signature over PAE(payloadType, payload) with PyNaCl (Debian's python3-nacl,
installed by scripts/bootstrap.sh), or with `openssl pkeyutl -rawin` when PyNaCl is missing or
MVM_DSSE_BACKEND=openssl; checks the key id (first 16 hex digits of SHA-256 of the raw public key)
and that the file is the canonical serialisation of its envelope. Prints
"dsse ok <keyid> <workload id> (<backend>)" and exits 0, else prints why and exits 1.
"""

import base64
import binascii
import hashlib
import json
import os
import subprocess
import sys
import tempfile

PAYLOAD_TYPE = "application/vnd.mvm.execution-plan+json"


def pae(payload_type: bytes, payload: bytes) -> bytes:
    # DSSE v1: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths as ASCII decimal.
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def b64(text: str) -> bytes:
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise ValueError("non-canonical base64")
    return raw


def has_nacl() -> bool:
    try:
        import nacl.signing  # noqa: F401

        return True
    except ImportError:
        return False


def verify_nacl(public_key: bytes, message: bytes, sig: bytes) -> bool:
    import nacl.exceptions
    import nacl.signing

    try:
        nacl.signing.VerifyKey(public_key).verify(message, sig)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


def verify_openssl(public_key: bytes, message: bytes, sig: bytes) -> bool:
    # SubjectPublicKeyInfo for Ed25519 (RFC 8410) is a fixed 12-byte prefix and the raw key.
    der = binascii.unhexlify("302a300506032b6570032100") + public_key
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: os.path.join(tmp, name) for name in ("key.der", "msg", "sig")}
        for name, data in (("key.der", der), ("msg", message), ("sig", sig)):
            with open(paths[name], "wb") as f:
                f.write(data)
        result = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey",
             paths["key.der"], "-rawin", "-in", paths["msg"], "-sigfile", paths["sig"]],
            capture_output=True)
        return result.returncode == 0


def main() -> int:
    plan_path, pub_path = sys.argv[1], sys.argv[2]
    # A python3 first on PATH (pyenv, a venv) may lack Debian's python3-nacl; the system one has it.
    system_python = "/usr/bin/python3"
    if (os.environ.get("MVM_DSSE_BACKEND", "pynacl") == "pynacl" and not has_nacl()
            and os.path.realpath(sys.executable) != os.path.realpath(system_python)
            and os.path.exists(system_python)):
        os.execv(system_python, [system_python] + sys.argv)
    with open(plan_path, "rb") as f:
        file_bytes = f.read()
    with open(pub_path, "r", encoding="ascii") as f:
        public_key = b64(f.read().rstrip("\n"))
    if len(public_key) != 32:
        print("dsse: the public key is not 32 bytes")
        return 1
    envelope = json.loads(file_bytes)
    # The envelope is ASCII with string values only, where RFC 8785 reduces to sorted keys and no
    # whitespace.
    canonical = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if canonical.encode() != file_bytes:
        print("dsse: the file is not the canonical serialisation of its envelope")
        return 1
    if envelope["payloadType"] != PAYLOAD_TYPE:
        print("dsse: wrong payloadType")
        return 1
    if len(envelope["signatures"]) != 1:
        print("dsse: expected exactly one signature")
        return 1
    payload = b64(envelope["payload"])
    signature = envelope["signatures"][0]
    keyid = hashlib.sha256(public_key).hexdigest()[:16]
    if signature["keyid"] != keyid:
        print("dsse: keyid %s does not name the given key %s" % (signature["keyid"], keyid))
        return 1
    message = pae(PAYLOAD_TYPE.encode(), payload)
    backend = os.environ.get("MVM_DSSE_BACKEND", "pynacl")
    if backend == "pynacl":
        try:
            ok = verify_nacl(public_key, message, b64(signature["sig"]))
        except ImportError:
            backend = "openssl"
    if backend == "openssl":
        ok = verify_openssl(public_key, message, b64(signature["sig"]))
    if not ok:
        print("dsse: bad signature (%s)" % backend)
        return 1
    plan = json.loads(payload)
    if plan.get("key_id") != keyid or plan.get("schema") != "mvm.plan/v1":
        print("dsse: the payload is not an mvm plan signed by this key")
        return 1
    print("dsse ok %s %s (%s)" % (keyid, plan["workload"]["id"], backend))
    return 0


if __name__ == "__main__":
    sys.exit(main())
