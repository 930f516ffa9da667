#include "passes/image_ref.h"

#include <gtest/gtest.h>

#include <string>

namespace mvm::passes {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Valid {
  std::string ref;
  std::string domain;
  std::string path;
  std::string tag;
  std::string digest;
};

TEST(ImageRefTest, ValidOciReferences) {
  const Valid cases[] = {
      {"ubuntu", "", "ubuntu", "", ""},
      {"ubuntu:22.04", "", "ubuntu", "22.04", ""},
      {"library/ubuntu", "", "library/ubuntu", "", ""},
      {"docker.io/library/ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", ""},
      {"localhost:5000/a/b@sha256:" + kHex, "localhost:5000", "a/b", "", "sha256:" + kHex},
      {"localhost/a", "localhost", "a", "", ""},
      {"ghcr.io/org/app:v1.2.3-rc_1@sha256:" + kHex, "ghcr.io", "org/app", "v1.2.3-rc_1",
       "sha256:" + kHex},
      {"Registry.Example.com:443/team/app", "Registry.Example.com:443", "team/app", "", ""},
      {"[::1]:5000/app", "[::1]:5000", "app", "", ""},
      {"a.b/c__d/e.f/g---h/i_j", "a.b", "c__d/e.f/g---h/i_j", "", ""},
      {"busybox:_latest", "", "busybox", "_latest", ""},
      {"busybox:" + std::string(128, 't'), "", "busybox", std::string(128, 't'), ""},
  };
  for (const Valid& c : cases) {
    ImageRefResult r = ParseImageRef("oci", c.ref);
    ASSERT_TRUE(r.ok()) << c.ref << ": " << r.error;
    EXPECT_EQ(r.ref.kind, "oci");
    EXPECT_EQ(r.ref.domain, c.domain) << c.ref;
    EXPECT_EQ(r.ref.path, c.path) << c.ref;
    EXPECT_EQ(r.ref.tag, c.tag) << c.ref;
    EXPECT_EQ(r.ref.digest, c.digest) << c.ref;
  }
}

struct Invalid {
  std::string ref;
  std::string error;
};

TEST(ImageRefTest, InvalidOciReferences) {
  const std::string kComponentRule =
      ": components are lowercase letters and digits separated by `.`, `_`, `__` or `-`";
  const Invalid cases[] = {
      {"", "the reference is empty"},
      {"ubuntu :22.04", "a reference contains no whitespace"},
      {"docker.io/library/Ubuntu", "repository names must be lowercase (`Ubuntu`)"},
      {"library/Ubuntu:22.04", "repository names must be lowercase (`Ubuntu`)"},
      {"Ubuntu", "repository names must be lowercase (`Ubuntu`)"},
      {"ubuntu@sha256:abc",
       "invalid digest `sha256:abc`: a sha256 digest has 64 hex digits, this one has 3"},
      {"ubuntu@sha256:" + kHex + "0",
       "invalid digest `sha256:" + kHex + "0`: a sha256 digest has 64 hex digits, this one has 65"},
      {"ubuntu@sha256:" + std::string(64, 'A'),
       "invalid digest `sha256:" + std::string(64, 'A') +
           "`: sha256 digests are written in lowercase hex"},
      {"ubuntu@sha256:" + std::string(63, 'a') + "g",
       "invalid digest `sha256:" + std::string(63, 'a') + "g`: `g` is not a hex digit"},
      {"ubuntu@sha512:" + kHex + kHex,
       "unsupported digest algorithm `sha512`; images are pinned by `sha256`"},
      {"ubuntu@" + kHex,
       "invalid digest `" + kHex + "`: expected `sha256:<64 lowercase hex digits>`"},
      {"ubuntu@1sha:" + kHex,
       "invalid digest `1sha:" + kHex + "`: expected `sha256:<64 lowercase hex digits>`"},
      {"ubuntu:",
       "invalid tag ``: tags are letters, digits, `_`, `.` and `-`, not starting with `.` "
       "or `-`, at most 128 characters"},
      {"ubuntu:.x",
       "invalid tag `.x`: tags are letters, digits, `_`, `.` and `-`, not starting "
       "with `.` or `-`, at most 128 characters"},
      {"ubuntu:" + std::string(129, 't'),
       "invalid tag `" + std::string(129, 't') +
           "`: tags are letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most "
           "128 characters"},
      {":latest", "the repository name is empty"},
      {"a//b", "the repository path has an empty component (`//`, or `/` at an end)"},
      {"a/b/", "the repository path has an empty component (`//`, or `/` at an end)"},
      {"a/-b", "invalid path component `-b`" + kComponentRule},
      {"a/b..c", "invalid path component `b..c`" + kComponentRule},
      {"a/b___c", "invalid path component `b___c`" + kComponentRule},
      {"a/b.", "invalid path component `b.`" + kComponentRule},
      {"-registry.io/a",
       "invalid registry `-registry.io`: host names are letters, digits and `-` "
       "separated by `.`"},
      {"registry.io:port/a",
       "invalid port in registry `registry.io:port`: a port is decimal digits"},
      {"[::1/a", "registry `[::1` has an unclosed `[`"},
      {"a/" + std::string(254, 'b'), "the repository name is longer than 255 characters"},
  };
  for (const Invalid& c : cases) {
    ImageRefResult r = ParseImageRef("oci", c.ref);
    EXPECT_FALSE(r.ok()) << c.ref;
    EXPECT_EQ(r.error, c.error) << c.ref;
  }
}

TEST(ImageRefTest, NameOfExactly255CharactersIsValid) {
  EXPECT_TRUE(ParseImageRef("oci", "a/" + std::string(253, 'b')).ok());
}

TEST(ImageRefTest, Nix) {
  ImageRefResult r = ParseImageRef("nix", "./flake#agent-runtime");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.ref.path, "./flake");
  EXPECT_EQ(r.ref.attr, "agent-runtime");
  EXPECT_TRUE(ParseImageRef("nix", "github:NixOS/nixpkgs/nixos-24.05#hello").ok());
  EXPECT_TRUE(ParseImageRef("nix", ".#packages.x86_64-linux.default").ok());

