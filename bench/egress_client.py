"""The measuring client of egress_bench.py, run unchanged in both places it compares: in the test
internet's client namespace (the direct baseline, where mvmctl and its egress helper run) and inside
the sandbox (through the proxy). Python standard library only; raw sockets and `ssl`, so that the
client's own work per connection is small and the same on both sides.

    python3 egress_client.py --mode dial|proxy --host allowed.test --ca CA.pem
        [--n 50] [--warmup 3] [--bulk-bytes N] [--bulk-runs 1]

- `dial`: resolve the host (timed on its own; or take `--address`), then connect to its address on port 80 or 443. From
  the client namespace that reaches the server; in the sandbox, the same code goes through the
  transparent redirect to the proxy. Proxy variables are ignored.
- `proxy`: connect to the proxy that HTTP_PROXY / HTTPS_PROXY name, with an absolute-form GET for
  HTTP and CONNECT host:443 for HTTPS (no lookup by the client: the proxy resolves).

Per connection it times connect → first response byte: TCP connect (+ CONNECT and its answer) +
TLS handshake + writing `GET /` + the first byte of the answer; then reads the answer to its end,
outside the clock. Bulk: `GET /bytes/N`, timed from connect to the last byte. Prints one JSON
object: {"lookup_ms": [...], "http_ms": [...], "https_ms": [...], "bulk": {"http": [[bytes, s], ...],
"https": [...]}, "python": version}.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import time
import urllib.parse

BUF = bytearray(1 << 20)


def proxy_address(scheme: str) -> tuple[str, int]:
    url = os.environ.get(f"{scheme.upper()}_PROXY") or os.environ.get(f"{scheme}_proxy")
    if not url:
        sys.exit(f"egress_client: --mode proxy needs {scheme.upper()}_PROXY")
    parsed = urllib.parse.urlsplit(url)
    return parsed.hostname, parsed.port or 80


def read_head(sock) -> tuple[bytes, bytes]:
    """Reads up to the end of a response head: (head, body bytes already read)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the end of the head: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError(f"no Content-Length in {head[:200]!r}")


class Client:
    def __init__(self, mode: str, host: str, ca: str):
        self.mode = mode
        self.host = host
        self.tls = ssl.create_default_context(cafile=ca)

    def lookup(self) -> str:
        return socket.getaddrinfo(self.host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]

    def open(self, scheme: str, path: str, address: str | None):
        """A socket with `GET path` written: plain for http, TLS for https."""
        port = 443 if scheme == "https" else 80
        if self.mode == "dial":
            sock = socket.create_connection((address, port))
            target = path
        else:
            sock = socket.create_connection(proxy_address(scheme))
            target = f"http://{self.host}{path}" if scheme == "http" else path
            if scheme == "https":
                sock.sendall(f"CONNECT {self.host}:443 HTTP/1.1\r\nHost: {self.host}:443\r\n\r\n"
                             .encode())
                head, rest = read_head(sock)
                if not head.split(b" ", 2)[1:2] == [b"200"] or rest:
                    raise ConnectionError(f"CONNECT refused: {head[:200]!r}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n\r\n"
                     .encode())
        return sock

    def first_byte(self, scheme: str, address: str | None) -> float:
        """ms from connect to the answer's first byte; the answer is then read to its end."""
        start = time.perf_counter_ns()
        sock = self.open(scheme, "/", address)
        with sock:
            first = sock.recv(65536)
            elapsed = (time.perf_counter_ns() - start) / 1e6
            if not first.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(f"unexpected answer: {first[:200]!r}")
            while sock.recv(65536):
                pass
        return elapsed

    def bulk(self, scheme: str, address: str | None, n: int) -> tuple[int, float]:
        """(body bytes, seconds from connect to the last byte) of GET /bytes/n."""
        start = time.perf_counter_ns()
        sock = self.open(scheme, f"/bytes/{n}", address)
        with sock:
            head, rest = read_head(sock)
            want = content_length(head)
            got = len(rest)
            view = memoryview(BUF)
            while got < want:
                k = sock.recv_into(view)
                if k == 0:
                    break
                got += k
            elapsed = (time.perf_counter_ns() - start) / 1e9
        if got != n:
            raise ConnectionError(f"bulk answer had {got} of {n} bytes")
        return got, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["dial", "proxy"], required=True)
    parser.add_argument("--host", default="allowed.test")
    parser.add_argument("--address", help="dial this address instead of looking the host up")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--bulk-bytes", type=int, default=0)
    parser.add_argument("--bulk-runs", type=int, default=1)
    args = parser.parse_args()
    client = Client(args.mode, args.host, args.ca)
    out = {"lookup_ms": [], "http_ms": [], "https_ms": [], "bulk": {"http": [], "https": []},
           "python": sys.version.split()[0]}
    for i in range(args.warmup + args.n):
        for scheme in ("http", "https"):
            address = None
            if args.mode == "dial" and args.address:
                address = args.address
            elif args.mode == "dial":
                start = time.perf_counter_ns()
                address = client.lookup()
                if i >= args.warmup:
                    out["lookup_ms"].append((time.perf_counter_ns() - start) / 1e6)
            ms = client.first_byte(scheme, address)
            if i >= args.warmup:
                out[f"{scheme}_ms"].append(ms)
    if args.bulk_bytes:
        address = (args.address or client.lookup()) if args.mode == "dial" else None
        for _ in range(args.bulk_runs):
            for scheme in ("http", "https"):
                out["bulk"][scheme].append(client.bulk(scheme, address, args.bulk_bytes))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
