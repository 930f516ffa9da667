// The network a Debian build's builder sandbox gets: the egress proxy allowing exactly the archives
// of the host's apt sources (here deb.debian.org, which /etc/hosts may pin). A step of the build
// that reaches for another host, or for the archive by its address, fails, and one that reads the
// host's ~/.ssh or the state directory finds nothing. No mmdebstrap: a builder started as
// DebootstrapInBuilder starts it runs python3 from the host's /usr, which the builder sees
// read-only; a few seconds.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/launcher/builder.h"
#include "tests/runtime/rootfs/builder_debootstrap.h"
#include "tests/runtime/rootfs/rootfs_test_util.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::rootfs {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;
using testing::IsRoot;

// One line per probe, `name result`, from inside the builder.
constexpr std::string_view kProbe = R"PY(
import os, sys, urllib.request
proxy = os.environ.get("http_proxy", "")
def fetch(url, via_proxy=True):
    handler = urllib.request.ProxyHandler({"http": proxy} if via_proxy else {})
    try:
        with urllib.request.build_opener(handler).open(url, timeout=15) as r:
            return "status=%d" % r.status
    except urllib.error.HTTPError as e:
        return "status=%d" % e.code
    except Exception as e:
        return "failed=" + type(e).__name__
def read(path):
    try:
        with open(path) as f:
            return "read=" + f.read().strip()
    except Exception as e:
        return "absent=" + type(e).__name__
archive = sys.argv[1]
print("archive", fetch("http://%s/debian/dists/bookworm/Release" % archive))
print("other-name", fetch("http://example.com/"))
print("other-ip", fetch("http://203.0.113.10/"))
print("direct-ip", fetch("http://203.0.113.10/", via_proxy=False))
print("archive-https", fetch("https://%s/" % archive))
# The archive's own address, as the host reaches it, but not by its name: raw addresses are refused.
print("archive-ip", fetch("http://%s/debian/dists/bookworm/Release" % sys.argv[2], via_proxy=False))
for i, path in enumerate(sys.argv[3:]):
    print("canary%d" % i, read(path))
)PY";

TEST(BuilderNetworkTest, ReachesOnlyTheArchiveAndNoHostSecret) {
  if (!IsRoot()) {
    MVM_MISSING_PREREQUISITE() << "the builder sandbox needs root";
  }
  auto archive = ArchiveHostsFromApt();
  ASSERT_TRUE(archive.ok()) << archive.error().message;
  ASSERT_FALSE(archive->empty());
  const std::string archive_host = archive->front().host;

  TempDir tmp(fs::temp_directory_path(), "mvm-builder-network");
  auto builder = testing::TestBuilder::Open(tmp.path() / "state");
  ASSERT_TRUE(builder.ok()) << builder.error().message;
  // Canaries where a hostile build would look: the state directory and the home's ~/.ssh.
  const std::string secret =
      "mvm-canary-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
  const fs::path state_canary = tmp.path() / "state" / "canary";
  const char* home = std::getenv("HOME");
  const fs::path ssh_dir = fs::path(home != nullptr ? home : "/root") / ".ssh";
  fs::create_directories(ssh_dir);
  const fs::path ssh_canary = ssh_dir / ("mvm-canary-" + std::to_string(::getpid()));
  std::ofstream(state_canary) << secret;
  std::ofstream(ssh_canary) << secret;

  LauncherOptions& options = (*builder)->options;
  audit::Log& audit = *(*builder)->audit->log;
  const std::string name = std::string(kWarmBuilder) + "-nettest-" + std::to_string(::getpid());
  auto started =
      StartBuilder(options, BuilderSettings{}, name, /*detached=*/false, audit, *archive);
  ASSERT_TRUE(started.ok()) << started.error().message;
  agent::ExecRequest request;
  ASSERT_FALSE(archive->front().addresses.empty());
  request.argv = {"/usr/bin/python3",
                  "-c",
                  std::string(kProbe),
                  archive_host,
                  archive->front().addresses[0],
                  state_canary.string(),
                  ssh_canary.string(),
                  (options.state.root / "keys").string()};
  request.env = {{"PATH", "/usr/bin:/bin"}, {"http_proxy", started->record().egress_proxy}};
  request.timeout_ms = 120000;
  std::string out;
  auto ran = started->agent().Exec(request,
                                   [&](agent::Stream, std::string_view data) { out.append(data); });
  (void)Destroy(options, *started, audit, "test finished");
  (void)UnmountBuilderStore(options.state);
  fs::remove(ssh_canary);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 0) << out;

  // The archive is reachable through the proxy (what mmdebstrap uses), and nothing else is.
  EXPECT_NE(out.find("archive status=200"), std::string::npos) << out;
  EXPECT_NE(out.find("other-name status=403"), std::string::npos) << out;
  EXPECT_NE(out.find("other-ip status=403"), std::string::npos) << out;
  EXPECT_EQ(out.find("direct-ip status=200"), std::string::npos) << out;
  EXPECT_EQ(out.find("archive-https status=200"), std::string::npos) << out;
  EXPECT_NE(out.find("archive-ip "), std::string::npos) << out;
  EXPECT_EQ(out.find("archive-ip status=200"), std::string::npos) << out;
  for (const char* canary : {"canary0 absent", "canary1 absent", "canary2 absent"}) {
    EXPECT_NE(out.find(canary), std::string::npos) << out;
  }
  EXPECT_EQ(out.find(secret), std::string::npos) << out;
  // The proxy's refusals are the launcher's records, not the builder's word.
  std::string log = (*builder)->AuditText();
  EXPECT_NE(log.find("\"deny\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"network\":[\"http://" + archive_host + "\""), std::string::npos) << log;
}

}  // namespace
}  // namespace mvm::runtime::rootfs
