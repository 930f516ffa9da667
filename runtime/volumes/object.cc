// `object`: an S3 bucket and prefix through the client in s3/, API-only.
//
// Keys are PREFIX + the volume path; directories are what S3 lists as common prefixes at `/`, so a
// directory exists while something is in it. Rename is CopyObject then DeleteObject: not atomic
// (for a moment both names exist) and bounded by CopyObject's 5 GiB. A writer killed mid-upload
// leaves no object, but may leave an incomplete multipart upload, which a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) clears; the credentials are secrets of the host store, named by
// the volume's spec, and never leave this process except as a signature.

#include <utility>

#include "runtime/secrets/secrets.h"
#include "runtime/volumes/backends.h"
#include "runtime/volumes/encrypted_mount.h"
#include "runtime/volumes/object_mount.h"
#include "runtime/volumes/s3/client.h"

namespace mvm::runtime::volumes {
namespace {

class ObjectVolume final : public Volume {
 public:
  ObjectVolume(const VolumeSpec& spec, Capabilities capabilities,
               std::shared_ptr<s3::Client> client, std::string prefix)
      : Volume(spec, capabilities), client_(std::move(client)), prefix_(std::move(prefix)) {}
  ~ObjectVolume() override { DetachInDestructor(); }

 protected:
  ErrorOr<Ok> DoHealth() override { return client_->HeadBucket(); }

  ErrorOr<uint64_t> DoRead(const std::string& path, const ReadSink& sink) override {
    auto got = client_->Get(Key(path), sink);
    if (!got) {
      return got.error();
    }
    if (!*got) {
      return NotFound(path);
    }
    return **got;
  }

  ErrorOr<std::unique_ptr<Writer>> DoOpenWriter(const std::string& path) override {
    if (auto fits = Fits(path); !fits) {
      return fits.error();
    }
    return client_->Put(Key(path));
  }

  ErrorOr<std::vector<EntryInfo>> DoList(const std::string& path) override {
    std::string prefix = path.empty() ? prefix_ : Key(path) + "/";
    auto listing = client_->List(prefix, "/");
    if (!listing) {
      return listing.error();
    }
    std::vector<EntryInfo> entries;
    for (const auto& [key, size] : listing->objects) {
      std::string name = key.substr(prefix.size());
      if (!name.empty() && !PathProblem(name)) {
        entries.push_back({name, EntryType::kFile, size});
      }
    }
    for (const std::string& common : listing->prefixes) {
      std::string name = common.substr(prefix.size(), common.size() - prefix.size() - 1);
      if (!PathProblem(name)) {
        entries.push_back({name, EntryType::kDirectory, 0});
      }
    }
    if (entries.empty() && !path.empty()) {
      auto info = DoStat(path);
      if (!info) {
        return info.error();
      }
      if (info->type != EntryType::kDirectory) {
        return MakeError(ErrorKind::kInvalidInput,
                         Describe() + ": cannot list `" + path + "`: it is not a directory");
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const EntryInfo& a, const EntryInfo& b) { return a.name < b.name; });
    return entries;
  }

  ErrorOr<EntryInfo> DoStat(const std::string& path) override {
    EntryInfo info;
    info.name = path;
    if (path.empty()) {
      info.type = EntryType::kDirectory;
      return info;
    }
    auto head = client_->Head(Key(path));
    if (!head) {
      return head.error();
    }
    if (*head) {
      info.size = (*head)->size;
      return info;
    }
    auto below = client_->List(Key(path) + "/", "", 1);
    if (!below) {
      return below.error();
    }
    if (below->objects.empty()) {
      return NotFound(path);
    }
    info.type = EntryType::kDirectory;
    return info;
  }

  ErrorOr<uint64_t> DoRemove(const std::string& path, bool recursive) override {
    auto info = DoStat(path);
    if (!info) {
      return info.error();
    }
    if (info->type == EntryType::kFile) {
      if (auto deleted = client_->Delete(Key(path)); !deleted) {
        return deleted.error();
      }
      return 1;
    }
    if (!recursive) {
      return MakeError(ErrorKind::kInvalidInput, Describe() + ": cannot remove `" + path +
                                                     "`: the directory is not empty (remove it "
                                                     "recursively)");
    }
    auto below = client_->List(Key(path) + "/", "");
    if (!below) {
      return below.error();
    }
    for (const auto& [key, size] : below->objects) {
      if (auto deleted = client_->Delete(key); !deleted) {
        return deleted.error();
      }
    }
    return below->objects.size();
  }

  ErrorOr<Ok> DoRename(const std::string& from, const std::string& to) override {
    if (auto fits = Fits(to); !fits) {
      return fits;
    }
    auto head = client_->Head(Key(from));
    if (!head) {
      return head.error();
    }
    if (!*head) {
      auto info = DoStat(from);
      if (info && info->type == EntryType::kDirectory) {
        return MakeError(ErrorKind::kInvalidInput,
                         Describe() + ": cannot rename `" + from +
                             "`: the object backend renames files only (S3 has no directories)");
      }
      return NotFound(from);
    }
    if (auto copied = client_->Copy(Key(from), Key(to)); !copied) {
      return copied;
    }
    return client_->Delete(Key(from));
  }

