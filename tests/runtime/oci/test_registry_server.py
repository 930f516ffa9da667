#!/usr/bin/env python3
"""Helper servers for the registry tests (tests/runtime/oci/test_registry.h). Standard library and
the openssl CLI only.

  token: a Docker token service for distribution's `auth: token:`. GET /token?service=S&scope=...
         with Basic credentials --user/--password answers {"token", "access_token", "expires_in"}:
         a JWT (RS256, signed with `openssl dgst -sha256 -sign --key`, the signing certificate
         --cert in its x5c header) granting every action asked for in each scope. Without the
         right credentials: 401.
  blob:  serves one blob (--blob FILE) at GET /v2/<name>/blobs/<digest> (and 200 at /v2/). The
         first --fail-first requests answer --fail-status (with Retry-After: --retry-after when
         given); the next is cut off after --drop-after bytes (the connection closed mid-body)
         when that is >= 0, or stalls (sends nothing more) after --stall-after bytes; later ones honour `Range: bytes=N-` with a 206 unless --no-range.
         With --require-basic USER:PASS, a request without those Basic credentials gets a 401
         challenge first; with --redirect-to BASE, every blob request is answered 307 to BASE +
         the path instead.

Every request is logged to <dir>/requests.log (one JSON object a line: path, range, whether an
Authorization header came). The port is written to <dir>/port once the socket listens. Exits when
its parent goes.
"""

import argparse
import base64
import http.server
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(path):
    text = open(path).read()
    body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    return "".join(body.group(1).split())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mvm-test"

    def log_message(self, *args):
        pass

    def log_request_line(self):
        entry = {
            "path": self.path,
            "range": self.headers.get("Range", ""),
            "authorization": bool(self.headers.get("Authorization")),
        }
        with self.server.lock:
            with open(os.path.join(self.server.args.dir, "requests.log"), "a") as log:
                log.write(json.dumps(entry) + "\n")

    def answer(self, status, body, content_type="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.log_request_line()
        if self.server.args.mode == "token":
            self.token()
        else:
            self.blob()

    def token(self):
        args = self.server.args
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
        if url.path != "/token":
            return self.answer(404, b'{"details":"not found"}')
        if self.headers.get("Authorization") != expected:
            return self.answer(401, b'{"details":"invalid credentials"}',
                               extra={"WWW-Authenticate": 'Basic realm="mvm-test-token"'})
        access = []
        for scope in query.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) == 3:
                    access.append({"type": parts[0], "name": parts[1],
                                   "actions": parts[2].split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der_b64(args.cert)]}
        claims = {"iss": args.issuer, "sub": args.user, "aud": query.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8),
                  "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        signed = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key],
                                input=signing_input.encode(), capture_output=True, check=True)
        token = signing_input + "." + b64url(signed.stdout)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self.answer(200, body)

    def blob(self):
        args = self.server.args
        if self.path == "/v2/" or self.path == "/v2":
            return self.answer(200, b"{}")
        if "/blobs/" not in self.path:
            return self.answer(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"no"}]}')
        if args.require_basic:
            expected = "Basic " + base64.b64encode(args.require_basic.encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}',
                                   extra={"WWW-Authenticate": 'Basic realm="mvm-test"'})
        if args.redirect_to:
            return self.answer(307, b"", extra={"Location": args.redirect_to + self.path})
        with self.server.lock:
            count = self.server.served
            self.server.served += 1
        if count < args.fail_first:
            extra = {"Retry-After": args.retry_after} if args.retry_after else {}
            return self.answer(args.fail_status,
                               b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}',
                               extra=extra)
        data = open(args.blob, "rb").read()
        ranged = self.headers.get("Range", "")
        match = re.fullmatch(r"bytes=(\d+)-", ranged)
        if count == args.fail_first and args.stall_after >= 0:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: args.stall_after])
            self.wfile.flush()
            time.sleep(3600)
            return
        if count == args.fail_first and args.drop_after >= 0:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            self.wfile.write(data[: args.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if match and not args.no_range:
            start = int(match.group(1))
            part = data[start:]
            return self.answer(206, part, "application/octet-stream",
                               {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                                "Accept-Ranges": "bytes"})
        self.answer(200, data, "application/octet-stream")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["token", "blob"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--key")
    parser.add_argument("--cert")
    parser.add_argument("--issuer", default="mvm-test-issuer")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--blob")
    parser.add_argument("--drop-after", type=int, default=-1)
    parser.add_argument("--stall-after", type=int, default=-1)
    parser.add_argument("--no-range", action="store_true")
    parser.add_argument("--require-basic", default="")
    parser.add_argument("--redirect-to", default="")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=503)
    parser.add_argument("--retry-after", default="")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.args = args
    server.lock = threading.Lock()
    server.served = 0

    def watch_parent():
        while os.getppid() == args.parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    port_file = os.path.join(args.dir, "port")
    with open(port_file + ".tmp", "w") as out:
        out.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
