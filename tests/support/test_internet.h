// A test internet that never leaves the machine, for the egress tests (issue 17): two network
// namespaces joined by a veth pair, "client" (where a test runs mvmctl) and "internet" (TEST-NET
// hosts, an authoritative DNS server for the zone `test`, HTTP and HTTPS servers with a test CA,
// a metadata server on 169.254.169.254). Every server is one Python process,
// tests/support/test_internet_server.py, which says what each name resolves to and what each server
// answers. Nothing is added to the host's network namespace, and no address outside TEST-NET,
// link-local and the namespaces' own is a target.
#ifndef MVM_TESTS_SUPPORT_TEST_INTERNET_H_
#define MVM_TESTS_SUPPORT_TEST_INTERNET_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace mvm::testing {

/// One DNS query the test DNS server answered (a line of its query log).
struct DnsQuery {
  std::string proto;  ///< "udp" or "tcp"
  std::string name;   ///< lowercase, without the trailing dot; empty for an unparsable query
  std::string type;   ///< "A", "AAAA", "ANY", ... or the number of a type without a name
  int rcode = 0;      ///< 0 NOERROR (also for no data), 3 NXDOMAIN, 5 REFUSED (not in `test`)
  std::vector<std::string> answers;  ///< the addresses answered, in order
};

/// One thing a server of the test internet received (a line of its log).
struct ServerEvent {
  /// "connect" (TCP accepted, before any TLS), "tls" (handshake done), "tls-fail", "request" (an
  /// HTTP request read, logged before the answer is sent), "udp" (a datagram to the echo port).
  std::string event;
  std::string server;  ///< the address it arrived at
  int port = 0;
  std::string peer;  ///< the sender's address
  bool tls = false;
  std::string sni;            ///< the ClientHello's server name; empty without TLS or without SNI
  std::string host;           ///< the Host header ("request" only; empty when absent)
  std::string method;         ///< "request" only
  std::string path;           ///< the request target as sent ("request" only)
  int64_t body_bytes = 0;     ///< request body bytes read ("request"), datagram bytes ("udp")
  std::string authorization;  ///< the Authorization header ("request" only; empty when absent)
  std::string body;           ///< the body's first 4 KiB ("request" only)
};

/// The test internet. Start() builds it, Stop() (or the destructor) takes it all down. Needs root,
/// iproute2, util-linux (unshare, nsenter, mount), coreutils' timeout, python3 and openssl; see
/// MissingPrerequisite(). Not thread-safe; one per test (or per suite) is the intended use. The
/// namespaces are named after the process id, so two TestInternets of one process cannot run at the
/// same time.
///
/// What the internet holds (the internet namespace's loopback has every address):
/// | address         | what                                                                     |
/// |-----------------|--------------------------------------------------------------------------|
/// | 198.51.100.53   | DNS, UDP and TCP port 53, authoritative for `test` (kDnsAddress)         |
/// | 203.0.113.10    | allowed.test, www/api.allowed.test: HTTP 80, 8080, HTTPS 443 (cert       |
/// |                 | allowed.test, *.allowed.test), UDP echo on 9999                          |
/// | 203.0.113.20    | other.test: HTTP 80, HTTPS 443                                           |
/// | 203.0.113.30    | rebind.test's first answer: HTTP 80, HTTPS 443 (*.rebind.test too)       |
/// | 203.0.113.40    | wrong.test, mismatch.allowed.test: HTTP 80, HTTPS 443 (cert: wrong.test) |
/// | 169.254.169.254 | metadata (meta.test): HTTP 80, HTTPS 443                                 |
/// | 203.0.113.50    | api.openai.com, a fake API: HTTP 80, HTTPS 443 (see SetApiKey)           |
/// Other names: private.test → 10.1.2.3, loopback.test → 127.0.0.1, mixed.test → 203.0.113.10 and
/// 10.1.2.3, meta6.test → AAAA fd00:ec2::254, ns.test → 198.51.100.53; any other name in `test` is
/// NXDOMAIN, any name outside it but api.openai.com REFUSED. Rebinding: `rebind.test` and every
/// `<label>.rebind.test` count their A queries separately; a name's first is answered 203.0.113.30,
/// every later one 169.254.169.254, TTL 0 (use a fresh `<label>.rebind.test` per test for a fresh
/// sequence).
///
/// Every HTTP(S) answer is a JSON object: {"server", "port", "tls", "sni", "host", "method",
/// "path", "peer", "body_bytes", "event": "request", "marker": "mvm-test-internet"}; any method is
/// answered so, with "authorization" (the header) and "body" (its first 4 KiB) too. `GET /bytes/N`
/// answers N bytes (application/octet-stream) instead. Every server is also a package index (PEP
/// 503) of one project, for pip, whose wheel the server builds at start:
/// | GET path                                    | answer                                         |
/// |---------------------------------------------|------------------------------------------------|
/// | /simple/                                    | text/html: a link to /simple/mvm-test-pkg/     |
/// | /simple/mvm-test-pkg/                       | text/html: a link to the wheel, `#sha256=<hex>`|
/// | /packages/mvm_test_pkg-1.0-py3-none-any.whl | the wheel: module `mvm_test_pkg` (its `VALUE`  |
/// |                                             | is the marker), METADATA, WHEEL, RECORD        |
/// Other methods on these paths answer the JSON above. On api.openai.com, `/v1/...` answers a chat
/// completion (200, content "4") only when Authorization is "Bearer " + the SetApiKey key, else 401
/// with an OpenAI-style error; its other paths answer the JSON above.
class TestInternet {
 public:
  static constexpr std::string_view kDnsAddress = "198.51.100.53";
  static constexpr std::string_view kAllowedAddress = "203.0.113.10";    ///< allowed.test
  static constexpr std::string_view kOtherAddress = "203.0.113.20";      ///< other.test
  static constexpr std::string_view kRebindAddress = "203.0.113.30";     ///< rebind's 1st answer
  static constexpr std::string_view kWrongCertAddress = "203.0.113.40";  ///< cert for wrong.test
  static constexpr std::string_view kMetadataAddress = "169.254.169.254";
  static constexpr std::string_view kApiAddress = "203.0.113.50";   ///< api.openai.com
  static constexpr std::string_view kClientAddress = "192.0.2.2";   ///< client end of the veth
  static constexpr std::string_view kGatewayAddress = "192.0.2.1";  ///< internet end of the veth
  /// The text in every JSON answer, to tell a test server's answer from anything else.
  static constexpr std::string_view kMarker = "mvm-test-internet";

