#include "runtime/oci/registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "nlohmann/json.hpp"
#include "runtime/oci/registry_auth.h"
#include "runtime/oci/registry_http.h"

namespace mvm::runtime::oci {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMaxRetryAfter{30};
constexpr std::chrono::seconds kMaxBackoff{10};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

/// RFC 3986 percent-encoding of a query value, keeping only unreserved characters (as
/// curl_easy_escape does; done here so that building a URL does not need libcurl loaded).
std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

// The host of an absolute http(s) URL, without its port; empty when it is not one.
std::string UrlHost(std::string_view url, std::string* scheme) {
  auto colon = url.find("://");
  if (colon == std::string_view::npos) {
    return "";
  }
  *scheme = AsciiLower(url.substr(0, colon));
  std::string_view rest = url.substr(colon + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string_view::npos) {
    return "";  // user info: not something a token realm has
  }
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    return close == std::string_view::npos ? "" : AsciiLower(rest.substr(0, close + 1));
  }
  return AsciiLower(rest.substr(0, rest.find(':')));
}

std::string Backticked(std::string_view text) { return "`" + std::string(text) + "`"; }

}  // namespace

struct Registry::State {
  RegistryEndpoint endpoint;
  RegistryOptions options;
  AuthLookup auth;
  std::optional<HttpClient> http;
  struct Token {
    std::string value;
    Clock::time_point expires;
  };
  std::map<std::string, Token> tokens;  ///< by scope
  bool use_basic = false;               ///< the registry challenged with Basic

  // "registry.example.com/library/alpine:3" or "...@sha256:..." for messages.
  std::string Where(std::string_view repository, std::string_view reference) const {
    bool digest = reference.starts_with("sha256:") || reference.find(':') != std::string::npos;
    return endpoint.host + "/" + std::string(repository) + (digest ? "@" : ":") +
           std::string(reference);
  }

  std::string LoginHint() const {
    const std::string& host = endpoint.host;
    return "log in: put credentials for " + host + " in ~/.docker/config.json (`docker login " +
           host + "` writes it, as does `skopeo login --authfile ~/.docker/config.json " + host +
           "`), or name an auth file with $MVM_REGISTRY_AUTH";
  }

  std::string CredentialSource() const {
    return auth.file.empty() ? std::string("no auth file was found")
                             : "the auth file " + auth.file.string();
  }

  void Progress(const std::string& line) const {
    if (options.progress) {
      options.progress(line);
    }
  }

  std::chrono::milliseconds Backoff(int attempt) const {
    auto wait = options.backoff * (1 << std::min(attempt, 10));
    return std::min<std::chrono::milliseconds>(wait, kMaxBackoff);
  }

  HttpRequest RegistryRequest() const {
    HttpRequest request;
    request.plain_http = endpoint.plain_http;
    request.loopback = endpoint.loopback;
    return request;
  }

  HttpResponse Perform(const HttpRequest& request) { return http->Perform(request); }
  ErrorOr<HttpResponse> Exchange(HttpRequest request, const std::string& scope,
                                 const std::string& where);
  ErrorOr<std::string> FetchToken(const AuthChallenge& challenge, const std::string& scope,
                                  const std::string& where);
  Error StatusError(const HttpResponse& response, const std::string& what, const std::string& where,
                    std::string_view reference_kind) const;
};

