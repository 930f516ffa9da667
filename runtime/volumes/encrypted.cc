// `encrypted`: a named store under `<state>/volumes/encrypted/NAME/`, every file sealed with
// libsodium's crypto_secretstream_xchacha20poly1305, its key from the host secret store.
//
// Why this store is API-only (Mount gives the name's other format, a gocryptfs store of
// encrypted_mount.h): a mountable encrypted volume needs the plaintext to be a file system the
// guest sees (gocryptfs over FUSE on the host, shared by virtio-fs or a bind mount), which puts a
// FUSE daemon holding the key beside every sandbox and the plaintext in the host's page cache.
// Through the API the key stays in this process's locked memory, plaintext exists only in the
// caller's buffers, and what reaches the disk is what is described below. docs/volumes.md has the
// table and what is left for a mountable mode.
//
// On disk (all below `data/`):
//   - every path component is a directory or file named by a keyed hash: BLAKE2b-160 under the
//     name key of (the parent's plaintext path, NUL, the component), in hex. The same name in two
//     directories gets two unrelated names; names cannot be read back from their hashes.
//   - the plaintext name is kept sealed beside it (so listings work): at the start of a file, and
//     in `.mvm-name` inside a directory: a 24-byte random nonce and the name padded to 256 bytes,
//     sealed with XChaCha20-Poly1305 under the name key with the parent's path and the on-disk name
//     as additional data. Padding hides the length of names.
//   - a file is then a sealed stream (runtime/secrets/stream.h): chunks of 64 KiB (the last
//   shorter,
//     tagged FINAL), each with the file's whole plaintext path as additional data: moving, renaming
//     or swapping files on disk, truncating one, reordering or dropping chunks all fail to verify.
// What still leaks to someone who reads the disk: each file's exact size, how many files and
// directories there are and how they nest, name-hash equality over time (a rewrite of a file keeps
// its on-disk name), and every timestamp. A rename re-encrypts the file under its new path, so it
// costs a copy and is not atomic (the new name appears whole, then the old one goes).

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/write_all.h"
#include "runtime/secrets/secrets.h"
#include "runtime/secrets/stream.h"
#include "runtime/volumes/backends.h"
#include "runtime/volumes/encrypted_mount.h"
#include "runtime/volumes/host_dir.h"

namespace mvm::runtime::volumes {
namespace {

using internal::HostDir;
namespace fs = std::filesystem;

constexpr size_t kKeyBytes = 32;
constexpr size_t kNameNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kNamePlain = kMaxComponentBytes + 1;
constexpr size_t kNameBlock = kNameNonce + kNamePlain + crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kHashBytes = 20;
constexpr std::string_view kStoreFile = ".mvm-store";
constexpr std::string_view kNameFile = ".mvm-name";
constexpr std::string_view kDataAd{"mvm-volume-data-v1\0", 19};
constexpr std::string_view kNameAd{"mvm-volume-name-v1\0", 19};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// The store's keys, in locked memory, shared by the volume and its open writers.
struct Keys {
  secrets::SecretBytes data;   ///< secretstream key of every file
  secrets::SecretBytes names;  ///< name hashes and sealed names
  secrets::SecretBytes check;  ///< a value the store file keeps, to tell a wrong key
};

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string Leaf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string HashedName(const Keys& keys, const std::string& parent, const std::string& name) {
  std::string message = parent + '\0' + name;
  unsigned char digest[kHashBytes];
  crypto_generichash(digest, sizeof digest, Bytes(message), message.size(),
                     Bytes(keys.names.view()), keys.names.size());
  return os::Hex(digest, sizeof digest);
}

/// The on-disk path of plaintext `path`.
std::string HashedPath(const Keys& keys, const std::string& path) {
  std::string parent;
  std::string hashed;
  for (const std::string& part : SplitPath(path)) {
    hashed += (hashed.empty() ? "" : "/") + HashedName(keys, parent, part);
    parent += (parent.empty() ? "" : "/") + part;
  }
  return hashed;
}

std::string NameAd(const std::string& parent, const std::string& hashed_name) {
  return std::string(kNameAd) + parent + '\0' + hashed_name;
}

std::string SealName(const Keys& keys, const std::string& parent, const std::string& name) {
  std::array<unsigned char, kNamePlain> plain{};
  plain[0] = static_cast<unsigned char>(name.size());
  std::memcpy(plain.data() + 1, name.data(), name.size());
  std::string block(kNameBlock, '\0');
  auto* out = reinterpret_cast<unsigned char*>(block.data());
  randombytes_buf(out, kNameNonce);
  std::string ad = NameAd(parent, HashedName(keys, parent, name));
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + kNameNonce, nullptr, plain.data(), plain.size(),
                                             Bytes(ad), ad.size(), nullptr, out,
                                             Bytes(keys.names.view()));
  sodium_memzero(plain.data(), plain.size());
  return block;
}

/// The name sealed in `block`, which must be the one `hashed_name` stands for in `parent`.
std::optional<std::string> OpenName(const Keys& keys, const std::string& parent,
                                    const std::string& hashed_name, std::string_view block) {
  if (block.size() != kNameBlock) {
    return std::nullopt;
  }
  std::array<unsigned char, kNamePlain> plain{};
  std::string ad = NameAd(parent, hashed_name);
  const unsigned char* in = Bytes(block);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), nullptr, nullptr, in + kNameNonce,
                                                 kNameBlock - kNameNonce, Bytes(ad), ad.size(), in,
                                                 Bytes(keys.names.view())) != 0) {
    return std::nullopt;
  }
  std::string name(reinterpret_cast<const char*>(plain.data()) + 1, plain[0]);
  if (PathProblem(name) || name.find('/') != std::string::npos ||
      HashedName(keys, parent, name) != hashed_name) {
    return std::nullopt;
  }
  return name;
}

