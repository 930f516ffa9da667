#!/usr/bin/env python3
"""The servers of the test internet (tests/support/test_internet.h), in one process.

Started by TestInternet::Start() inside the "internet" network namespace, whose loopback already
holds every address below. Python standard library only. It:

- makes a test CA and one EC P-256 certificate per HTTPS address with the openssl CLI;
- answers DNS, authoritatively, for the zone `test` on 198.51.100.53:53 (UDP and TCP): the fixed
  records of ZONE, NXDOMAIN for other names in the zone, REFUSED outside it, and the rebinding names
  (`rebind.test` and any `<label>.rebind.test`, each with its own count): a name's first A query is
  answered 203.0.113.30, every later one 169.254.169.254, TTL 0;
- serves HTTP on port 80 and HTTPS on port 443 of every address of SERVERS (and plain HTTP on
  203.0.113.10:8080): each answer is JSON naming the server address, port, TLS SNI, Host header,
  method, path, Authorization header and the body's start; `GET /bytes/N` answers N bytes
  instead; `GET /simple/...` and `/packages/...` are a package index (PEP 503) holding one
  wheel, built here at start (see PackageIndex); on api.openai.com (203.0.113.50), `/v1/...` is a
  fake API that answers 200 only when Authorization is "Bearer " + the content of <dir>/api-key,
  else 401;
- echoes UDP datagrams on 203.0.113.10:9999;
- logs every DNS query to <dir>/dns.log and every connection, request and datagram to
  <dir>/servers/<address>.log, one JSON object a line, written and flushed before the answer goes;
- writes <dir>/ready once every socket listens, and exits when its parent (the test) goes, or
  after --max-seconds.
"""

import argparse
import base64
import hashlib
import html
import http.server
import io
import json
import os
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import zipfile

DNS_ADDRESS = "198.51.100.53"
REBIND_FIRST = "203.0.113.30"
REBIND_LATER = "169.254.169.254"
MARKER = "mvm-test-internet"

# name -> {"A": [...], "AAAA": [...]}; names are lowercase without the trailing dot.
ZONE = {
    "allowed.test": {"A": ["203.0.113.10"]},
    "www.allowed.test": {"A": ["203.0.113.10"]},
    "api.allowed.test": {"A": ["203.0.113.10"]},
    "other.test": {"A": ["203.0.113.20"]},
    "wrong.test": {"A": ["203.0.113.40"]},
    # Resolves to the server whose certificate names only wrong.test.
    "mismatch.allowed.test": {"A": ["203.0.113.40"]},
    "meta.test": {"A": ["169.254.169.254"]},
    "private.test": {"A": ["10.1.2.3"]},
    "loopback.test": {"A": ["127.0.0.1"]},
    "mixed.test": {"A": ["203.0.113.10", "10.1.2.3"]},
    "meta6.test": {"AAAA": ["fd00:ec2::254"]},
    "ns.test": {"A": [DNS_ADDRESS]},
    # The fake API of the secrets tests: a real provider's name, answered here and only here.
    "api.openai.com": {"A": ["203.0.113.50"]},
}

# address -> the DNS names its certificate holds.
SERVERS = {
    "203.0.113.10": ["allowed.test", "*.allowed.test"],
    "203.0.113.20": ["other.test"],
    "203.0.113.30": ["rebind.test", "*.rebind.test"],
    "203.0.113.40": ["wrong.test"],
    "169.254.169.254": ["meta.test"],
    "203.0.113.50": ["api.openai.com"],
}
# The fake API answers /v1/... only when Authorization is "Bearer " + the content of this file in
# --dir (written by the test; re-read per request).
API_KEY_FILE = "api-key"
EXTRA_HTTP = [("203.0.113.10", 8080)]
UDP_ECHO = ("203.0.113.10", 9999)

QTYPES = {1: "A", 28: "AAAA", 2: "NS", 5: "CNAME", 6: "SOA", 15: "MX", 16: "TXT", 255: "ANY"}
MAX_BYTES = 1 << 34


class Log:
    """Appends JSON lines to a file, each write whole and flushed."""

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record):
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()


# --- certificates -----------------------------------------------------------------------------

OPENSSL_CONFIG = """
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = @alt
"""


def openssl(commands, cwd):
    """Runs the openssl commands (argument lists) at once, and exits when one fails."""
    running = [(args, subprocess.Popen(["openssl"] + args, cwd=cwd, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)) for args in commands]
    for args, process in running:
        _, err = process.communicate(timeout=30)
        if process.returncode != 0:
            sys.exit("test internet: openssl %s failed: %s" % (" ".join(args), err.strip()))


