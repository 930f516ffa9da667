#include "cli/oci_resolve.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "runtime/launcher/launcher.h"
#include "runtime/launcher/state.h"
#include "runtime/oci/pull.h"
#include "runtime/oci/registry.h"
#include "runtime/oci/store.h"

namespace mvm::cli {

namespace oci = runtime::oci;

ErrorOr<std::string> PullDeclaredImage(const ir::v1::Image& image,
                                       const std::filesystem::path& state_dir,
                                       std::string_view command) {
  if (image.kind() != "oci") {
    return std::string();
  }
  auto ref = oci::SplitReference(image.ref());
  if (!ref) {
    return ref.error();
  }
  runtime::StateDir state{state_dir};
  auto audit = runtime::OpenAudit(state);
  if (!audit) {
    return audit.error();
  }
  oci::PullOptions options;
  std::string prefix = "mvmctl " + std::string(command) + ": ";
  options.progress = [&](std::string_view line) {
    std::fprintf(stderr, "%s%.*s\n", prefix.c_str(), static_cast<int>(line.size()), line.data());
  };
  options.events = [&](std::string_view event,
                       const std::vector<std::pair<std::string, std::string>>& fields) {
    nlohmann::json record = nlohmann::json::object();
    for (const auto& [k, v] : fields) {
      record[k] = v;
    }
    (void)(*audit)->log->Append(event, record);
  };
  oci::ImageStore store(state.Images());
  if (!ref->digest.empty()) {
    auto found = store.Find(ref->digest);
    if (!found) {
      return found.error();
    }
    if (*found) {
      return ref->digest;
    }
  }
  oci::RegistryOptions registry_options;
  registry_options.progress = options.progress;
  if (const char* ca = std::getenv("SSL_CERT_FILE"); ca != nullptr && ca[0] != '\0') {
    registry_options.ca_file = ca;
  }
  auto registry = oci::Registry::Open(ref->registry, registry_options);
  if (!registry) {
    return registry.error();
  }
  auto pulled = oci::Pull(store, *registry, *ref, options);
  if (!pulled) {
    return pulled.error();
  }
  if (!ref->digest.empty()) {
    return ref->digest;
  }
  const std::string& pinned = pulled->resolved_digest;
  options.progress("`oci:" + image.ref() + "` resolved to " + pinned);
  return pinned;
}

}  // namespace mvm::cli
