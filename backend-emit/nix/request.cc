// Lowering a workload's image to a Nix build request: which flake output, built how and where.

#include "backend-emit/nix/request.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "backend-emit/nix/templates.h"
#include "ir/canonical_json.h"
#include "ir/module.h"
#include "ir/support/check.h"

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

bool IsRelativePath(std::string_view path) {
  return path == "." || path == ".." || path.starts_with("./") || path.starts_with("../");
}

// `base_dir / relative`, normalised, without the trailing separator `lexically_normal` leaves on
// `dir/.`: Nix reads `/a/b/` and `/a/b` alike, but the request should have one spelling.
std::string Absolute(const fs::path& base_dir, std::string_view relative) {
  std::string out = (base_dir / relative).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

const Json* Member(const Json& object, std::string_view name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

ErrorOr<std::string> StringField(const Json& object, std::string_view name) {
  const Json* value = Member(object, name);
  if (value == nullptr || !value->is_string()) {
    return Error{"the request's `" + std::string(name) + "` is missing or not a string"};
  }
  return value->get<std::string>();
}

ErrorOr<std::vector<std::string>> StringListField(const Json& object, std::string_view name) {
  const Json* value = Member(object, name);
  if (value == nullptr || !value->is_array()) {
    return Error{"the request's `" + std::string(name) + "` is missing or not a list"};
  }
  std::vector<std::string> out;
  for (const Json& item : *value) {
    if (!item.is_string()) {
      return Error{"the request's `" + std::string(name) + "` holds something other than strings"};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

std::string ResolveFlakeRef(std::string_view flake_ref, const fs::path& base_dir) {
  MVM_CHECK(base_dir.is_absolute());
  std::string_view path = flake_ref;
  std::string_view query;
  if (size_t q = flake_ref.find('?'); q != std::string_view::npos) {
    path = flake_ref.substr(0, q);
    query = flake_ref.substr(q);
  }
  if (IsRelativePath(path)) {
    return Absolute(base_dir, path) + std::string(query);
  }
  if (path.starts_with("path:") && !path.substr(5).starts_with('/')) {
    return "path:" + Absolute(base_dir, path.substr(5)) + std::string(query);
  }
  return std::string(flake_ref);
}

std::vector<std::string> NixOptions(
    std::initializer_list<std::pair<std::string_view, std::string_view>> options) {
  std::vector<std::string> out = {"--option", "substituters", ""};
  for (const auto& [name, value] : options) {
    out.insert(out.end(), {"--option", std::string(name), std::string(value)});
  }
  out.insert(out.end(), {"--option", "build-users-group", ""});
  return out;
}

std::vector<std::string> NixBuildArgv(std::string_view flake_ref, std::string_view attr,
                                      std::string_view store) {
  std::vector<std::string> argv = {"nix",
                                   "--extra-experimental-features",
                                   "nix-command flakes",
                                   "build",
                                   "--store",
                                   std::string(store)};
  for (std::string& option : NixOptions({{"sandbox", "true"}, {"sandbox-fallback", "false"}})) {
    argv.push_back(std::move(option));
  }
  argv.insert(argv.end(), {"--print-build-logs", "--no-link", "--json",
                           std::string(flake_ref) + "#" + std::string(attr)});
  return argv;
}

LoweredRequest LowerNixBuildRequest(std::string_view workload_id, const ir::v1::Image& image,
                                    const RequestOptions& options) {
  MVM_CHECK(options.base_dir.is_absolute() && options.templates_dir.is_absolute() &&
            options.store.is_absolute());
  NixBuildRequest r;
  r.workload_id = std::string(workload_id);
  r.image = image.kind() + ":" + image.ref();
  if (image.kind() == "nix") {
    // validate guarantees `<flakeref>#<attr>`; the attribute is everything after the first `#`,
    // as the plan's artifact splits it.
    std::string_view ref = image.ref();
    size_t hash = ref.find('#');
    MVM_CHECK(hash != std::string_view::npos);
    r.flake_ref = ResolveFlakeRef(ref.substr(0, hash), options.base_dir);
    r.attr = std::string(ref.substr(hash + 1));
  } else if (image.kind() == "template") {
    if (!IsNixTemplate(image.ref())) {
      return {std::nullopt, "template `" + image.ref() +
                                "` is built by the runtime with mmdebstrap, not by Nix (the "
                                "template flake builds only what it can build offline without "
                                "nixpkgs)"};
    }
    // `path:` keeps Nix from treating the directory as part of a git checkout, which would hide
    // files not committed yet and differ between a source tree and an installed copy.
    r.flake_ref = "path:" + options.templates_dir.lexically_normal().string();
    r.attr = "packages." + std::string(kTemplateSystem) + "." + image.ref();
  } else {
    return {std::nullopt,
            "`" + image.kind() + ":` images are fetched by their pinned digest, not built by Nix"};
  }
  r.store = options.store.lexically_normal().string();
  r.argv = NixBuildArgv(r.flake_ref, r.attr, r.store);
  r.outputs = {"out"};
  return {std::move(r), ""};
}

std::string RequestToCanonicalJson(const NixBuildRequest& request) {
  Json j = {{"schema", kRequestSchema}, {"workload_id", request.workload_id},
            {"image", request.image},   {"flake_ref", request.flake_ref},
            {"attr", request.attr},     {"store", request.store},
            {"argv", request.argv},     {"outputs", request.outputs}};
  return ir::CanonicalJson(j);
}

ErrorOr<NixBuildRequest> ParseRequestJson(std::string_view text) {
  Json j = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error{"a Nix build request is a JSON object"};
  }
  static constexpr std::array kFields = {"argv",    "attr",   "flake_ref", "image",
                                         "outputs", "schema", "store",     "workload_id"};
  for (const auto& [name, value] : j.items()) {
    if (std::find(kFields.begin(), kFields.end(), name) == kFields.end()) {
      return Error{"the request has an unknown field `" + name + "`"};
    }
  }
  auto schema = StringField(j, "schema");
  if (!schema) {
    return schema.error();
  }
  if (*schema != kRequestSchema) {
    return Error{"the request's schema is `" + *schema + "`, not `" + std::string(kRequestSchema) +
                 "`"};
  }
  NixBuildRequest r;
  for (auto [name, out] : {std::pair{"workload_id", &r.workload_id},
                           {"image", &r.image},
                           {"flake_ref", &r.flake_ref},
                           {"attr", &r.attr},
                           {"store", &r.store}}) {
    auto value = StringField(j, name);
    if (!value) {
      return value.error();
    }
    *out = std::move(*value);
  }
  for (auto [name, out] : {std::pair{"argv", &r.argv}, {"outputs", &r.outputs}}) {
    auto value = StringListField(j, name);
    if (!value) {
      return value.error();
    }
    *out = std::move(*value);
  }
  if (!ir::IsWorkloadId(r.workload_id)) {
    return Error{"the request's workload_id `" + r.workload_id + "` is not a workload id"};
  }
  if (r.argv.empty() || r.argv.front() != "nix") {
    return Error{"the request's argv does not start with `nix`"};
  }
  if (r.argv.back() != r.flake_ref + "#" + r.attr) {
    return Error{"the request's argv does not end with its `<flake_ref>#<attr>`"};
  }
  if (r.store.empty() || r.store.front() != '/') {
    return Error{"the request's store `" + r.store +
                 "` is not an absolute directory; mvm builds into a local store it can read"};
  }
  auto store_flag = std::find(r.argv.begin(), r.argv.end(), "--store");
  if (store_flag == r.argv.end() || store_flag + 1 == r.argv.end() || store_flag[1] != r.store) {
    return Error{"the request's argv does not build into its store (`--store " + r.store + "`)"};
  }
  if (std::find(r.argv.begin(), r.argv.end(), "--json") == r.argv.end()) {
    return Error{"the request's argv has no `--json`, so its output cannot be read"};
  }
  if (r.outputs.empty()) {
    return Error{"the request names no outputs"};
  }
  return r;
}

}  // namespace mvm::nix