 private:
  std::string Key(const std::string& path) const { return prefix_ + path; }

  ErrorOr<Ok> Fits(const std::string& path) const {
    if (Key(path).size() > kMaxPathBytes) {
      return MakeError(ErrorKind::kInvalidInput, Describe() + ": `" + path + "` with the prefix `" +
                                                     prefix_ +
                                                     "` is longer than S3's 1024 bytes of a key");
    }
    return Ok{};
  }

  Error NotFound(const std::string& path) const {
    return MakeError(ErrorKind::kInvalidInput, Describe() + ": `" + path + "` does not exist");
  }

  std::shared_ptr<s3::Client> client_;
  std::string prefix_;
};

class ObjectBackend final : public VolumeBackend {
 public:
  std::string_view name() const override { return "object"; }
  std::string_view summary() const override {
    return "an S3 bucket and prefix (S3 API, AWS Signature V4)";
  }
  Capabilities capabilities() const override {
    return {.mountable = true,
            .api_only = false,
            .snapshot = false,
            .encrypted_at_rest = false,
            .shared_between_sandboxes = true,
            .atomic_rename = false};
  }
  ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec,
                                          const AttachContext& context) const override {
    std::string what = "object volume `" + spec.source + "`";
    std::string_view source = spec.source;
    if (!source.starts_with("s3://")) {
      return MakeError(ErrorKind::kUsage, what + ": the source must be `s3://BUCKET/PREFIX`");
    }
    source.remove_prefix(5);
    size_t slash = source.find('/');
    s3::ClientConfig config;
    config.bucket = std::string(source.substr(0, slash));
    std::string prefix =
        slash == std::string_view::npos ? "" : std::string(source.substr(slash + 1));
    if (!prefix.empty() && prefix.back() == '/') {
      prefix.pop_back();
    }
    if (!prefix.empty()) {
      if (auto problem = PathProblem(prefix)) {
        return MakeError(ErrorKind::kUsage, what + ": prefix: " + *problem);
      }
      prefix += "/";
    }
    if (context.secrets == nullptr) {
      return Error{what + ": no host secret store to take its credentials from"};
    }
    if (!spec.credentials_secret.empty()) {
      auto both = context.secrets->Get(spec.credentials_secret);
      if (!both) {
        return both.error();
      }
      const size_t colon = both->view().find(':');
      if (colon == 0 || colon == std::string_view::npos || colon + 1 == both->view().size()) {
        // Never the value: it holds the secret key.
        return MakeError(ErrorKind::kUsage,
                         what + ": secret `" + spec.credentials_secret +
                             "` must hold `ACCESS_KEY_ID:SECRET_ACCESS_KEY`; set it again with "
                             "`mvmctl secret set " +
                             spec.credentials_secret + "`");
      }
      auto secret_key = secrets::SecretBytes::Copy(both->view().substr(colon + 1));
      if (!secret_key) {
        return secret_key.error();
      }
      config.access_key_id = std::string(both->view().substr(0, colon));
      config.secret_access_key = std::move(*secret_key);
    } else {
      if (spec.access_key_id_secret.empty() || spec.secret_access_key_secret.empty()) {
        return MakeError(ErrorKind::kUsage,
                         what +
                             ": name the credentials: one secret holding "
                             "`ACCESS_KEY_ID:SECRET_ACCESS_KEY`, or the access key id's and "
                             "the secret key's secrets");
      }
      auto key_id = context.secrets->Get(spec.access_key_id_secret);
      if (!key_id) {
        return key_id.error();
      }
      auto secret_key = context.secrets->Get(spec.secret_access_key_secret);
      if (!secret_key) {
        return secret_key.error();
      }
      config.access_key_id = std::string(key_id->view());
      config.secret_access_key = std::move(*secret_key);
    }
    config.endpoint = spec.endpoint;
    config.region = spec.region;
    if (spec.object_part_bytes != 0) {
      config.part_bytes = spec.object_part_bytes;
    }
    if (spec.object_list_page != 0) {
      config.list_page_size = spec.object_list_page;
    }
    auto client = s3::Client::Create(std::move(config));
    if (!client) {
      return client.error();
    }
    if (auto reached = (*client)->HeadBucket(); !reached) {
      return reached.error();
    }
    return std::unique_ptr<Volume>(
        std::make_unique<ObjectVolume>(spec, capabilities(), std::move(*client), prefix));
  }
  /// The prefix mounted with s3fs (object_mount.h): the same objects Attach serves.
  ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext& context) const override {
    auto place = FuseViewPlace::Prepare(spec, context);
    if (!place) {
      return place.error();
    }
    ObjectMountRequest request;
    request.url = spec.source;
    request.endpoint = spec.endpoint;
    request.region = spec.region;
    request.credentials_secret = spec.credentials_secret;
    request.read_only = spec.read_only;
    request.owner = place->owner();
    request.secrets = place->store();
    request.mount_dir = place->mount_dir();
    auto files = MountObjectVolume(request);
    if (!files) {
      return files.error();
    }
    return place->View(std::move(*files), spec.read_only);
  }
};

}  // namespace

const VolumeBackend& ObjectVolumeBackend() {
  static const ObjectBackend backend;
  return backend;
}

}  // namespace mvm::runtime::volumes