ErrorOr<std::string> Registry::State::FetchToken(const AuthChallenge& challenge,
                                                 const std::string& scope,
                                                 const std::string& where) {
  auto realm_it = challenge.params.find("realm");
  if (realm_it == challenge.params.end() || realm_it->second.empty()) {
    return Error{endpoint.host + " asked for a Bearer token for " + Backticked(where) +
                 " but named no token service (realm)"};
  }
  const std::string& realm = realm_it->second;
  std::string scheme;
  std::string realm_host = UrlHost(realm, &scheme);
  bool realm_ok = !realm_host.empty() &&
                  (scheme == "https" || (scheme == "http" && IsLoopbackHost(realm_host))) &&
                  std::none_of(realm.begin(), realm.end(),
                               [](unsigned char c) { return c <= ' ' || c == 0x7f; });
  if (!realm_ok) {
    return Error{endpoint.host + " named the token service " + Backticked(ShownText(realm)) +
                 ", which is not an https URL (plain http only on a loopback address); refusing "
                 "to send credentials there"};
  }
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  if (auto service = challenge.params.find("service"); service != challenge.params.end()) {
    url += "service=" + UrlEncode(service->second) + "&";
  }
  auto asked = challenge.params.find("scope");
  url += "scope=" + UrlEncode(asked != challenge.params.end() ? asked->second : scope);
  HttpRequest request;
  request.url = url;
  request.max_body = kMaxTokenBody;
  request.basic = auth.credentials ? &*auth.credentials : nullptr;
  // The token service may be another host (auth.docker.io); plain http only when it is loopback,
  // which the check above ensured.
  request.plain_http = scheme == "http";
  request.loopback = IsLoopbackHost(realm_host);
  HttpResponse response;
  for (int attempt = 0;; ++attempt) {
    response = Perform(request);
    bool transient =
        response.answered() ? TransientStatus(response.status) : response.transient_failure;
    if (!transient || attempt + 1 >= options.attempts) {
      break;
    }
    std::this_thread::sleep_for(Backoff(attempt));
  }
  const std::string service_name = "the token service " + ShownText(realm) + " of " + endpoint.host;
  if (!response.answered()) {
    return Error{"cannot get a token for " + Backticked(where) + " from " + service_name + ": " +
                 response.transport_error + "; check that the token service is reachable"};
  }
  if (response.body_too_large) {
    return Error{service_name + " answered more than 64 KiB; that is not a token"};
  }
  if (response.status == 401 || response.status == 403) {
    if (!auth.credentials) {
      return Error{Backticked(where) + " needs credentials, and there are none for " +
                   endpoint.host + " (" + CredentialSource() + "); " + LoginHint()};
    }
    return Error{service_name + " refused the credentials for " + endpoint.host + " in " +
                 auth.file.string() + " (HTTP " + std::to_string(response.status) + ")" +
                 (DistributionErrors(response.body).empty()
                      ? ""
                      : ": " + DistributionErrors(response.body)) +
                 "; check the user name and password, or log in again (`docker login " +
                 endpoint.host + "`)"};
  }
  if (response.status != 200) {
    return Error{service_name + " answered HTTP " + std::to_string(response.status) + " for " +
                 Backticked(where) + ": " + DistributionErrors(response.body)};
  }
  auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  std::string token;
  int64_t expires_in = 60;
  if (json.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      if (auto it = json.find(key); it != json.end() && it->is_string() && token.empty()) {
        token = it->get<std::string>();
      }
    }
    if (auto it = json.find("expires_in"); it != json.end() && it->is_number_integer()) {
      expires_in = std::clamp<int64_t>(it->get<int64_t>(), 60, 86400);
    }
  }
  bool token_ok = !token.empty() && std::all_of(token.begin(), token.end(), [](unsigned char c) {
    return c > ' ' && c < 0x7f;
  });
  if (!token_ok) {
    return Error{service_name + " answered without a usable `token` or `access_token`"};
  }
  // Renewed a little early, so a token does not expire between the check and the request.
  tokens[scope] = Token{token, Clock::now() + std::chrono::seconds(expires_in - 10)};
  return token;
}

