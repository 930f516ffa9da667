#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine needs to build and test mvm: Debian packages, and the
# tree-sitter core and grammar C sources from npm, pinned by version and checked against their integrity
# hashes. Idempotent: a second run installs nothing and only re-checks the hashes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/third_party/npm"

debian_packages=(
  build-essential cmake ninja-build clang clang-format-16 clang-tidy libclang-rt-14-dev lld
  llvm-14-tools python3 python3-nacl
  protobuf-compiler libprotobuf-dev nlohmann-json3-dev libsodium-dev libseccomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libarchive-dev
  # Python `\N{NAME}` escapes: ICU's Unicode character name table.
  libicu-dev
  # The egress proxy: DNS (ldns), HTTP/1.x (http-parser), the sandbox-side redirect (nftables).
  libldns-dev libhttp-parser-dev libnftables-dev
  ca-certificates openssl
  # lit-tests/cli/run_syncs.test counts the syncs of a run with it.
  strace
  # The SARIF test (lit-tests/cli/sarif_schema.test) validates mvmctl's logs with a real JSON Schema
  # validator, for the system python3 (Debian's /usr/bin/python3); rfc3987 lets it check `uri` formats.
  python3-jsonschema python3-rfc3987
  # The test internet of the egress tests (tests/support/test_internet.h): namespaces and veth pairs,
  # curl as the client, and Debian's pip (with the requests it vendors) as two more clients.
  iproute2 curl python3-pip
  busybox-static mmdebstrap nix-bin neovim git
  # mmdebstrap in the builder sandbox, whose seccomp filter refuses chroot, mount and unshare:
  # its fakechroot mode (runtime/launcher/builder.cc).
  fakechroot fakeroot
  # The Nix remote builder test (tests/integration/nix/remote_builder_integration.cc) runs its own
  # sshd in a network namespace; the package's own service is not needed by mvm.
  openssh-server openssh-client
  # The qemu-microvm backend: qemu, and the tools that make its guest kernel and images.
  qemu-system-x86 xz-utils e2fsprogs
  # OCI images: libcurl (OpenSSL) for the registry client; the tests' registry, its htpasswd file,
  # and skopeo and umoci to push and unpack the images they build.
  libcurl4-openssl-dev docker-registry apache2-utils skopeo umoci
  # Encrypted volumes (runtime/volumes/encrypted_mount.cc): gocryptfs over FUSE, whose fusermount
  # is in fuse3 (which gocryptfs only recommends), on an ext4 image (e2fsprogs, above); object
  # volumes (runtime/volumes/object_mount.cc): s3fs over FUSE.
  gocryptfs fuse3 s3fs
)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v npm >/dev/null; then
  echo "bootstrap: npm is required to fetch the tree-sitter sources (Node 20 ships it); install Node.js first" >&2
  exit 3
fi

# name@version and its npm integrity (sha512, as `npm view NAME@VERSION dist.integrity` prints it).
npm_packages=(
  "tree-sitter@0.25.0 sha512-PGZZzFW63eElZJDe/b/R/LbsjDDYJa5UEjLZJB59RQsMX+fo0j54fqBPn1MGKav/QNa0JR0zBiVaikYDWCj5KQ=="
  "tree-sitter-python@0.25.0 sha512-eCmJx6zQa35GxaCtQD+wXHOhYqBxEL+bp71W/s3fcDMu06MrtzkVXR437dRrCrbrDbyLuUDJpAgycs7ncngLXw=="
  "tree-sitter-typescript@0.23.2 sha512-e04JUUKxTT53/x3Uq1zIL45DoYKVfHH4CZqwgZhPg5qYROl5nQjV+85ruFzFGZxu+QeFVbRTPDRnqL9UbU4VeA=="
  # The TypeScript SDK's compiler (sdks/typescript is built with its tsc; the SDK has no runtime deps).
  "typescript@5.9.3 sha512-jl1vZzPDinLr9eUt3J/t7V6FgNEw9QjvBPdysz9KfQDD41fQrC2Y4vKQdiaUpFT4bXlb1RHhLpp8wtm6M5TgSw=="
  # The SARIF 2.1.0 JSON schema (lib/schemas/sarif-2.1.0-rtm.5.json, Microsoft's, as published with the
  # standard) that lit-tests/cli/sarif_schema.test validates mvmctl's SARIF logs against; only the schema
  # file is used.
  "@microsoft/jest-sarif@1.0.0-beta.0 sha512-A1fOhPd6Ic5iDk4F9YPw1qNB4XF+7+IviR7xl8r2F6QzQkx5cpY9LsGk2rExiFIEcBbjpVnSmwWGBukASkiQ9A=="
)

mkdir -p "$deps/tarballs"
for entry in "${npm_packages[@]}"; do
  spec=${entry% *}
  want=${entry#* }
  name=${spec%@*}
  version=${spec##*@}
  # npm pack names a scoped package's tarball without the `@` and with `-` for the `/`.
  packed=${name#@}
  packed=${packed//\//-}-$version.tgz
  tarball="$deps/tarballs/$packed"
  if [[ ! -f "$tarball" ]]; then
    echo "bootstrap: fetching $spec"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1) || {
      echo "bootstrap: 'npm pack $spec' failed; is the npm registry reachable?" >&2
      exit 3
    }
    mv "$tmp/$packed" "$tarball"
    rm -rf "$tmp"
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$got" != "$want" ]]; then
    echo "bootstrap: integrity mismatch for $spec" >&2
    echo "  expected $want" >&2
    echo "  got      $got" >&2
    echo "  delete $tarball and run again; if it persists, the registry served different bytes" >&2
    exit 3
  fi
  dest="$deps/$name"
  stamp="$dest/.mvm-integrity"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    rm -rf "$dest"
    mkdir -p "$dest"
    tar xzf "$tarball" -C "$dest" --strip-components=1
    echo "$want" >"$stamp"
  fi
done
# s3rver, the S3-compatible server the object volume backend's tests start on 127.0.0.1
# (tests/runtime/volumes/s3rver.h). It has dependencies, so it is installed with `npm ci` from
# scripts/npm/s3rver/package-lock.json, which pins every package by version and sha512 integrity (npm
# ci refuses a tarball whose hash differs); the lock file must pin s3rver itself to this one.
s3rver_integrity="sha512-H9KIX6n8NqcfoE4ziFNbQASBQfjcNJgb+3wbT9L5iotEqfOncFO1c38cfJSFSo7xXTu1zM9HA6t2u9xKNlYRaA=="
s3rver_lock="$root/scripts/npm/s3rver/package-lock.json"
if ! grep -q "\"integrity\": \"$s3rver_integrity\"" "$s3rver_lock"; then
  echo "bootstrap: $s3rver_lock does not pin s3rver@3.7.1 to $s3rver_integrity" >&2
  exit 3
fi
dest="$deps/s3rver"
want=$(openssl dgst -sha256 -r "$s3rver_lock" | cut -d' ' -f1)
if [[ ! -x "$dest/node_modules/.bin/s3rver" || "$(cat "$dest/.mvm-lock" 2>/dev/null)" != "$want" ]]; then
  echo "bootstrap: installing s3rver@3.7.1 and its locked dependencies"
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$root/scripts/npm/s3rver/package.json" "$s3rver_lock" "$dest/"
  (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --silent) || {
    echo "bootstrap: 'npm ci' of s3rver failed; is the npm registry reachable?" >&2
    exit 3
  }
  echo "$want" >"$dest/.mvm-lock"
fi
echo "bootstrap: ok"
