// The two encrypted formats keep apart: a name is either the API-only store (encrypted.cc) or the
// mountable one (encrypted_mount.cc), and each refuses a name the other holds, naming it.

#include "runtime/volumes/encrypted_mount.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(EncryptedFormats, ANameIsEitherTheApiStoreOrTheMountableOne) {
  mvm::testing::TempDir state("mvm-encrypted-formats");
  auto store = secrets::Store::Open(state.path() / "secrets");
  ASSERT_TRUE(store) << store.error().message;
  AttachContext context;
  context.sandbox = "formats";
  context.state_dir = state.path();
  context.secrets = &*store;

  // An API-only store named `api` exists: the mount refuses that name before mounting anything.
  VolumeSpec api;
  api.backend = "encrypted";
  api.source = "api";
  ASSERT_TRUE(Attach(api, context));
  EncryptedMountRequest request;
  request.name = "api";
  request.size_mb = 8;
  request.state_dir = state.path();
  request.secrets = &*store;
  request.mount_dir = state.path() / "mounts" / "x";
  auto mounted = MountEncryptedStore(request);
  ASSERT_FALSE(mounted);
  EXPECT_THAT(mounted.error().message, HasSubstr("holds an API-only encrypted store of that name"));
  EXPECT_FALSE(fs::exists(EncryptedStoreDir(state.path(), "api")));

  // A mountable store named `mounted` exists: the API-only backend refuses that name.
  fs::create_directories(EncryptedStoreDir(state.path(), "mounted"));
  VolumeSpec other = api;
  other.source = "mounted";
  auto attached = Attach(other, context);
  ASSERT_FALSE(attached);
  EXPECT_THAT(attached.error().message, HasSubstr("holds a mountable store of that name"));
  EXPECT_FALSE(fs::exists(state.path() / "volumes" / "encrypted" / "mounted"));
}

}  // namespace
}  // namespace mvm::runtime::volumes
