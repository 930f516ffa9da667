// A real registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a free
// port and filesystem storage in a temporary directory, optionally behind htpasswd Basic auth,
// distribution's own Bearer token auth (with a token service the test runs:
// test_registry_server.py), or TLS with a test CA. Also a one-blob server that drops the first
// transfer, for resume tests. Every process started here dies with the test process
// (PR_SET_PDEATHSIG) and is killed when its object goes.
#ifndef MVM_TESTS_RUNTIME_OCI_TEST_REGISTRY_H_
#define MVM_TESTS_RUNTIME_OCI_TEST_REGISTRY_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "tests/support/temp_dir.h"

namespace mvm::testing {

/// How the test registry authenticates pulls and pushes.
enum class TestRegistryAuth {
  kNone,   ///< anyone may pull and push
  kBasic,  ///< htpasswd (bcrypt) Basic auth for user()/password()
  kToken,  ///< distribution's token auth; the token service wants Basic user()/password()
};

struct TestRegistryOptions {
  TestRegistryAuth auth = TestRegistryAuth::kNone;
  /// Serve https with a certificate for 127.0.0.1 and localhost, signed by a test CA (ca_cert()).
  bool tls = false;
  std::string user = "mvm-user";
  std::string password = "mvm-password";
};

/// One docker-registry process. Not thread-safe. Start() it, push with PushLayout
/// (oci_layout_util.h), point a Registry at host().
class TestRegistry {
 public:
  explicit TestRegistry(TestRegistryOptions options = {});
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;
  /// Stop()s.
  ~TestRegistry();

  /// What the host lacks for a registry with `options` (docker-registry, htpasswd, openssl,
  /// python3, skopeo), phrased for `MVM_MISSING_PREREQUISITE() << *missing;`; nullopt when
  /// nothing.
  static std::optional<std::string> MissingPrerequisite(const TestRegistryOptions& options = {});

  /// Makes the scratch directory (storage, config, keys), starts the token service when asked
  /// and the registry, and returns once the registry accepts connections (bounded: 10 s). An
  /// Error with the registry's log when it does not come up.
  ErrorOr<Ok> Start();
  /// Kills the registry and the token service (SIGKILL) and removes the scratch directory. Safe
  /// to call twice.
  void Stop();

  const TestRegistryOptions& options() const { return options_; }
  /// "127.0.0.1:PORT", as a reference names it.
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  /// The registry's storage root (filesystem driver's rootdirectory).
  std::filesystem::path storage() const;
  /// Where the registry keeps the bytes of blob `digest` ("sha256:<hex>"):
  /// storage()/docker/registry/v2/blobs/sha256/<hex[0:2]>/<hex>/data. Corrupt it to test
  /// verification.
  std::filesystem::path BlobDataPath(std::string_view digest) const;
  /// The test CA's certificate (PEM) with options().tls; trust it with RegistryOptions::ca_file.
  std::filesystem::path ca_cert() const;
  /// Writes a Docker config.json in the scratch directory with `user`:`password` for host() and
  /// returns its path: for RegistryOptions::auth_file.
  std::filesystem::path WriteAuthFile(std::string_view user, std::string_view password,
                                      std::string_view name = "config.json") const;
  /// The token service's request log: one line per token request ("{"path": ..., ...}"); empty
  /// without token auth.
  std::vector<std::string> TokenRequests() const;
  /// The scratch directory (config.yml, registry.log, storage/, ...).
  std::filesystem::path dir() const;

 private:
  ErrorOr<Ok> StartOnce();

  TestRegistryOptions options_;
  std::unique_ptr<TempDir> dir_;
  pid_t registry_pid_ = 0;
  pid_t token_pid_ = 0;
  int port_ = 0;
};

/// How a TestBlobServer misbehaves.
struct TestBlobServerOptions {
  /// The first this many blob requests are answered `fail_status` (with a Retry-After header of
  /// `retry_after` when not empty).
  int fail_first = 0;
  int fail_status = 503;
  std::string retry_after;
  /// The next transfer is cut off after this many bytes (the connection closed mid-body); -1:
  /// never.
  int64_t drop_after = -1;
  /// Instead: the next transfer sends this many bytes and then nothing more for an hour; -1:
  /// never.
  int64_t stall_after = -1;
  /// Later requests with `Range: bytes=N-` get a 206 of the rest; false: all of it with 200.
  bool honour_range = true;
  /// "user:password": a blob request without these Basic credentials gets a 401 challenge.
  std::string require_basic;
  /// "http://127.0.0.1:PORT": every blob request is answered 307 to this + its path.
  std::string redirect_to;
};

/// What a TestBlobServer received.
struct TestBlobRequest {
  std::string path;
  std::string range;           ///< the Range header, "" without
  bool authorization = false;  ///< an Authorization header came
};

/// A server of one blob at GET /v2/<any>/blobs/<any> on 127.0.0.1 (plain http, python3), for
/// what docker-registry will not do: drop a transfer, ignore ranges, fail with 503 or 429,
/// redirect.
class TestBlobServer {
 public:
  TestBlobServer(std::string blob, TestBlobServerOptions options);
  TestBlobServer(const TestBlobServer&) = delete;
  TestBlobServer& operator=(const TestBlobServer&) = delete;
  ~TestBlobServer();

  ErrorOr<Ok> Start();
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  /// The blob requests received, in order.
  std::vector<TestBlobRequest> Requests() const;

 private:
  std::string blob_;
  TestBlobServerOptions options_;
  std::unique_ptr<TempDir> dir_;
  pid_t pid_ = 0;
  int port_ = 0;
};

/// Starts `argv` (argv[0] an absolute path) with stdout and stderr appended to `log`, stdin
/// /dev/null, and PR_SET_PDEATHSIG SIGKILL so it dies with the test process. Returns its pid.
ErrorOr<pid_t> SpawnTiedToTest(const std::vector<std::string>& argv,
                               const std::filesystem::path& log);

/// SIGKILLs and reaps `*pid` when it is > 0, and sets it to 0.
void KillAndReap(pid_t* pid);

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_OCI_TEST_REGISTRY_H_