  EXPECT_EQ(ParseImageRef("nix", "./flake").error,
            "a nix image names a flake output: `<flakeref>#<attr>`");
  EXPECT_EQ(ParseImageRef("nix", "#attr").error, "the flake reference before `#` is empty");
  EXPECT_EQ(ParseImageRef("nix", "./flake#").error, "the attribute after `#` is empty");
  EXPECT_EQ(ParseImageRef("nix", "./flake#a#b").error, "a nix reference has exactly one `#`");
  EXPECT_EQ(ParseImageRef("nix", "./my flake#a").error, "a nix reference contains no whitespace");
}

TEST(ImageRefTest, Template) {
  ImageRefResult r = ParseImageRef("template", "python-3.11");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.ref.kind, "template");
  EXPECT_EQ(r.ref.path, "python-3.11");
  EXPECT_TRUE(ParseImageRef("template", "busybox").ok());

  const std::string rule =
      "template names are lowercase letters, digits, `.` and `-`, starting with a letter or digit";
  EXPECT_EQ(ParseImageRef("template", "Python").error, rule);
  EXPECT_EQ(ParseImageRef("template", "-x").error, rule);
  EXPECT_EQ(ParseImageRef("template", "py_thon").error, rule);
  EXPECT_EQ(ParseImageRef("template", "").error,
            "the template name is empty; built-in templates: `busybox`, `python-3.11`");
  EXPECT_EQ(ParseImageRef("template", "busybx").error,
            "unknown template `busybx`; did you mean `busybox`?");
  EXPECT_EQ(ParseImageRef("template", "alpine").error,
            "unknown template `alpine`; built-in templates: `busybox`, `python-3.11`");
}

TEST(ImageRefTest, UnknownKind) {
  EXPECT_EQ(ParseImageRef("docker", "ubuntu").error,
            "unknown image kind `docker`; expected `nix:`, `oci:` or `template:`");
  EXPECT_EQ(ParseImageRef("", "ubuntu").error,
            "the reference has no kind; expected `nix:`, `oci:` or `template:`");
}

}  // namespace
}  // namespace mvm::passes