ErrorOr<size_t> ReadFull(int fd, char* buffer, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buffer + got, size - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{os::ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  return got;
}

/// Plaintext bytes of a sealed file of `disk_size` bytes.
uint64_t PlainSize(uint64_t disk_size) {
  return disk_size < kNameBlock ? 0 : secrets::StreamPlainSize(disk_size - kNameBlock);
}

/// Seals a file as it is written, chunk by chunk, into a TmpfileWriter: memory stays at one chunk.
class SealingWriter final : public Writer {
 public:
  explicit SealingWriter(std::unique_ptr<Writer> out) : out_(std::move(out)) {}

  ErrorOr<Ok> Start(const Keys& keys, const std::string& name_block, const std::string& path) {
    if (auto ok = out_->Write(name_block); !ok) {
      return ok;
    }
    auto sealer = secrets::StreamSealer::Start(
        keys.data, std::string(kDataAd) + path,
        [out = out_.get()](std::string_view sealed) { return out->Write(sealed); });
    if (!sealer) {
      return sealer.error();
    }
    sealer_ = std::move(*sealer);
    return Ok{};
  }

  ErrorOr<Ok> Write(std::string_view chunk) override { return sealer_->Write(chunk); }

  ErrorOr<Ok> Commit() override {
    if (auto ok = sealer_->Finish(); !ok) {
      return ok;
    }
    return out_->Commit();
  }

 private:
  std::unique_ptr<Writer> out_;
  std::unique_ptr<secrets::StreamSealer> sealer_;
};

class EncryptedVolume final : public Volume {
 public:
  EncryptedVolume(const VolumeSpec& spec, Capabilities capabilities, HostDir data,
                  fs::path store_dir, std::shared_ptr<const Keys> keys)
      : Volume(spec, capabilities),
        data_(std::move(data)),
        store_dir_(std::move(store_dir)),
        keys_(std::move(keys)) {}
  ~EncryptedVolume() override { DetachInDestructor(); }

 protected:
  ErrorOr<Ok> DoHealth() override {
    if (auto healthy = data_.Health(); !healthy) {
      return healthy;
    }
    return CheckStoreKey(store_dir_, *keys_, Describe());
  }

  ErrorOr<uint64_t> DoRead(const std::string& path, const ReadSink& sink) override {
    std::string hashed = HashedPath(*keys_, path);
    auto file = data_.OpenFile(hashed);
    if (!file) {
      return AsPlain(file.error(), hashed, path);
    }
    int fd = file->first.get();
    std::string block(kNameBlock, '\0');
    auto got = ReadFull(fd, block.data(), block.size());
    if (!got || *got != kNameBlock ||
        OpenName(*keys_, Parent(path), Leaf(hashed), block).value_or("") != Leaf(path)) {
      return Tampered(path);
    }
    bool sink_failed = false;
    auto opened = secrets::OpenStreamFrom(fd, keys_->data, std::string(kDataAd) + path,
                                          [&](std::string_view plain) {
                                            auto taken = sink(plain);
                                            sink_failed = !taken;
                                            return taken;
                                          });
    if (!opened && !sink_failed) {
      return opened.error().kind == ErrorKind::kVerificationFailed
                 ? Tampered(path)
                 : Error{Describe() + ": cannot read `" + path + "`: " + opened.error().message};
    }
    return opened;
  }

  ErrorOr<std::unique_ptr<Writer>> DoOpenWriter(const std::string& path) override {
    auto dir = OpenSealedParent(path, /*make=*/true);
    if (!dir) {
      return dir.error();
    }
    std::string hashed = HashedName(*keys_, Parent(path), Leaf(path));
    auto out =
        internal::TmpfileWriter::Create(std::move(*dir), hashed, Describe() + ": `" + path + "`");
    if (!out) {
      return out.error();
    }
    auto writer = std::make_unique<SealingWriter>(std::move(*out));
    if (auto started = writer->Start(*keys_, SealName(*keys_, Parent(path), Leaf(path)), path);
        !started) {
      return started.error();
    }
    return std::unique_ptr<Writer>(std::move(writer));
  }

  ErrorOr<std::vector<EntryInfo>> DoList(const std::string& path) override {
    std::string hashed = HashedPath(*keys_, path);
    auto dir = data_.OpenDirectory(hashed);
    if (!dir) {
      return NotFoundAs(dir.error(), path);
    }
    auto listing = data_.List(hashed);
    if (!listing) {
      return listing.error();
    }
    std::vector<EntryInfo> entries;
    for (const EntryInfo& on_disk : *listing) {
      std::string block(kNameBlock, '\0');
      ErrorOr<size_t> got = Error{""};
      if (on_disk.type == EntryType::kDirectory) {
        os::UniqueFd name_file(internal::OpenBeneath(
            dir->get(), on_disk.name + "/" + std::string(kNameFile), O_RDONLY));
        got = name_file.valid() ? ReadFull(name_file.get(), block.data(), block.size())
                                : ErrorOr<size_t>(Error{""});
      } else if (on_disk.type == EntryType::kFile) {
        os::UniqueFd file(internal::OpenBeneath(dir->get(), on_disk.name, O_RDONLY));
        got = file.valid() ? ReadFull(file.get(), block.data(), block.size())
                           : ErrorOr<size_t>(Error{""});
      }
      std::optional<std::string> name;
      if (got && *got == kNameBlock) {
        name = OpenName(*keys_, path, on_disk.name, block);
      }
      if (!name) {
        return Tampered(path + "/" + on_disk.name);
      }
      EntryInfo entry;
      entry.name = *name;
      entry.type = on_disk.type;
      entry.size = on_disk.type == EntryType::kFile ? PlainSize(on_disk.size) : 0;
      entries.push_back(std::move(entry));
    }
    std::sort(entries.begin(), entries.end(),
              [](const EntryInfo& a, const EntryInfo& b) { return a.name < b.name; });
    return entries;
  }

  ErrorOr<EntryInfo> DoStat(const std::string& path) override {
    auto info = data_.Stat(HashedPath(*keys_, path));
    if (!info) {
      return NotFoundAs(info.error(), path);
    }
    info->name = path;
    if (info->type == EntryType::kFile) {
      info->size = PlainSize(info->size);
    }
    return info;
  }

  ErrorOr<uint64_t> DoRemove(const std::string& path, bool recursive) override {
    std::string hashed = HashedPath(*keys_, path);
    if (!recursive) {
      // A directory holds its sealed name, so it is "empty" when it lists nothing.
      auto info = data_.Stat(hashed);
      if (info && info->type == EntryType::kDirectory) {
        auto listing = data_.List(hashed);
        if (listing && !listing->empty()) {
          return MakeError(ErrorKind::kInvalidInput,
                           Describe() + ": cannot remove `" + path +
                               "`: the directory is not empty (remove it recursively)");
        }
        recursive = true;
      }
    }
    auto removed = data_.Remove(hashed, recursive);
    if (!removed) {
      return NotFoundAs(removed.error(), path);
    }
    return removed;
  }

  ErrorOr<Ok> DoRename(const std::string& from, const std::string& to) override {
    auto info = DoStat(from);
    if (!info) {
      return info.error();
    }
    if (info->type != EntryType::kFile) {
      return MakeError(ErrorKind::kInvalidInput,
                       Describe() + ": cannot rename `" + from +
                           "`: the encrypted backend renames files only (a directory's files are "
                           "sealed to their paths)");
    }
    auto writer = DoOpenWriter(to);
    if (!writer) {
      return writer.error();
    }
    auto copied = DoRead(from, [&](std::string_view chunk) { return (*writer)->Write(chunk); });
    if (!copied) {
      return copied.error();
    }
    if (auto committed = (*writer)->Commit(); !committed) {
      return committed;
    }
    auto removed = data_.Remove(HashedPath(*keys_, from), false);
    if (!removed) {
      return removed.error();
    }
    return Ok{};
  }

  ErrorOr<Ok> DoSnapshot(const std::string& label) override {
    fs::path snapshots = store_dir_.parent_path() / (store_dir_.filename().string() + ".snapshots");
    auto root = internal::MakeAndOpenDirectory(snapshots);
    if (!root) {
      return root.error();
    }
    if (mkdirat(root->get(), label.c_str(), 0700) != 0) {
      return MakeError(
          errno == EEXIST ? ErrorKind::kUsage : ErrorKind::kEnvironment,
          Describe() + ": cannot make snapshot `" + label + "`: " + os::ErrnoText(errno));
    }
    os::UniqueFd to(internal::OpenBeneath(root->get(), label, O_RDONLY | O_DIRECTORY));
    os::UniqueFd from(open(store_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!to.valid() || !from.valid()) {
      return Error{Describe() + ": cannot open snapshot `" + label + "`: " + os::ErrnoText(errno)};
    }
    // The copy stays sealed under the same key (the store file names the store's id).
    return internal::CopyTree(from.get(), to.get(), Describe() + ": snapshot `" + label + "`");
  }

 public:
  static ErrorOr<Ok> CheckStoreKey(const fs::path& store_dir, const Keys& keys,
                                   const std::string& what);

 private:
  Error Tampered(const std::string& path) const {
    return MakeError(ErrorKind::kVerificationFailed,
                     Describe() + ": `" + path +
                         "` does not verify: its sealed bytes were changed, truncated, moved or "
                         "swapped on disk, or the store's key is not the one that wrote them");
  }

  /// `error` of a host-directory call on `hashed`, naming the plaintext `path` instead.
  static Error AsPlain(Error error, const std::string& hashed, const std::string& path) {
    size_t at = error.message.find("`" + hashed + "`");
    if (at != std::string::npos) {
      error.message.replace(at + 1, hashed.size(), path);
    }
    return error;
  }

  Error NotFoundAs(Error error, const std::string& path) const {
    if (error.kind == ErrorKind::kInvalidInput) {
      return MakeError(ErrorKind::kInvalidInput,
                       Describe() + ": `" + path + "` does not exist (or is not a directory)");
    }
    return error;
  }

  /// The on-disk directory of `path`'s parent; with `make`, missing directories are created, each
  /// with its sealed name, under a temporary name first so none is ever seen without one.
  ErrorOr<os::UniqueFd> OpenSealedParent(const std::string& path, bool make) {
    os::UniqueFd dir(fcntl(data_.fd(), F_DUPFD_CLOEXEC, 0));
    std::string plain;
    std::vector<std::string> parts = SplitPath(path);
    parts.pop_back();
    for (const std::string& part : parts) {
      std::string hashed = HashedName(*keys_, plain, part);
      int fd = internal::OpenBeneath(dir.get(), hashed, O_RDONLY | O_DIRECTORY);
      if (fd < 0 && errno == ENOENT && make) {
        if (auto made = MakeSealedDirectory(dir.get(), plain, part); !made) {
          return made.error();
        }
        fd = internal::OpenBeneath(dir.get(), hashed, O_RDONLY | O_DIRECTORY);
      }
      plain += (plain.empty() ? "" : "/") + part;
      if (fd < 0) {
        return data_.Failure("open directory", plain, errno);
      }
      dir = os::UniqueFd(fd);
    }
    return dir;
  }

  ErrorOr<Ok> MakeSealedDirectory(int parent_fd, const std::string& parent,
                                  const std::string& name) {
    std::string temporary = internal::TemporaryName();
    if (mkdirat(parent_fd, temporary.c_str(), 0700) != 0) {
      return data_.Failure("make directory", name, errno);
    }
    os::UniqueFd made(internal::OpenBeneath(parent_fd, temporary, O_RDONLY | O_DIRECTORY));
    os::UniqueFd name_file(made.valid() ? openat(made.get(), std::string(kNameFile).c_str(),
                                                 O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)
                                        : -1);
    int error = 0;
    if (!name_file.valid()) {
      error = errno;
    } else if (int w = os::WriteAll(name_file.get(), SealName(*keys_, parent, name)); w != 0) {
      error = w;
    } else if (fsync(name_file.get()) != 0 || fsync(made.get()) != 0) {
      error = errno;
    } else if (renameat(parent_fd, temporary.c_str(), parent_fd,
                        HashedName(*keys_, parent, name).c_str()) != 0) {
      // Another writer made it first: theirs stands.
      error = (errno == EEXIST || errno == ENOTEMPTY) ? 0 : errno;
    } else {
      return Ok{};
    }
    if (made.valid()) {
      (void)unlinkat(made.get(), std::string(kNameFile).c_str(), 0);
    }
    (void)unlinkat(parent_fd, temporary.c_str(), AT_REMOVEDIR);
    if (error != 0) {
      return data_.Failure("make directory", name, error);
    }
    return Ok{};
  }

  HostDir data_;
  fs::path store_dir_;
  std::shared_ptr<const Keys> keys_;
};

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "mvmvolum";

/// The store's keys from the master key (64 hex digits in the secret) and the store's id, so a
/// snapshot (a copy with the same id) opens with the same key and two stores never share keys.
ErrorOr<std::shared_ptr<const Keys>> DeriveKeys(std::string_view master_hex,
                                                const std::string& store_id,
                                                const std::string& secret_name) {
  auto master = secrets::SecretBytes::Allocate(kKeyBytes);
  auto store_key = secrets::SecretBytes::Allocate(crypto_kdf_KEYBYTES);
  if (!master || !store_key) {
    return Error{"cannot allocate locked memory for a volume key"};
  }
  size_t decoded = 0;
  if (master_hex.size() != 2 * kKeyBytes ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(master->data()), kKeyBytes, master_hex.data(),
                     master_hex.size(), nullptr, &decoded, nullptr) != 0 ||
      decoded != kKeyBytes) {
    return MakeError(ErrorKind::kInvalidInput,
                     "secret `" + secret_name +
                         "` is not a volume key: it must hold 64 hex digits (32 random bytes)");
  }
  std::string message = "mvm-volume-store-v1" + std::string(1, '\0') + store_id;
  crypto_generichash(reinterpret_cast<unsigned char*>(store_key->data()), store_key->size(),
                     Bytes(message), message.size(), Bytes(master->view()), master->size());
  auto keys = std::make_shared<Keys>();
  secrets::SecretBytes* parts[] = {&keys->data, &keys->names, &keys->check};
  for (uint64_t i = 0; i < 3; ++i) {
    auto part = secrets::SecretBytes::Allocate(kKeyBytes);
    if (!part) {
      return part.error();
    }
    crypto_kdf_derive_from_key(reinterpret_cast<unsigned char*>(part->data()), kKeyBytes, i + 1,
                               kKdfContext, Bytes(store_key->view()));
    *parts[i] = std::move(*part);
  }
  return std::shared_ptr<const Keys>(std::move(keys));
}

struct StoreFile {
  std::string store_id;
  std::string check;
};

ErrorOr<StoreFile> ReadStoreFile(const fs::path& store_dir, const std::string& what) {
  fs::path path = store_dir / kStoreFile;
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  std::string text(4096, '\0');
  auto got = fd.valid() ? ReadFull(fd.get(), text.data(), text.size()) : ErrorOr<size_t>(Error{""});
  if (!got) {
    return Error{what + ": cannot read `" + path.string() + "`: " + os::ErrnoText(errno)};
  }
  text.resize(*got);
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object() || json.value("version", 0) != 1 || !json["store_id"].is_string() ||
      !json["check"].is_string()) {
    return MakeError(ErrorKind::kVerificationFailed,
                     what + ": `" + path.string() + "` is not an encrypted volume's store file");
  }
  return StoreFile{json["store_id"].get<std::string>(), json["check"].get<std::string>()};
}