  TestInternet();
  TestInternet(const TestInternet&) = delete;
  TestInternet& operator=(const TestInternet&) = delete;
  /// Stop()s.
  ~TestInternet();

  /// What the host lacks to Start() (not root, a tool not installed), phrased for a skip message;
  /// nullopt when nothing. For `MVM_MISSING_PREREQUISITE() << *missing;`.
  static std::optional<std::string> MissingPrerequisite();

  /// Builds the namespaces, addresses and routes, makes the CA and certificates and starts the
  /// servers; returns once every server listens. First removes what a crashed run of a process with
  /// the same id left (namespaces of the same names and the processes in them, its scratch
  /// directory; its servers end by themselves once their parent is gone). On failure,
  /// everything made so far is taken down and the Error says what failed (a tool's stderr, the
  /// server's). Calling it while started is an Error.
  ErrorOr<Ok> Start();

  /// Kills the servers and every process left in either namespace (SIGTERM, then SIGKILL, each
  /// wait bounded), deletes both namespaces (and with them the veth pair) and the scratch directory
  /// (certificates, logs). Safe to call twice or without Start().
  void Stop();

  bool running() const { return server_pid_ > 0; }

  /// The namespace names (`mvmt<pid>c`, `mvmt<pid>i`) and the client's /run/netns path.
  const std::string& client_netns() const { return client_; }
  const std::string& internet_netns() const { return internet_; }
  std::filesystem::path client_netns_path() const { return "/run/netns/" + client_; }
  /// The server process (nsenter execs into python3), 0 when stopped.
  pid_t server_pid() const { return server_pid_; }

  /// The test CA's certificate (PEM), valid until Stop(): trust it with `curl --cacert`, or mount
  /// it into a sandbox and point SSL_CERT_FILE at it.
  std::filesystem::path ca_cert() const;
  /// The resolv.conf that Prefix() binds over /etc/resolv.conf (`nameserver 198.51.100.53`).
  std::filesystem::path resolv_conf() const;
  /// The scratch directory: ca.pem, dns.log, servers/<address>.log, server.err (the servers'
  /// stderr).
  std::filesystem::path dir() const;

  /// The argv prefix that runs a program in the client namespace as mvmctl runs there: in a new
  /// mount namespace (private propagation, so nothing leaks to the host's) with resolv_conf() bound
  /// over /etc/resolv.conf, then `nsenter --net=/run/netns/<client>`. Append the program's argv
  /// (argv[0] looked up on PATH); prefix[0] is an absolute path, so execv works. No time limit: a
  /// caller that starts a long-lived process this way ends it itself (Stop() kills whatever is left
  /// in the namespace). The mount namespace is the process's own: the program's children share it.
  std::vector<std::string> Prefix() const;
  /// Prefix() followed by `argv`.
  std::vector<std::string> Wrap(const std::vector<std::string>& argv) const;

  /// Runs `argv` in the client namespace (Wrap) to its end with `stdin_data` on stdin (/dev/null
  /// when unset), killed (its process group: SIGTERM, SIGKILL 2 s later) after `timeout`, which
  /// then shows as status 124 (or 137). Status -1 and `err` say why when not started.
  CommandResult Run(const std::vector<std::string>& argv,
                    const std::optional<std::string>& stdin_data = std::nullopt,
                    std::chrono::seconds timeout = std::chrono::seconds(30)) const;

  /// Every query the DNS server answered since Start() (or ClearLogs()), in order.
  std::vector<DnsQuery> DnsLog() const;
  /// How many queries of `type` ("A", "AAAA", ...; empty for any type) for `name` (any case,
  /// trailing dot or not) the DNS server answered.
  int DnsQueries(std::string_view name, std::string_view type = "A") const;
  /// Every connection, handshake, request and datagram the servers at `address` (a kXxxAddress)
  /// received since Start() (or ClearLogs()), in order; empty for an address without servers.
  std::vector<ServerEvent> ServerLog(std::string_view address) const;
  /// The key the fake API at api.openai.com accepts from now on.
  ErrorOr<Ok> SetApiKey(std::string_view key) const;
  /// Empties the DNS log and every server log. The rebinding counts are kept.
  void ClearLogs() const;

 private:
  ErrorOr<Ok> StartSteps();
  // Runs one of the host's tools to its end; an Error with its stderr when it fails.
  ErrorOr<Ok> Tool(const std::vector<std::string>& argv,
                   const std::optional<std::string>& stdin_data = std::nullopt) const;
  // Kills every process in `netns` and deletes it, when it exists.
  void RemoveNamespace(const std::string& netns) const;
  void StopServer();

  std::string client_;
  std::string internet_;
  std::unique_ptr<TempDir> dir_;
  pid_t server_pid_ = 0;
  // Absolute paths of the tools, found by Start().
  std::string ip_, unshare_, nsenter_, timeout_, sh_, python_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_TEST_INTERNET_H_
