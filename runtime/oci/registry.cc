#include "runtime/oci/registry.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "ir/support/terminal_text.h"
#include "nlohmann/json.hpp"
#include "runtime/oci/registry_auth.h"

namespace mvm::runtime::oci {
namespace {

using Clock = std::chrono::steady_clock;

// Small caps on what is held of bodies that are not content.
constexpr size_t kMaxErrorBody = 16 << 10;
constexpr size_t kMaxTokenBody = 64 << 10;
constexpr size_t kMaxHeaderBytes = 64 << 10;
constexpr int kMaxRedirects = 5;
constexpr std::chrono::seconds kMaxRetryAfter{30};
constexpr std::chrono::seconds kMaxBackoff{10};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Server text for a message: escaped for a terminal, one line, bounded.
std::string Shown(std::string_view text, size_t max = 300) {
  std::string out = EscapeForTerminal(text.substr(0, max), TerminalEscaper::Kind::kName);
  if (text.size() > max) {
    out += "...";
  }
  return out;
}

bool IsDottedQuad(std::string_view host, int* first_octet) {
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t end = host.find('.', i);
    if (end == std::string_view::npos) {
      end = host.size();
    }
    std::string_view part = host.substr(i, end - i);
    int value = 0;
    if (part.empty() || part.size() > 3 ||
        std::from_chars(part.data(), part.data() + part.size(), value).ptr !=
            part.data() + part.size() ||
        value > 255) {
      return false;
    }
    if (parts == 0) {
      *first_octet = value;
    }
    ++parts;
    i = end + 1;
  }
  return parts == 4;
}

// Distribution's repository grammar: path components of [a-z0-9] joined by one of [._-] (or
// "__", or several "-"), separated by '/'. Checked so nothing else reaches a URL.
bool IsRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return false;
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) {
      end = name.size();
    }
    std::string_view component = name.substr(start, end - start);
    if (component.empty()) {
      return false;
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(component.front()) || !alnum(component.back())) {
      return false;
    }
    for (size_t i = 0; i < component.size(); ++i) {
      char c = component[i];
      if (alnum(c) || c == '-') {
        continue;
      }
      if (c == '_' && i + 1 < component.size() && component[i + 1] == '_') {
        ++i;  // "__"
        if (!alnum(component[i + 1])) {
          return false;
        }
        continue;
      }
      if ((c == '.' || c == '_') && alnum(component[i + 1])) {
        continue;
      }
      return false;
    }
    start = end + 1;
  }
  return true;
}

bool IsTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag.front())) {
    return false;
  }
  return std::all_of(tag.begin(), tag.end(),
                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
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
  *scheme = Lower(url.substr(0, colon));
  std::string_view rest = url.substr(colon + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string_view::npos) {
    return "";  // user info: not something a token realm has
  }
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    return close == std::string_view::npos ? "" : Lower(rest.substr(0, close + 1));
  }
  return Lower(rest.substr(0, rest.find(':')));
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

struct Response;

// One HTTP exchange, as libcurl performs it (redirects followed).
struct Request {
  std::string url;
  std::vector<std::string> headers;
  std::string bearer;
  const RegistryCredentials* basic = nullptr;
  /// Plain http allowed, for this URL and the redirects it leads to: only for a loopback registry
  /// spoken to over http (or a loopback token service).
  bool plain_http = false;
  /// No proxy: a loopback address is reached directly.
  bool loopback = false;
  /// Where a 2xx body goes; empty = into Response::body, bounded by `max_body`. Gets each chunk
  /// the response so far (status, headers) and whether it is the first chunk of this response;
  /// false aborts the transfer.
  std::function<bool(std::string_view chunk, const Response& response, bool first)> sink;
  size_t max_body = kMaxErrorBody;
};

struct Response {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::map<std::string, std::string> headers;  ///< the last response's, names lowercase
  std::string body;  ///< an error body (bounded), or a 2xx body without a sink
  bool body_too_large = false;
  bool sink_aborted = false;
  bool body_started = false;
  size_t header_bytes = 0;

  bool transport_ok() const {
    // A sink or cap abort shows as a write error; the HTTP status then still tells the story.
    return code == CURLE_OK || ((sink_aborted || body_too_large) && status != 0);
  }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  size_t n = size * count;
  response->header_bytes += n;
  if (response->header_bytes > kMaxHeaderBytes * (kMaxRedirects + 1)) {
    return 0;
  }
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect): only the last one's headers count.
    response->headers.clear();
    auto space = line.find(' ');
    if (space != std::string_view::npos) {
      std::string_view code = line.substr(space + 1, 3);
      long status = 0;
      std::from_chars(code.data(), code.data() + code.size(), status);
      response->status = status;
    }
    return n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    response->headers[Lower(Trim(line.substr(0, colon)))] =
        std::string(Trim(line.substr(colon + 1)));
  }
  return n;
}