ErrorOr<Ok> EncryptedVolume::CheckStoreKey(const fs::path& store_dir, const Keys& keys,
                                           const std::string& what) {
  auto store = ReadStoreFile(store_dir, what);
  if (!store) {
    return store.error();
  }
  std::string want = os::Hex(keys.check.view());
  if (store->check.size() != want.size() ||
      sodium_memcmp(store->check.data(), want.data(), want.size()) != 0) {
    return MakeError(ErrorKind::kVerificationFailed,
                     what +
                         ": the key from the secret store does not open this store (the "
                         "secret was replaced, or the store belongs to another key)");
  }
  return Ok{};
}

/// Makes the store `store_dir` whole under a temporary name and renames it into place.
ErrorOr<Ok> CreateStore(const fs::path& base, const fs::path& store_dir,
                        std::string_view master_hex, const std::string& secret_name,
                        const std::string& what) {
  unsigned char id[16];
  randombytes_buf(id, sizeof id);
  std::string store_id = os::Hex(id, sizeof id);
  auto keys = DeriveKeys(master_hex, store_id, secret_name);
  if (!keys) {
    return keys.error();
  }
  fs::path temporary = base / internal::TemporaryName();
  std::error_code ec;
  fs::create_directories(temporary / "data", ec);
  if (ec) {
    return Error{what + ": cannot make `" + temporary.string() + "`: " + ec.message()};
  }
  nlohmann::json store = {
      {"version", 1}, {"store_id", store_id}, {"check", os::Hex((*keys)->check.view())}};
  auto written =
      os::WriteFileAtomically(temporary / kStoreFile, store.dump() + "\n", os::kPrivateFile);
  if (written) {
    written = os::SyncDirectory(temporary / "data");
  }
  if (written && rename(temporary.c_str(), store_dir.c_str()) != 0) {
    written = Error{what + ": cannot make `" + store_dir.string() + "`: " + os::ErrnoText(errno)};
  }
  if (!written) {
    fs::remove_all(temporary, ec);
    return written.error();
  }
  return os::SyncDirectory(base);
}