ErrorOr<HttpResponse> Registry::State::Exchange(HttpRequest request, const std::string& scope,
                                                const std::string& where) {
  auto apply = [&] {
    request.bearer.clear();
    request.basic = nullptr;
    if (use_basic && auth.credentials) {
      request.basic = &*auth.credentials;
    } else if (auto it = tokens.find(scope);
               it != tokens.end() && Clock::now() < it->second.expires) {
      request.bearer = it->second.value;
    }
  };
  apply();
  HttpResponse response = Perform(request);
  if (!response.answered() || response.status != 401) {
    return response;
  }
  auto challenge = ParseAuthChallenge(response.Header("www-authenticate"));
  if (!challenge) {
    return Error{endpoint.host + " answered 401 Unauthorized for " + Backticked(where) +
                 " without saying how to authenticate (no WWW-Authenticate); " + LoginHint()};
  }
  bool had_credentials = false;
  if (challenge->scheme == "bearer") {
    had_credentials = auth.credentials.has_value();
    auto token = FetchToken(*challenge, scope, where);
    if (!token) {
      return token.error();
    }
  } else if (challenge->scheme == "basic") {
    if (!auth.credentials) {
      return Error{Backticked(where) + " needs credentials, and there are none for " +
                   endpoint.host + " (" + CredentialSource() + "); " + LoginHint()};
    }
    if (use_basic) {
      return Error{endpoint.host + " refused the credentials for " + endpoint.host + " in " +
                   auth.file.string() +
                   "; check the user name and password, or log in again (`docker login " +
                   endpoint.host + "`)"};
    }
    use_basic = true;
    had_credentials = true;
  } else {
    return Error{endpoint.host + " asks for authentication by " +
                 Backticked(ShownText(challenge->scheme)) +
                 ", which mvm does not speak (only Bearer tokens and Basic)"};
  }
  apply();
  response = Perform(request);
  if (response.answered() && response.status == 401) {
    if (!had_credentials) {
      return Error{Backticked(where) + " needs credentials, and there are none for " +
                   endpoint.host + " (" + CredentialSource() + "); " + LoginHint()};
    }
    return Error{endpoint.host + " refused the credentials for " + endpoint.host + " in " +
                 auth.file.string() + " for " + Backticked(where) +
                 "; check the user name and password, or log in again (`docker login " +
                 endpoint.host + "`)"};
  }
  return response;
}

Error Registry::State::StatusError(const HttpResponse& response, const std::string& what,
                                   const std::string& where,
                                   std::string_view reference_kind) const {
  std::string details = DistributionErrors(response.body);
  std::string code = FirstErrorCode(response.body);
  std::string status = "HTTP " + std::to_string(response.status);
  if (response.status == 404) {
    if (code == "NAME_UNKNOWN") {
      return Error{Backticked(where) + ": the repository does not exist on " + endpoint.host +
                   ": " + details + "; check the repository name"};
    }
    return Error{Backticked(where) + " has no " + what + ": " +
                 (details.empty() ? status + " Not Found" : details) + "; check the " +
                 std::string(reference_kind)};
  }
  if (response.status == 403) {
    return Error{endpoint.host + " denied access to " + Backticked(where) + ": " +
                 (details.empty() ? status + " Forbidden" : details) +
                 "; check that the account in " + CredentialSource() + " may pull it"};
  }
  if (response.status == 429) {
    return Error{endpoint.host + " is rate-limiting requests (" + status + ") for " +
                 Backticked(where) + (details.empty() ? "" : ": " + details) +
                 "; wait and try again, or log in for a higher limit"};
  }
  return Error{endpoint.host + " answered " + status + " for the " + what + " of " +
               Backticked(where) + (details.empty() ? "" : ": " + details)};
}

Registry::Registry(std::unique_ptr<State> state) : state_(std::move(state)) {}
Registry::Registry(Registry&&) noexcept = default;
Registry& Registry::operator=(Registry&&) noexcept = default;
Registry::~Registry() = default;

const RegistryEndpoint& Registry::endpoint() const { return state_->endpoint; }