struct WriteContext {
  const Request* request;
  Response* response;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* context = static_cast<WriteContext*>(user);
  Response& response = *context->response;
  size_t n = size * count;
  std::string_view chunk(data, n);
  bool first = !response.body_started;
  response.body_started = true;
  if (response.status >= 200 && response.status < 300 && context->request->sink) {
    if (!context->request->sink(chunk, response, first)) {
      response.sink_aborted = true;
      return 0;
    }
    return n;
  }
  size_t cap =
      response.status >= 200 && response.status < 300 ? context->request->max_body : kMaxErrorBody;
  if (response.body.size() + n > cap) {
    response.body_too_large = true;
    return 0;
  }
  response.body.append(chunk);
  return n;
}

bool TransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool TransientStatus(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

// "CODE message; CODE message" of a distribution error body, or "" when it is not one.
std::string DistributionErrors(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return "";
  }
  std::string out;
  auto errors = json.find("errors");
  if (errors != json.end() && errors->is_array()) {
    for (const auto& error : *errors) {
      if (!error.is_object()) {
        continue;
      }
      std::string one = error.value("code", "");
      if (auto message = error.find("message"); message != error.end() && message->is_string()) {
        one += (one.empty() ? "" : " ") + message->get<std::string>();
      }
      if (!one.empty()) {
        out += (out.empty() ? "" : "; ") + one;
      }
    }
  }
  // Token services answer {"error": "...", "error_description": "..."} or {"details": "..."}.
  for (const char* key : {"error", "error_description", "details"}) {
    if (auto it = json.find(key); it != json.end() && it->is_string()) {
      out += (out.empty() ? "" : "; ") + it->get<std::string>();
    }
  }
  return Shown(out);
}

std::string FirstErrorCode(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    auto errors = json.find("errors");
    if (errors != json.end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      return (*errors)[0].value("code", "");
    }
  }
  return "";
}

std::string Backticked(std::string_view text) { return "`" + std::string(text) + "`"; }

}  // namespace

struct Registry::State {
  RegistryEndpoint endpoint;
  RegistryOptions options;
  AuthLookup auth;
  std::string ca_blob;  ///< the system bundle and options.ca_file, when ca_file is set
  std::unique_ptr<CURL, CurlDeleter> curl;
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

  Request RegistryRequest() const {
    Request request;
    request.plain_http = endpoint.plain_http;
    request.loopback = endpoint.loopback;
    return request;
  }

  Response Perform(const Request& request);
  ErrorOr<Response> Exchange(Request request, const std::string& scope, const std::string& where);
  ErrorOr<std::string> FetchToken(const AuthChallenge& challenge, const std::string& scope,
                                  const std::string& where);
  Error StatusError(const Response& response, const std::string& what, const std::string& where,
                    std::string_view reference_kind) const;
};

