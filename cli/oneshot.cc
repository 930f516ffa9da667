#include "cli/oneshot.h"

#include <charconv>

#include "passes/image_ref.h"

namespace mvm::cli {
namespace {

Error Usage(std::string message) { return MakeError(ErrorKind::kUsage, std::move(message)); }

// `none`, or a comma-separated list of `dns`, `https:HOST` and `http:HOST`: the rules
// NetworkPolicy.deny_by_default().allow_dns().allow_https(HOST)... declares.
ErrorOr<Ok> AddNetwork(std::string_view text, ir::v1::Workload& w) {
  if (text == "none") {
    return Ok{};  // no policy at all: no network
  }
  ir::v1::NetworkPolicy* policy = w.mutable_network();
  policy->set_default_("deny");
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const size_t colon = item.find(':');
    const std::string_view protocol = item.substr(0, colon);
    if (item == "dns") {
      policy->set_dns(true);
    } else if (colon != std::string_view::npos && colon + 1 < item.size() &&
               (protocol == "https" || protocol == "http")) {
      ir::v1::NetworkRule* rule = policy->add_rules();
      rule->set_protocol(std::string(protocol));
      rule->set_host(std::string(item.substr(colon + 1)));
    } else {
      return Usage("`--network " + std::string(text) + "`: `" + std::string(item) +
                   "` is not `dns`, `https:HOST` or `http:HOST`; write `none` (the default) or a "
                   "comma-separated list such as `dns,https:pypi.org`");
    }
    if (comma == std::string_view::npos) {
      return Ok{};
    }
    text.remove_prefix(comma + 1);
  }
}

}  // namespace

ErrorOr<ir::Module> OneShotModule(const OneShotRequest& request) {
  if (request.command.empty() || request.command.front().empty()) {
    return Usage(
        "give the command to run after `--` (`mvmctl run -- CMD ARGS...`), or a source file or "
        "plan to run");
  }
  ir::Module module;
  ir::v1::Workload* w = module.proto.add_workloads();
  module.locs.emplace_back();
  w->set_id(std::string(kOneShotWorkload));

  const size_t colon = request.image.find(':');
  const std::string kind = request.image.substr(0, colon);
  if (colon == std::string::npos || (kind != "template" && kind != "oci" && kind != "nix")) {
    return Usage("`--image " + request.image +
                 "`: expected `template:NAME`, `oci:REFERENCE` or `nix:FLAKE#ATTR` (default " +
                 std::string(kOneShotImage) + ")");
  }
  const std::string ref = request.image.substr(colon + 1);
  if (passes::ImageRefResult parsed = passes::ParseImageRef(kind, ref); !parsed.ok()) {
    return Usage("`--image " + request.image + "`: " + parsed.error);
  }
  w->mutable_image()->set_kind(kind);
  w->mutable_image()->set_ref(ref);

  for (const std::string& kv : request.env) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Usage("`-e " + kv + "`: expected NAME=VALUE");
    }
    (*w->mutable_env())[kv.substr(0, eq)] = kv.substr(eq + 1);
  }

  if (request.timeout) {
    const std::string& t = *request.timeout;
    int32_t seconds = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), seconds);
    if (ec != std::errc() || end != t.data() + t.size() || seconds < 1 || seconds > 86400) {
      return Usage("`--timeout " + t + "`: expected whole seconds from 1 to 86400");
    }
    w->set_timeout_seconds(seconds);
  }

  if (auto network = AddNetwork(request.network, *w); !network) {
    return network.error();
  }
  w->set_isolation(request.isolation);

  ir::v1::Entrypoint* main = w->add_entrypoints();
  main->set_name("main");
  for (const std::string& arg : request.command) {
    main->add_command(arg);
  }
  return module;
}

}  // namespace mvm::cli
