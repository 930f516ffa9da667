#ifndef MVM_TESTS_RUNTIME_ROOTFS_BUILDER_DEBOOTSTRAP_H_
#define MVM_TESTS_RUNTIME_ROOTFS_BUILDER_DEBOOTSTRAP_H_

// The builder sandbox's DebootstrapFn for the template and Debian image build tests: the same
// path `mvmctl build` and `mvmctl run` take, with a state directory of the test's own.

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "ir/support/error_or.h"
#include "runtime/launcher/builder.h"
#include "runtime/launcher/launcher.h"

namespace mvm::runtime::rootfs::testing {

struct TestBuilder {
  LauncherOptions options;
  std::unique_ptr<AuditSession> audit;

  /// A builder whose state directory is `state_dir` (created), with the agent found beside the
  /// test binary as the launcher finds it beside mvmctl.
  static ErrorOr<std::unique_ptr<TestBuilder>> Open(const std::filesystem::path& state_dir) {
    auto out = std::make_unique<TestBuilder>();
    std::filesystem::create_directories(state_dir);
    out->options.state = StateDir{state_dir};
    if (auto located = LocateRuntimeFiles(out->options); !located) {
      return located.error();
    }
    auto audit = OpenAudit(out->options.state);
    if (!audit) {
      return audit.error();
    }
    out->audit = std::move(*audit);
    return out;
  }

  DebootstrapFn Debootstrap() { return BuilderDebootstrap(options, *audit->log); }

  /// The audit log's text, to find the builder's records in.
  std::string AuditText() const {
    std::ifstream in(options.state.AuditLog());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

}  // namespace mvm::runtime::rootfs::testing

#endif  // MVM_TESTS_RUNTIME_ROOTFS_BUILDER_DEBOOTSTRAP_H_