ErrorOr<Registry> Registry::Open(std::string_view host, RegistryOptions options) {
  auto endpoint = ResolveRegistryEndpoint(host, options.loopback_tls);
  if (!endpoint) {
    return endpoint.error();
  }
  auto state = std::make_unique<State>();
  state->endpoint = *endpoint;
  state->options = std::move(options);
  state->options.attempts = std::max(1, state->options.attempts);
  auto auth = FindCredentials(state->options.auth_file, state->endpoint.host);
  if (!auth) {
    return auth.error();
  }
  state->auth = std::move(*auth);
  auto http = HttpClient::Create(state->options.ca_file, state->options.connect_timeout,
                                 state->options.stall_timeout);
  if (!http) {
    return http.error();
  }
  state->http.emplace(std::move(*http));
  return Registry(std::move(state));
}

namespace {

// The repository as the registry names it: Docker Hub's official images are under library/.
std::string RepositoryPath(const RegistryEndpoint& endpoint, std::string_view repository) {
  bool hub = endpoint.base_url.starts_with("https://registry-1.docker.io");
  if (hub && repository.find('/') == std::string_view::npos) {
    return "library/" + std::string(repository);
  }
  return std::string(repository);
}

}  // namespace

ErrorOr<FetchedManifest> Registry::GetManifest(std::string_view repository_in,
                                               std::string_view reference) {
  State& s = *state_;
  if (!IsRepositoryName(repository_in)) {
    return Error{"not a repository name: " + Backticked(ShownText(repository_in)) +
                 "; a repository is lowercase letters and digits in components separated by `/`"};
  }
  bool by_digest = reference.starts_with("sha256:") || reference.find(':') != std::string::npos;
  if (by_digest ? !IsSha256Digest(reference) : !IsTag(reference)) {
    return Error{"not a tag or sha256 digest: " + Backticked(ShownText(reference)) +
                 "; a tag is up to 128 letters, digits, `_`, `.` and `-`, a digest sha256: and 64 "
                 "lowercase hex digits"};
  }
  const std::string repository = RepositoryPath(s.endpoint, repository_in);
  const std::string where = s.Where(repository_in, reference);
  const std::string scope = "repository:" + repository + ":pull";
  HttpRequest request = s.RegistryRequest();
  request.url = s.endpoint.base_url + "/v2/" + repository + "/manifests/" + std::string(reference);
  request.headers.push_back("Accept: " + std::string(kMediaOciIndex) + ", " +
                            std::string(kMediaOciManifest) + ", " + std::string(kMediaDockerList) +
                            ", " + std::string(kMediaDockerManifest));
  const int64_t cap = s.options.limits.max_manifest_bytes;
  request.max_body = static_cast<size_t>(std::max<int64_t>(cap, 0));
  HttpResponse response;
  for (int attempt = 0;; ++attempt) {
    auto exchanged = s.Exchange(request, scope, where);
    if (!exchanged) {
      return exchanged.error();
    }
    response = std::move(*exchanged);
    if (response.answered() && response.body_too_large && response.status == 200) {
      return Error{"the manifest of " + Backticked(where) + " is larger than the limit of " +
                   std::to_string(cap) +
                   " bytes (limits.max_manifest_bytes); a registry sending that much is broken or "
                   "hostile"};
    }
    bool transient =
        response.answered() ? TransientStatus(response.status) : response.transient_failure;
    if (!transient || attempt + 1 >= s.options.attempts) {
      break;
    }
    auto wait = s.Backoff(attempt);
    s.Progress("retrying the manifest of " + where + " (" +
               (response.answered() ? "HTTP " + std::to_string(response.status)
                                    : response.transport_error) +
               ")");
    std::this_thread::sleep_for(wait);
  }
  if (!response.answered()) {
    return Error{"cannot fetch the manifest of " + Backticked(where) + " from " +
                 s.endpoint.base_url + ": " + response.transport_error +
                 (response.untrusted_certificate
                      ? "; the registry's certificate is not trusted: add its CA with ca_file"
                      : "; check the host name, the port and that the registry is running")};
  }
  if (response.status != 200) {
    return s.StatusError(response, "manifest", where, by_digest ? "digest" : "tag");
  }
  FetchedManifest manifest;
  std::string content_type = response.Header("content-type");
  manifest.media_type =
      AsciiLower(Trim(std::string_view(content_type).substr(0, content_type.find(';'))));
  manifest.body = std::move(response.body);
  manifest.digest = Sha256Digest(manifest.body);
  if (by_digest && manifest.digest != reference) {
    return Error{s.endpoint.host + " sent a manifest for " + Backticked(where) +
                 " whose sha256 is " + manifest.digest + ", not " + std::string(reference) +
                 "; the registry (or something between) is serving other content; do not use it"};
  }
  std::string header_digest = response.Header("docker-content-digest");
  if (IsSha256Digest(header_digest) && header_digest != manifest.digest) {
    return Error{s.endpoint.host + " says the manifest of " + Backticked(where) + " is " +
                 header_digest + " (Docker-Content-Digest), but the body it sent is " +
                 manifest.digest + "; the registry (or something between) is broken"};
  }
  return manifest;
}