Response Registry::State::Perform(const Request& request) {
  CURL* h = curl.get();
  curl_easy_reset(h);
  Response response;
  WriteContext context{&request, &response};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  const char* protocols = request.plain_http ? "http,https" : "https";
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(kMaxRedirects));
  // Credentials go to the registry's host only: libcurl drops both CURLOPT_USERNAME/PASSWORD and
  // a custom Authorization header on a redirect to another host, port or scheme (7.83.1 and
  // later) unless CURLOPT_UNRESTRICTED_AUTH is set, which it never is here.
  curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_blob.empty()) {
    curl_blob blob{ca_blob.data(), ca_blob.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "mvm-oci/1 (libcurl)");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  if (request.loopback) {
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // a proxy would not reach our loopback
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &context);
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  std::string authorization;
  if (!request.bearer.empty()) {
    authorization = "Authorization: Bearer " + request.bearer;
    headers = curl_slist_append(headers, authorization.c_str());
  } else if (request.basic != nullptr) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h, CURLOPT_USERNAME, request.basic->username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, request.basic->password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  response.code = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 0) {
    response.status = status;
  }
  response.curl_error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(response.code);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (!authorization.empty()) {
    std::fill(authorization.begin(), authorization.end(), '\0');
  }
  return response;
}

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
    return Error{endpoint.host + " named the token service " + Backticked(Shown(realm)) +
                 ", which is not an https URL (plain http only on a loopback address); refusing "
                 "to send credentials there"};
  }
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  if (auto service = challenge.params.find("service"); service != challenge.params.end()) {
    url += "service=" + UrlEncode(service->second) + "&";
  }
  auto asked = challenge.params.find("scope");
  url += "scope=" + UrlEncode(asked != challenge.params.end() ? asked->second : scope);
  Request request;
  request.url = url;
  request.max_body = kMaxTokenBody;
  request.basic = auth.credentials ? &*auth.credentials : nullptr;
  // The token service may be another host (auth.docker.io); plain http only when it is loopback,
  // which the check above ensured.
  request.plain_http = scheme == "http";
  request.loopback = IsLoopbackHost(realm_host);
  Response response;
  for (int attempt = 0;; ++attempt) {
    response = Perform(request);
    bool transient = response.transport_ok() ? TransientStatus(response.status)
                                             : TransientCurlError(response.code);
    if (!transient || attempt + 1 >= options.attempts) {
      break;
    }
    std::this_thread::sleep_for(Backoff(attempt));
  }
  const std::string service_name = "the token service " + Shown(realm) + " of " + endpoint.host;
  if (!response.transport_ok()) {
    return Error{"cannot get a token for " + Backticked(where) + " from " + service_name + ": " +
                 Shown(response.curl_error) + "; check that the token service is reachable"};
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

ErrorOr<Response> Registry::State::Exchange(Request request, const std::string& scope,
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
  Response response = Perform(request);
  if (!response.transport_ok() || response.status != 401) {
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
                 Backticked(Shown(challenge->scheme)) +
                 ", which mvm does not speak (only Bearer tokens and Basic)"};
  }
  apply();
  response = Perform(request);
  if (response.transport_ok() && response.status == 401) {
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

Error Registry::State::StatusError(const Response& response, const std::string& what,
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

ErrorOr<RegistryEndpoint> ResolveRegistryEndpoint(std::string_view host, bool loopback_tls) {
  auto bad = [&] {
    return Error{"not a registry host: " + Backticked(Shown(host)) +
                 "; expected a host name or address with an optional port, without a scheme "
                 "or path (registry.example.com, 127.0.0.1:5000, [::1]:5000)"};
  };
  if (host.empty() || host.size() > 255) {
    return bad();
  }
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return bad();
    }
  }
  std::string lowered = Lower(host);
  std::string name;
  std::string port;
  if (lowered.front() == '[') {
    auto close = lowered.find(']');
    if (close == std::string::npos) {
      return bad();
    }
    name = lowered.substr(1, close - 1);
    std::string rest = lowered.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad();
      }
      port = rest.substr(1);
    }
  } else if (std::count(lowered.begin(), lowered.end(), ':') > 1) {
    name = lowered;  // a bare IPv6 address
  } else {
    auto colon = lowered.find(':');
    name = lowered.substr(0, colon);
    if (colon != std::string::npos) {
      port = lowered.substr(colon + 1);
      if (port.empty()) {
        return bad();
      }
    }
  }
  if (name.empty() || name.find_first_of("[]") != std::string::npos) {
    return bad();
  }
  if (!port.empty()) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
      return bad();
    }
  }
  bool ipv6 = name.find(':') != std::string::npos;
  if (!ipv6 && (name.front() == '-' || name.front() == '.' || name.back() == '-')) {
    return bad();
  }
  RegistryEndpoint endpoint;
  endpoint.host = lowered;
  endpoint.loopback = IsLoopbackHost(name);
  endpoint.plain_http = endpoint.loopback && !loopback_tls;
  std::string authority = ipv6 ? "[" + name + "]" : name;
  if (name == "docker.io" || name == "index.docker.io") {
    authority = "registry-1.docker.io";
  }
  if (!port.empty()) {
    authority += ":" + port;
  }
  endpoint.base_url = (endpoint.plain_http ? "http://" : "https://") + authority;
  return endpoint;
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string lowered = Lower(host);
  if (lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1") {
    return true;
  }
  int first = -1;
  return IsDottedQuad(lowered, &first) && first == 127;
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
  InitCurlOnce();
  state->curl.reset(curl_easy_init());
  if (!state->curl) {
    return Error{"cannot start libcurl (curl_easy_init failed); out of memory?"};
  }
  if (!state->options.ca_file.empty()) {
    // CURLOPT_CAINFO would replace the system store; one blob of both adds to it.
    auto read = [](const std::filesystem::path& path, std::string* out) {
      std::error_code ec;
      if (std::filesystem::file_size(path, ec) > (size_t{16} << 20) || ec) {
        return false;
      }
      std::ifstream in(path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      *out += text.str() + "\n";
      return static_cast<bool>(in);
    };
    char* system_bundle = nullptr;
    curl_easy_getinfo(state->curl.get(), CURLINFO_CAINFO, &system_bundle);
    if (system_bundle != nullptr) {
      (void)read(system_bundle, &state->ca_blob);  // missing: the CA path still holds it
    }
    if (!read(state->options.ca_file, &state->ca_blob) ||
        state->ca_blob.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Error{"cannot read the CA certificates in " + state->options.ca_file.string() +
                   " (ca_file): it must be a readable PEM file of at most 16 MiB"};
    }
  }
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
    return Error{"not a repository name: " + Backticked(Shown(repository_in)) +
                 "; a repository is lowercase letters and digits in components separated by `/`"};
  }
  bool by_digest = reference.starts_with("sha256:") || reference.find(':') != std::string::npos;
  if (by_digest ? !IsSha256Digest(reference) : !IsTag(reference)) {
    return Error{"not a tag or sha256 digest: " + Backticked(Shown(reference)) +
                 "; a tag is up to 128 letters, digits, `_`, `.` and `-`, a digest sha256: and 64 "
                 "lowercase hex digits"};
  }
  const std::string repository = RepositoryPath(s.endpoint, repository_in);
  const std::string where = s.Where(repository_in, reference);
  const std::string scope = "repository:" + repository + ":pull";
  Request request = s.RegistryRequest();
  request.url = s.endpoint.base_url + "/v2/" + repository + "/manifests/" + std::string(reference);
  request.headers.push_back("Accept: " + std::string(kMediaOciIndex) + ", " +
                            std::string(kMediaOciManifest) + ", " + std::string(kMediaDockerList) +
                            ", " + std::string(kMediaDockerManifest));
  const int64_t cap = s.options.limits.max_manifest_bytes;
  request.max_body = static_cast<size_t>(std::max<int64_t>(cap, 0));
  Response response;
  for (int attempt = 0;; ++attempt) {
    auto exchanged = s.Exchange(request, scope, where);
    if (!exchanged) {
      return exchanged.error();
    }
    response = std::move(*exchanged);
    if (response.transport_ok() && response.body_too_large && response.status == 200) {
      return Error{"the manifest of " + Backticked(where) + " is larger than the limit of " +
                   std::to_string(cap) +
                   " bytes (limits.max_manifest_bytes); a registry sending that much is broken or "
                   "hostile"};
    }
    bool transient = response.transport_ok() ? TransientStatus(response.status)
                                             : TransientCurlError(response.code);
    if (!transient || attempt + 1 >= s.options.attempts) {
      break;
    }
    auto wait = s.Backoff(attempt);
    s.Progress("retrying the manifest of " + where + " (" +
               (response.transport_ok() ? "HTTP " + std::to_string(response.status)
                                        : Shown(response.curl_error)) +
               ")");
    std::this_thread::sleep_for(wait);
  }
  if (!response.transport_ok()) {
    return Error{"cannot fetch the manifest of " + Backticked(where) + " from " +
                 s.endpoint.base_url + ": " + Shown(response.curl_error) +
                 (response.code == CURLE_PEER_FAILED_VERIFICATION ||
                          response.code == CURLE_SSL_CACERT_BADFILE
                      ? "; the registry's certificate is not trusted: add its CA with ca_file"
                      : "; check the host name, the port and that the registry is running")};
  }
  if (response.status != 200) {
    return s.StatusError(response, "manifest", where, by_digest ? "digest" : "tag");
  }
  FetchedManifest manifest;
  std::string content_type = response.Header("content-type");
  manifest.media_type =
      Lower(Trim(std::string_view(content_type).substr(0, content_type.find(';'))));
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
    return Error{"not a repository name: " + Backticked(Shown(repository_in))};
  }
  if (!IsSha256Digest(blob.digest)) {
    return Error{"not a sha256 digest: " + Backticked(Shown(blob.digest))};
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
  Request request = s.RegistryRequest();
  request.url = s.endpoint.base_url + "/v2/" + repository + "/blobs/" + blob.digest;
  request.sink = [&](std::string_view chunk, const Response& response, bool first) {
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
  s.Progress("fetching " + where + " (" + std::to_string(blob.size) + " bytes)");
  std::string last_failure;
  for (int attempt = 0;; ++attempt) {
    Request attempt_request = request;
    if (written > 0) {
      attempt_request.headers.push_back("Range: bytes=" + std::to_string(written) + "-");
    }
    bad_range = false;
    auto exchanged = s.Exchange(attempt_request, scope, where);
    if (!exchanged) {
      return exchanged.error();
    }
    const Response& response = *exchanged;
    if (too_large) {
      return Error{s.endpoint.host + " sent more than the " + std::to_string(blob.size) +
                   " bytes the descriptor of " + Backticked(where) +
                   " says; the transfer was stopped and nothing kept"};
    }
    if (write_errno != 0) {
      return Error{"cannot write " + partial.string() + ": " + os::ErrnoText(write_errno)};
    }
    bool transient = false;
    if (bad_range || (response.transport_ok() && response.status == 416)) {
      // A resumed part that does not start where ours ends: start over.
      if (!restart()) {
        return Error{"cannot truncate " + partial.string() + ": " + os::ErrnoText(errno)};
      }
      last_failure = "a ranged answer that did not fit";
      transient = true;
    } else if (!response.transport_ok()) {
      last_failure = Shown(response.curl_error);
      transient = TransientCurlError(response.code);
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