class EncryptedBackend final : public VolumeBackend {
 public:
  std::string_view name() const override { return "encrypted"; }
  std::string_view summary() const override {
    return "a named store under the state dir, every file sealed (libsodium secretstream)";
  }
  Capabilities capabilities() const override {
    return {.mountable = true,
            .api_only = false,
            .snapshot = true,
            .encrypted_at_rest = true,
            .shared_between_sandboxes = true,
            .atomic_rename = false};
  }
  ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec,
                                          const AttachContext& context) const override {
    std::string what = "volume `" + spec.source + "` (encrypted)";
    if (auto problem = secrets::NameProblem(spec.source)) {
      return MakeError(ErrorKind::kUsage, "encrypted volume name: " + *problem);
    }
    std::string secret = spec.key_secret.empty() ? "volume-" + spec.source : spec.key_secret;
    if (auto problem = secrets::NameProblem(secret)) {
      return MakeError(ErrorKind::kUsage, what + ": key secret name: " + *problem);
    }
    if (context.secrets == nullptr) {
      return Error{what + ": no host secret store to take its key from"};
    }
    fs::path base = context.state_dir / "volumes" / "encrypted";
    auto base_fd = internal::MakeAndOpenDirectory(base);
    if (!base_fd) {
      return base_fd.error();
    }
    (void)fchmod(base_fd->get(), 0700);
    // One creator at a time: two first attaches must not make two keys.
    if (flock(base_fd->get(), LOCK_EX) != 0) {
      return Error{what + ": cannot lock `" + base.string() + "`: " + os::ErrnoText(errno)};
    }
    fs::path store_dir = base / spec.source;
    std::error_code ec;
    // One format per name: a mountable store of this name (encrypted_mount.h) is gocryptfs, which
    // this backend cannot read.
    if (fs::path mounted = EncryptedStoreDir(context.state_dir, spec.source);
        fs::exists(mounted, ec)) {
      return MakeError(ErrorKind::kUsage,
                       what + ": " + mounted.string() +
                           " holds a mountable store of that name (gocryptfs), "
                           "which `Volume.encrypted` mounts; reach its files "
                           "through a sandbox, or give this volume another name");
    }
    bool exists = fs::exists(store_dir, ec);
    bool have_secret = fs::exists(context.secrets->PathOf(secret), ec);
    if (!exists) {
      if (!have_secret) {
        unsigned char fresh[kKeyBytes];
        randombytes_buf(fresh, sizeof fresh);
        std::string hex = os::Hex(fresh, sizeof fresh);
        sodium_memzero(fresh, sizeof fresh);
        auto set = context.secrets->Set(secret, hex);
        sodium_memzero(hex.data(), hex.size());
        if (!set) {
          return set.error();
        }
      }
      auto master = context.secrets->Get(secret);
      if (!master) {
        return master.error();
      }
      if (auto created = CreateStore(base, store_dir, master->view(), secret, what); !created) {
        return created.error();
      }
    } else if (!have_secret) {
      return MakeError(ErrorKind::kEnvironment,
                       what + ": its key, secret `" + secret +
                           "`, is not in the host secret store; without it the store cannot be "
                           "opened (restore the secret, or remove `" +
                           store_dir.string() + "`)");
    }
    (void)flock(base_fd->get(), LOCK_UN);
    auto store = ReadStoreFile(store_dir, what);
    if (!store) {
      return store.error();
    }
    auto master = context.secrets->Get(secret);
    if (!master) {
      return master.error();
    }
    auto keys = DeriveKeys(master->view(), store->store_id, secret);
    if (!keys) {
      return keys.error();
    }
    if (auto checked = EncryptedVolume::CheckStoreKey(store_dir, **keys, what); !checked) {
      return checked.error();
    }
    auto data = HostDir::Open(store_dir / "data", what);
    if (!data) {
      return data.error();
    }
    return std::unique_ptr<Volume>(std::make_unique<EncryptedVolume>(
        spec, capabilities(), std::move(*data), store_dir, std::move(*keys)));
  }
  /// The mountable form of the store of that name, a gocryptfs view (encrypted_mount.h): a
  /// format of its own, which Attach does not serve.
  ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext& context) const override {
    auto place = FuseViewPlace::Prepare(spec, context);
    if (!place) {
      return place.error();
    }
    EncryptedMountRequest request;
    request.name = spec.source;
    request.key_secret = spec.key_secret;
    request.size_mb = spec.size_mb;
    request.read_only = spec.read_only;
    request.owner = place->owner();
    request.state_dir = context.state_dir;
    request.secrets = place->store();
    request.mount_dir = place->mount_dir();
    auto files = MountEncryptedStore(request);
    if (!files) {
      return files.error();
    }
    return place->View(std::move(*files), spec.read_only);
  }
};

}  // namespace

const VolumeBackend& EncryptedVolumeBackend() {
  static const EncryptedBackend backend;
  return backend;
}

}  // namespace mvm::runtime::volumes