def make_certificates(directory):
    """ca.pem (+ ca.key), and <address>.pem/.key per HTTPS server; returns the file pairs."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    config = os.path.join(directory, "openssl.cnf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(OPENSSL_CONFIG)
    openssl([["req", "-x509", "-config", config, "-extensions", "ca", *ec, "-keyout", "ca.key",
              "-out", "ca.pem", "-days", "7", "-subj", "/CN=mvm test internet CA"]], directory)
    pairs = {}
    leaves = []
    for address, names in SERVERS.items():
        leaf_config = os.path.join(directory, address + ".cnf")
        with open(leaf_config, "w", encoding="utf-8") as f:
            f.write(OPENSSL_CONFIG + "[alt]\n")
            for i, name in enumerate(names):
                f.write("DNS.%d = %s\n" % (i, name))
            f.write("IP.0 = %s\n" % address)
        leaves.append(["req", "-x509", "-config", leaf_config, "-extensions", "leaf", *ec,
                       "-keyout", address + ".key", "-out", address + ".pem", "-days", "7",
                       "-subj", "/CN=" + names[0], "-CA", "ca.pem", "-CAkey", "ca.key"])
        pairs[address] = (os.path.join(directory, address + ".pem"),
                          os.path.join(directory, address + ".key"))
    openssl(leaves, directory)
    return pairs


# --- DNS ----------------------------------------------------------------------------------------


class Zone:
    def __init__(self, log):
        self._log = log
        self._lock = threading.Lock()
        self._rebind_counts = {}

    def answer(self, query, proto, peer):
        """The response to `query` (bytes), or None for a datagram too broken to answer."""
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        if flags & 0x8000:  # a response, not a query
            return None
        opcode = (flags >> 11) & 0xF
        rd = flags & 0x0100
        name, offset = read_name(query, 12) if qdcount == 1 else (None, 12)
        if name is None or offset + 4 > len(query) or opcode != 0:
            rcode = 4 if opcode != 0 else 1  # NOTIMP, FORMERR
            self._log.write({"proto": proto, "peer": peer, "name": "", "type": "", "rcode": rcode,
                             "answers": []})
            return struct.pack("!HHHHHH", ident, 0x8000 | (opcode << 11) | rd | rcode, 0, 0, 0, 0)
        qtype, qclass = struct.unpack("!HH", query[offset:offset + 4])
        question = query[12:offset + 4]
        key = name.lower().rstrip(".")
        rcode, records = self._lookup(key, qtype)
        type_name = QTYPES.get(qtype, str(qtype))
        self._log.write({"proto": proto, "peer": peer, "name": key, "type": type_name,
                         "rcode": rcode, "answers": [a for _, a in records]})
        flags_out = 0x8000 | rd | rcode | (0x0400 if rcode != 5 else 0)  # QR, RD copied, AA
        body = b""
        for rtype, address in records:
            if rtype == "A":
                rdata, code = socket.inet_pton(socket.AF_INET, address), 1
            else:
                rdata, code = socket.inet_pton(socket.AF_INET6, address), 28
            ttl = 0 if is_rebind(key) else 60
            body += struct.pack("!HHHIH", 0xC00C, code, qclass, ttl, len(rdata)) + rdata
        return struct.pack("!HHHHHH", ident, flags_out, 1, len(records), 0, 0) + question + body

    def _lookup(self, key, qtype):
        """(rcode, [(type, address)])."""
        if key != "test" and not key.endswith(".test") and key not in ZONE:
            return 5, []  # REFUSED: not our zone
        if is_rebind(key):
            if qtype not in (1, 255):
                return 0, []
            with self._lock:
                count = self._rebind_counts.get(key, 0)
                self._rebind_counts[key] = count + 1
            return 0, [("A", REBIND_FIRST if count == 0 else REBIND_LATER)]
        if key == "test":
            return 0, []
        entry = ZONE.get(key)
        if entry is None:
            return 3, []  # NXDOMAIN
        records = []
        for rtype in ("A", "AAAA"):
            if qtype in (255, 1 if rtype == "A" else 28):
                records += [(rtype, a) for a in entry.get(rtype, [])]
        return 0, records


def is_rebind(key):
    return key == "rebind.test" or key.endswith(".rebind.test")


def read_name(message, offset):
    """(dotted name, offset after it), or (None, offset); no compression in questions."""
    labels = []
    for _ in range(128):
        if offset >= len(message):
            return None, offset
        length = message[offset]
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        if length > 63 or offset + length > len(message):
            return None, offset
        labels.append(message[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return None, offset


def serve_dns_udp(sock, zone):
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            response = zone.answer(data, "udp", peer[0])
            if response is not None:
                sock.sendto(response, peer)
        except (OSError, ValueError, struct.error) as e:
            print("test internet: DNS query from %s: %s" % (peer[0], e), file=sys.stderr)


class DnsTcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        for _ in range(100):  # queries per connection
            header = recv_exact(self.request, 2)
            if header is None:
                return
            query = recv_exact(self.request, struct.unpack("!H", header)[0])
            if query is None:
                return
            response = self.server.zone.answer(query, "tcp", self.client_address[0])
            if response is None:
                return
            self.request.sendall(struct.pack("!H", len(response)) + response)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# --- the package index -------------------------------------------------------------------------


class PackageIndex:
    """A PEP 503 "simple" index of one project, so that a test can show pip working through the
    egress proxy without reaching PyPI: `/simple/` lists it, `/simple/mvm-test-pkg/` links its
    wheel with the wheel's sha256 (pip checks it), `/packages/<wheel>` is the wheel. Served on
    every HTTP(S) server alike, so that a denial in a test is the policy's, not a missing page's."""

    PROJECT = "mvm-test-pkg"
    MODULE = "mvm_test_pkg"
    VERSION = "1.0"

    def __init__(self):
        self.wheel_name = "%s-%s-py3-none-any.whl" % (self.MODULE, self.VERSION)
        self.wheel = self._build_wheel()
        self.sha256 = hashlib.sha256(self.wheel).hexdigest()

    def _build_wheel(self):
        """The smallest wheel pip installs: the module, and METADATA, WHEEL and RECORD (which lists
        every other file with its hash, as pip verifies)."""
        info = "%s-%s.dist-info" % (self.MODULE, self.VERSION)
        files = [
            (self.MODULE + "/__init__.py", "VALUE = %r\n" % MARKER),
            (info + "/METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
             % (self.PROJECT, self.VERSION)),
            (info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: mvm-test-internet\n"
             "Root-Is-Purelib: true\nTag: py3-none-any\n"),
        ]
        record = ""
        for path, text in files:
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
            record += "%s,sha256=%s,%d\n" % (path, digest.decode(), len(text.encode()))
        files.append((info + "/RECORD", record + info + "/RECORD,,\n"))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
            for path, text in files:
                # A fixed date: the same bytes, so the same hash, on every start.
                wheel.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
        return out.getvalue()

    def answer(self, path):
        """(content type, body) for a GET of `path` (without the query), or None when the index
        has no such page."""
        if path == "/simple/":
            return "text/html", self._page("Simple index", "/simple/%s/" % self.PROJECT,
                                           self.PROJECT)
        if path == "/simple/%s/" % self.PROJECT:
            return "text/html", self._page(
                "Links for " + self.PROJECT,
                "/packages/%s#sha256=%s" % (self.wheel_name, self.sha256), self.wheel_name)
        if path == "/packages/" + self.wheel_name:
            return "application/octet-stream", self.wheel
        return None

    @staticmethod
    def _page(title, href, text):
        return ("<!DOCTYPE html>\n<html><head><title>%s</title></head><body>\n"
                "<a href=\"%s\">%s</a>\n</body></html>\n"
                % (html.escape(title), html.escape(href), html.escape(text))).encode()


# --- HTTP and HTTPS -----------------------------------------------------------------------------


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, port, log, tls_context, key_dir, index):
        self.key_dir = key_dir
        self.index = index
        self.log = log
        self.tls_context = tls_context
        self.address = address
        self.port = port
        super().__init__((address, port), Handler)

    def handle_error(self, request, client_address):
        pass  # a client that hung up or failed its handshake; the log says what arrived


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mvm-test-internet"
    timeout = 30

    def setup(self):
        srv = self.server
        self.sni = None
        record = {"event": "connect", "server": srv.address, "port": srv.port,
                  "peer": self.client_address[0], "tls": srv.tls_context is not None}
        srv.log.write(record)
        if srv.tls_context is not None:
            self.request.settimeout(10)
            try:
                self.request = srv.tls_context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                srv.log.write({**record, "event": "tls-fail", "error": str(e)})
                raise
            self.sni = getattr(self.request, "mvm_sni", None)
            srv.log.write({**record, "event": "tls", "sni": self.sni})
        super().setup()

    def log_message(self, format, *args):
        pass

    def _serve(self):
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        received = 0
        head = b""  # the body's first 4 KiB, logged and echoed
        while received < length:
            chunk = self.rfile.read(min(65536, length - received))
            if not chunk:
                break
            if len(head) < 4096:
                head += chunk[:4096 - len(head)]
            received += len(chunk)
        record = {"event": "request", "server": srv.address, "port": srv.port,
                  "peer": self.client_address[0], "tls": srv.tls_context is not None,
                  "sni": self.sni, "host": self.headers.get("Host"), "method": self.command,
                  "path": self.path, "body_bytes": received,
                  "authorization": self.headers.get("Authorization"),
                  "body": head.decode("utf-8", "replace")}
        srv.log.write(record)
        if srv.address == "203.0.113.50" and self.path.startswith("/v1/"):
            self._fake_api()
            return
        # The absolute form (`GET http://host/bytes/N`, which a server must accept) as well.
        path = self.path
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        if self.command == "GET" and path.startswith("/bytes/"):
            self._send_bytes(path[len("/bytes/"):])
            return
        page = self.server.index.answer(path.partition("?")[0]) if self.command == "GET" else None
        if page is not None:
            self.send_response(200)
            self.send_header("Content-Type", page[0])
            self.send_header("Content-Length", str(len(page[1])))
            self.end_headers()
            self.wfile.write(page[1])
            return
        body = (json.dumps({**record, "marker": MARKER}, sort_keys=True) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fake_api(self):
        """A provider's API in miniature: 401 unless the real key came."""
        try:
            with open(os.path.join(self.server.key_dir, API_KEY_FILE), encoding="utf-8") as f:
                key = f.read().strip()
        except OSError:
            key = None
        if key and self.headers.get("Authorization") == "Bearer " + key:
            status, answer = 200, {"object": "chat.completion", "marker": MARKER, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "4"}}]}
        else:
            status, answer = 401, {"error": {"message": "Incorrect API key provided",
                                             "type": "invalid_request_error"}}
        body = (json.dumps(answer, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_bytes(self, count):
        if not count.isdigit() or int(count) > MAX_BYTES:
            self.send_error(400, "want /bytes/N with N at most %d" % MAX_BYTES)
            return
        n = int(count)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        while n > 0:
            self.wfile.write(chunk[:min(n, len(chunk))])
            n -= min(n, len(chunk))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve
    do_CONNECT = _serve


def tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock, name, _context):
        sock.mvm_sni = name
    context.sni_callback = remember_sni
    return context


def serve_udp_echo(sock, log, address, port):
    while True:
        data, peer = sock.recvfrom(65536)
        log.write({"event": "udp", "server": address, "port": port, "peer": peer[0],
                   "bytes": len(data)})
        try:
            sock.sendto(data, peer)
        except OSError as e:
            print("test internet: UDP echo to %s: %s" % (peer[0], e), file=sys.stderr)


# --- main ---------------------------------------------------------------------------------------


def thread(target, *args):
    threading.Thread(target=target, args=args, daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--max-seconds", type=int, default=3600)
    args = parser.parse_args()
    servers_dir = os.path.join(args.dir, "servers")
    os.makedirs(servers_dir, exist_ok=True)
    pairs = make_certificates(args.dir)

    zone = Zone(Log(os.path.join(args.dir, "dns.log")))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((DNS_ADDRESS, 53))
    thread(serve_dns_udp, udp, zone)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    dns_tcp = socketserver.ThreadingTCPServer((DNS_ADDRESS, 53), DnsTcpHandler)
    dns_tcp.zone = zone
    thread(dns_tcp.serve_forever)

    logs = {a: Log(os.path.join(servers_dir, a + ".log")) for a in SERVERS}
    index = PackageIndex()
    listeners = []
    for address in SERVERS:
        listeners.append(Server(address, 80, logs[address], None, args.dir, index))
        listeners.append(Server(address, 443, logs[address], tls_context(*pairs[address]),
                                args.dir, index))
    for address, port in EXTRA_HTTP:
        listeners.append(Server(address, port, logs[address], None, args.dir, index))
    for listener in listeners:
        thread(listener.serve_forever)
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(UDP_ECHO)
    thread(serve_udp_echo, echo, logs[UDP_ECHO[0]], *UDP_ECHO)

    with open(os.path.join(args.dir, "ready.tmp"), "w", encoding="utf-8") as f:
        f.write("%d\n" % os.getpid())
    os.rename(os.path.join(args.dir, "ready.tmp"), os.path.join(args.dir, "ready"))
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline and os.getppid() == args.parent:
        time.sleep(0.2)


if __name__ == "__main__":
    main()
