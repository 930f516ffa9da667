#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend-emit/nix/builders.h"
#include "backend-emit/nix/request.h"
#include "backend-emit/plan/base64.h"

namespace mvm::nix {
namespace {

// `base64 -w0` of an ed25519 public key line, as the 8th field of a machine holds it.
std::string HostKey() {
  return plan::Base64Encode(
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIxND6Kak4S5oo7nXCwgbcqhQm78o6EHYiXvf+Qlpubh");
}

NixBuildRequest Request() {
  NixBuildRequest r;
  r.workload_id = "tiny";
  r.flake_ref = "path:/opt/mvm/templates";
  r.attr = "packages.x86_64-linux.busybox";
  r.store = "/state/nix";
  r.argv = NixBuildArgv(r.flake_ref, r.attr, r.store);
  r.outputs = {"out"};
  return r;
}

TEST(NixBuildersTest, MachinesAreKeptAsNixReadsThemWithoutCommentsAndBlankEntries) {
  std::string spec =
      "# the farm\n  ssh-ng://root@192.0.2.1?remote-store=/srv/store  x86_64-linux "
      "/k/id 2 1 - - " +
      HostKey() + "\n\n;ssh://builder2 # old one\n";
  auto checked = CheckBuilders(spec);
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(*checked,
            "ssh-ng://root@192.0.2.1?remote-store=/srv/store x86_64-linux /k/id 2 1 - - " +
                HostKey() + ";ssh://builder2");
}

TEST(NixBuildersTest, OnlySshMachinesWithAHostAndWellFormedFieldsAreTaken) {
  struct Case {
    std::string spec;
    std::string expected;  // a part of the message
  };
  const std::vector<Case> cases = {
      {"daemon", "machine 1: `daemon` is not an `ssh://` or `ssh-ng://` URI"},
      {"ssh-ng://a;local?root=/x", "machine 2: `local?root=/x` is not an"},
      {"s3://bucket", "`s3://bucket` is not an"},
      {"ssh-ngx://a", "`ssh-ngx://a` is not an"},
      {"ssh://", "`ssh://` names no host"},
      {"ssh://user@", "`ssh://user@` names no host"},
      {"ssh://a/b", "`ssh://a/b` names no host"},
      {"ssh://a x86_64-linux ./id", "its ssh key `./id` is not an absolute path"},
      {"ssh://a x86_64-linux - 1x", "its max jobs `1x` is not a whole number"},
      {"ssh://a x86_64-linux - 1 fast", "its speed factor `fast` is not a whole number"},
      {"ssh://a x86_64-linux - 1 1 - - !!", "its host key is not the base64"},
      {"ssh://a x86_64-linux - 1 1 - - " + plan::Base64Encode("ssh-ed25519"),
       "its host key is not the base64"},
      {"ssh://a 1 2 3 4 5 6 7 8", "it has 9 fields; a machine has at most 8"},
      {"ssh://a;@/etc/nix/machines", "machine 2: `@/etc/nix/machines` names a machines file"},
      {"", "`--builders` names no machine"},
      {" ;\n# only a comment", "`--builders` names no machine"},
  };
  for (const Case& c : cases) {
    auto checked = CheckBuilders(c.spec);
    ASSERT_FALSE(checked.ok()) << c.spec << " was taken as " << *checked;
    EXPECT_EQ(checked.error().kind, ErrorKind::kUsage) << c.spec;
    EXPECT_NE(checked.error().message.find(c.expected), std::string::npos)
        << c.spec << ": " << checked.error().message;
    // Every refusal says how a machine is written.
    EXPECT_NE(checked.error().message.find("ssh-ng://root@builder1 x86_64-linux"),
              std::string::npos)
        << checked.error().message;
  }
  // `-` is every field's default, and an ecdsa key is a host key too.
  EXPECT_TRUE(
      CheckBuilders("ssh://a - - - - - - " + plan::Base64Encode("ecdsa-sha2-nistp256 AAAAE2VjZHNh"))
          .ok());
}

TEST(NixBuildersTest, TheBuildGoesToTheBuildersOnlyAndTheFlakeOutputStaysLast) {
  NixBuildRequest r = Request();
  std::vector<std::string> before = r.argv;
  ASSERT_TRUE(UseRemoteBuilders(r, "ssh-ng://b1 x86_64-linux").ok());
  ASSERT_EQ(r.argv.size(), before.size() + 4);
  EXPECT_EQ(r.argv.back(), "path:/opt/mvm/templates#packages.x86_64-linux.busybox");
  std::vector<std::string> added(r.argv.end() - 5, r.argv.end() - 1);
  EXPECT_EQ(added, (std::vector<std::string>{"--max-jobs", "0", "--builders",
                                             "ssh-ng://b1 x86_64-linux"}));
  // The request is still one ParseRequestJson takes, so `mvmctl build PLAN` can run it again.
  auto parsed = ParseRequestJson(RequestToCanonicalJson(r));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, r);
}

TEST(NixBuildersTest, ARequestThatAlreadyPicksWhereItBuildsIsNotChangedSilently) {
  for (std::vector<std::string> extra :
       {std::vector<std::string>{"--builders", "ssh://x"}, {"--max-jobs", "4"}, {"-j", "4"}}) {
    NixBuildRequest r = Request();
    r.argv.insert(r.argv.begin() + 4, extra.begin(), extra.end());
    std::vector<std::string> before = r.argv;
    auto used = UseRemoteBuilders(r, "ssh-ng://b1");
    ASSERT_FALSE(used.ok()) << extra[0];
    EXPECT_EQ(used.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(used.error().message.find("already sets `" + extra[0] + "`"), std::string::npos)
        << used.error().message;
    EXPECT_EQ(r.argv, before);
  }
}

TEST(NixBuildersTest, HintsNameTheCauseNixLeavesUnsaid) {
  EXPECT_NE(RemoteBuildHint("Host key verification failed.\nerror: unexpected end-of-file")
                .find("host key is not the one pinned"),
            std::string::npos);
  EXPECT_NE(
      RemoteBuildHint("root@192.0.2.1: Permission denied (publickey).").find("refused the ssh key"),
      std::string::npos);
  EXPECT_NE(RemoteBuildHint("error: unable to start any build; remote machines may not have")
                .find("no builder took the build"),
            std::string::npos);
  EXPECT_EQ(RemoteBuildHint("error: builder for '/nix/store/x.drv' failed with exit code 1"), "");
}

TEST(NixBuildersTest, TheHostBuildsTheDerivationPathInPlaceOfTheFlakeWithEverythingElseKept) {
  NixBuildRequest r = Request();
  ASSERT_TRUE(UseRemoteBuilders(r, "ssh-ng://root@b x86_64-linux").ok());
  const std::string drv = "/nix/store/nwyyvx7drvzjb9rjc1344l49wzg12dlb-mvm-rootfs-busybox.drv";
  NixBuildRequest host = DerivationRequest(r, drv);
  EXPECT_EQ(host.argv.back(), drv);
  std::vector<std::string> rest(host.argv.begin(), host.argv.end() - 1);
  EXPECT_EQ(rest, std::vector<std::string>(r.argv.begin(), r.argv.end() - 1));
  EXPECT_EQ(host.flake_ref, r.flake_ref);
  EXPECT_EQ(host.store, r.store);
}

TEST(NixBuildersTest, AnImportIsRefusedUnlessTheBuilderNamedOneDerivationPath) {
  for (const char* drv : {"/nix/store/nwyyvx7drvzjb9rjc1344l49wzg12dlb-mvm-rootfs-busybox",
                          "/nix/store/../etc/x.drv", "path:/src/x#a", ""}) {
    auto imported = ImportDerivations("/nonexistent/nix", "/nonexistent/cache", "/state/nix", drv);
    ASSERT_FALSE(imported.ok()) << drv;
    EXPECT_NE(imported.error().message.find("not a store path ending in `.drv`"), std::string::npos)
        << imported.error().message;
  }
}

}  // namespace
}  // namespace mvm::nix