ErrorOr<Ok> Registry::GetBlob(std::string_view repository_in, const Descriptor& blob,
                              const std::filesystem::path& dest) {
  State& s = *state_;
  if (!IsRepositoryName(repository_in)) {
    return Error{"not a repository name: " + Backticked(ShownText(repository_in))};
  }
  if (!IsSha256Digest(blob.digest)) {
    return Error{"not a sha256 digest: " + Backticked(ShownText(blob.digest))};
  }
  const std::string where = s.Where(repository_in, blob.digest);
  const int64_t max = s.options.limits.max_blob_bytes;
  if (blob.size < 0 || blob.size > max) {
    return Error{"the blob " + Backticked(where) + " is " + std::to_string(blob.size) +
                 " bytes, more than the limit of " + std::to_string(max) +
                 " (limits.max_blob_bytes)"};
  }
  const std::string repository = RepositoryPath(s.endpoint, repository_in);
  const std::string scope = "repository:" + repository + ":pull";
  const std::filesystem::path partial = dest.string() + ".partial";
  os::UniqueFd fd(open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return Error{"cannot create " + partial.string() + ": " + os::ErrnoText(errno)};
  }
  bool keep = false;
  struct Cleanup {
    const std::filesystem::path& path;
    bool& keep;
    ~Cleanup() {
      if (!keep) {
        (void)unlink(path.c_str());
      }
    }
  } cleanup{partial, keep};

  Sha256 hasher;
  int64_t written = 0;
  bool too_large = false;
  bool bad_range = false;
  int write_errno = 0;
  auto restart = [&] {
    hasher = Sha256();
    written = 0;
    return ftruncate(fd.get(), 0) == 0 && lseek(fd.get(), 0, SEEK_SET) == 0;
  };
  HttpRequest request = s.RegistryRequest();
  request.url = s.endpoint.base_url + "/v2/" + repository + "/blobs/" + blob.digest;
  request.sink = [&](std::string_view chunk, const HttpResponse& response, bool first) {
    if (first && written > 0) {
      if (response.status == 200) {
        if (!restart()) {  // the server ignored the Range: start over
          write_errno = errno;
          return false;
        }
      } else if (!response.Header("content-range")
                      .starts_with("bytes " + std::to_string(written) + "-")) {
        bad_range = true;
        return false;
      }
    }
    if (written + static_cast<int64_t>(chunk.size()) > blob.size) {
      too_large = true;
      return false;
    }
    if (int error = os::WriteAll(fd.get(), chunk); error != 0) {
      write_errno = error;
      return false;
    }
    hasher.Update(chunk);
    written += static_cast<int64_t>(chunk.size());
    return true;
  };
  // No progress line of its own: the caller names the blob better (its role, its place in the
  // image); retries are this function's to report.
  std::string last_failure;
  for (int attempt = 0;; ++attempt) {
    HttpRequest attempt_request = request;
    if (written > 0) {
      attempt_request.headers.push_back("Range: bytes=" + std::to_string(written) + "-");
    }
    bad_range = false;
    auto exchanged = s.Exchange(attempt_request, scope, where);
    if (!exchanged) {
      return exchanged.error();
    }
    const HttpResponse& response = *exchanged;
    if (too_large) {
      return Error{s.endpoint.host + " sent more than the " + std::to_string(blob.size) +
                   " bytes the descriptor of " + Backticked(where) +
                   " says; the transfer was stopped and nothing kept"};
    }
    if (write_errno != 0) {
      return Error{"cannot write " + partial.string() + ": " + os::ErrnoText(write_errno)};
    }
    bool transient = false;
    if (bad_range || (response.answered() && response.status == 416)) {
      // A resumed part that does not start where ours ends: start over.
      if (!restart()) {
        return Error{"cannot truncate " + partial.string() + ": " + os::ErrnoText(errno)};
      }
      last_failure = "a ranged answer that did not fit";
      transient = true;
    } else if (!response.answered()) {
      last_failure = response.transport_error;
      transient = response.transient_failure;
      if (!transient) {
        return Error{"cannot fetch " + Backticked(where) + " from " + s.endpoint.base_url + ": " +
                     last_failure +
                     "; check the host name, the port and the registry's TLS "
                     "certificate (add its CA with ca_file)"};
      }
    } else if (response.status == 200 || response.status == 206) {
      if (response.status == 200 && written > 0 && !response.body_started) {
        // An empty 200 to a ranged request cannot finish what we have.
        (void)restart();
      }
      break;
    } else if (TransientStatus(response.status)) {
      last_failure = "HTTP " + std::to_string(response.status);
      transient = true;
      std::string retry_after = response.Header("retry-after");
      int seconds = 0;
      if (!retry_after.empty() &&
          std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds)
                  .ec == std::errc() &&
          seconds > kMaxRetryAfter.count()) {
        return Error{s.endpoint.host + " asks to wait " + std::to_string(seconds) +
                     " s before fetching " + Backticked(where) + " (HTTP " +
                     std::to_string(response.status) + ", Retry-After); try again later"};
      }
      if (seconds > 0 && attempt + 1 < s.options.attempts) {
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
      }
    } else {
      return s.StatusError(response, "blob", where, "digest, which the manifest names");
    }
    if (attempt + 1 >= s.options.attempts) {
      return Error{"cannot fetch " + Backticked(where) + " from " + s.endpoint.host + " after " +
                   std::to_string(s.options.attempts) +
                   (s.options.attempts == 1 ? " attempt" : " attempts") +
                   "; the last failed with " + last_failure +
                   "; check the network and the registry, then try again"};
    }
    s.Progress("retrying " + where + " after " + last_failure +
               (written > 0 ? ", resuming at byte " + std::to_string(written) : ""));
    std::this_thread::sleep_for(s.Backoff(attempt));
  }
  std::string actual = hasher.Finish();
  if (written != blob.size || actual != blob.digest) {
    return Error{"the blob " + Backticked(where) + " does not match its descriptor: expected " +
                 blob.digest + " (" + std::to_string(blob.size) + " bytes), got " + actual + " (" +
                 std::to_string(written) +
                 " bytes); the registry's copy is corrupt or it served "
                 "other content, and nothing was kept"};
  }
  if (fsync(fd.get()) != 0) {
    return Error{"cannot fsync " + partial.string() + ": " + os::ErrnoText(errno)};
  }
  fd.Reset();
  if (rename(partial.c_str(), dest.c_str()) != 0) {
    return Error{"cannot rename " + partial.string() + " to " + dest.string() + ": " +
                 os::ErrnoText(errno)};
  }
  keep = true;
  std::filesystem::path dir = dest.parent_path().empty() ? "." : dest.parent_path();
  if (auto synced = os::SyncDirectory(dir); !synced) {
    return synced.error();
  }
  return Ok{};
}

}  // namespace mvm::runtime::oci
