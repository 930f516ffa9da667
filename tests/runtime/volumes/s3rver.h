// s3rver (npm, pinned by scripts/bootstrap.sh) on 127.0.0.1, for the object backend's tests:
// started with a fresh data directory and one bucket, waited for within a bound, killed when it
// goes.
#ifndef MVM_TESTS_RUNTIME_VOLUMES_S3RVER_H_
#define MVM_TESTS_RUNTIME_VOLUMES_S3RVER_H_

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "ir/support/error_or.h"

namespace mvm::testing {

class S3rver {
 public:
  /// Where bootstrap installs it.
  static std::filesystem::path Program();
  /// Starts it with `dir` as its data directory and bucket `bucket`; an Error when it does not say
  /// it listens within 20 s.
  static ErrorOr<S3rver> Start(const std::filesystem::path& dir, const std::string& bucket);
  S3rver(S3rver&& other) noexcept;
  S3rver& operator=(S3rver&&) = delete;
  ~S3rver();

  /// `http://127.0.0.1:PORT`.
  const std::string& endpoint() const { return endpoint_; }

 private:
  S3rver(pid_t pid, std::string endpoint) : pid_(pid), endpoint_(std::move(endpoint)) {}
  pid_t pid_ = -1;
  std::string endpoint_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_VOLUMES_S3RVER_H_
