#include "runtime/oci/registry_http.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "ir/support/terminal_text.h"
#include "nlohmann/json.hpp"
#include "runtime/lazylibs/curl_api.h"

namespace mvm::runtime::oci {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

struct CurlDeleter {
  const lazylibs::Curl* lib = nullptr;
  void operator()(CURL* curl) const { lib->easy_cleanup(curl); }
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
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
    response->headers[AsciiLower(Trim(line.substr(0, colon)))] =
        std::string(Trim(line.substr(colon + 1)));
  }
  return n;
}

struct WriteContext {
  const HttpRequest* request;
  HttpResponse* response;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* context = static_cast<WriteContext*>(user);
  HttpResponse& response = *context->response;
  size_t n = size * count;
  std::string_view chunk(data, n);
  bool first = !response.body_started;
  response.body_started = true;
  bool success = response.status >= 200 && response.status < 300;
  if (success && context->request->sink) {
    if (!context->request->sink(chunk, response, first)) {
      response.sink_aborted = true;
      return 0;
    }
    return n;
  }
  size_t cap = success ? context->request->max_body : kMaxErrorBody;
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

// The file at `path`, when it is at most 16 MiB and readable.
bool ReadSmallFile(const std::filesystem::path& path, std::string* out) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > (size_t{16} << 20)) {
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return static_cast<bool>(in);
}

}  // namespace

struct HttpClient::Handle {
  const lazylibs::Curl* lib = nullptr;
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::string ca_blob;  ///< the system bundle and ca_file, when ca_file is set
  std::chrono::seconds connect_timeout;
  std::chrono::seconds stall_timeout;
};

HttpClient::HttpClient(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

ErrorOr<HttpClient> HttpClient::Create(const std::filesystem::path& ca_file,
                                       std::chrono::seconds connect_timeout,
                                       std::chrono::seconds stall_timeout) {
  auto lib = lazylibs::LoadCurl();
  if (!lib) {
    return lib.error();
  }
  auto handle = std::make_unique<Handle>();
  handle->lib = *lib;
  handle->curl = std::unique_ptr<CURL, CurlDeleter>((*lib)->easy_init(), CurlDeleter{*lib});
  if (!handle->curl) {
    return Error{"cannot start libcurl (curl_easy_init failed); out of memory?"};
  }
  handle->connect_timeout = connect_timeout;
  handle->stall_timeout = stall_timeout;
  if (!ca_file.empty()) {
    std::string extra;
    if (!ReadSmallFile(ca_file, &extra) ||
        extra.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Error{"cannot read CA certificates from " + ca_file.string() +
                   " (ca_file): it must be a readable PEM file of at most 16 MiB"};
    }
    // CURLOPT_CAINFO would replace the system store; one blob of both adds to it.
    char* system_bundle = nullptr;
    handle->lib->easy_getinfo(handle->curl.get(), CURLINFO_CAINFO, &system_bundle);
    if (system_bundle != nullptr) {
      // A missing bundle leaves the CA directory (CURLOPT_CAPATH), which libcurl still reads.
      (void)ReadSmallFile(system_bundle, &handle->ca_blob);
    }
    handle->ca_blob += "\n" + extra + "\n";
  }
  return HttpClient(std::move(handle));
}

HttpResponse HttpClient::Perform(const HttpRequest& request) {
  const lazylibs::Curl& lib = *handle_->lib;
  CURL* h = handle_->curl.get();
  lib.easy_reset(h);
  HttpResponse response;
  WriteContext context{&request, &response};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  const char* protocols = request.plain_http ? "http,https" : "https";
  lib.easy_setopt(h, CURLOPT_URL, request.url.c_str());
  lib.easy_setopt(h, CURLOPT_HTTPGET, 1L);
  lib.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  lib.easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
  lib.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  lib.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  lib.easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(kMaxRedirects));
  // Credentials go to the registry's host only: libcurl drops both CURLOPT_USERNAME/PASSWORD and
  // a custom Authorization header on a redirect to another host, port or scheme (7.83.1 and
  // later) unless CURLOPT_UNRESTRICTED_AUTH is set, which it never is here.
  lib.easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  lib.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  lib.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!handle_->ca_blob.empty()) {
    curl_blob blob{handle_->ca_blob.data(), handle_->ca_blob.size(), CURL_BLOB_COPY};
    lib.easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  lib.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(handle_->connect_timeout.count()));
  lib.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  lib.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(handle_->stall_timeout.count()));
  lib.easy_setopt(h, CURLOPT_USERAGENT, "mvm-oci/1 (libcurl)");
  lib.easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  if (request.loopback) {
    lib.easy_setopt(h, CURLOPT_PROXY, "");  // a proxy would not reach our loopback
  }
  lib.easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  lib.easy_setopt(h, CURLOPT_HEADERDATA, &response);
  lib.easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  lib.easy_setopt(h, CURLOPT_WRITEDATA, &context);
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) {
    headers = lib.slist_append(headers, header.c_str());
  }
  std::string authorization;
  if (!request.bearer.empty()) {
    authorization = "Authorization: Bearer " + request.bearer;
    headers = lib.slist_append(headers, authorization.c_str());
  } else if (request.basic != nullptr) {
    lib.easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    lib.easy_setopt(h, CURLOPT_USERNAME, request.basic->username.c_str());
    lib.easy_setopt(h, CURLOPT_PASSWORD, request.basic->password.c_str());
  }
  lib.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  CURLcode code = lib.easy_perform(h);
  long status = 0;
  lib.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 0) {
    response.status = status;
  }
  response.completed = code == CURLE_OK;
  response.transient_failure = TransientCurlError(code);
  response.untrusted_certificate =
      code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE;
  if (!response.completed) {
    response.transport_error =
        ShownText(error_buffer[0] != '\0' ? error_buffer : lib.easy_strerror(code));
  }
  // Nothing of this call (stack buffers, the header list, the credentials) stays in the handle.
  lib.easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  lib.easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  lib.slist_free_all(headers);
  lib.easy_reset(h);
  std::fill(authorization.begin(), authorization.end(), '\0');
  return response;
}

bool TransientStatus(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

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
      std::string one;
      if (auto code = error.find("code"); code != error.end() && code->is_string()) {
        one = code->get<std::string>();
      }
      if (auto message = error.find("message"); message != error.end() && message->is_string()) {
        one += (one.empty() ? "" : " ") + message->get<std::string>();
      }
      if (!one.empty()) {
        out += (out.empty() ? "" : "; ") + one;
      }
    }
  }
  for (const char* key : {"error", "error_description", "details"}) {
    if (auto it = json.find(key); it != json.end() && it->is_string()) {
      out += (out.empty() ? "" : "; ") + it->get<std::string>();
    }
  }
  return ShownText(out);
}

std::string FirstErrorCode(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    auto errors = json.find("errors");
    if (errors != json.end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      auto code = (*errors)[0].find("code");
      if (code != (*errors)[0].end() && code->is_string()) {
        return code->get<std::string>();
      }
    }
  }
  return "";
}

std::string ShownText(std::string_view text, size_t max) {
  std::string out = EscapeForTerminal(text.substr(0, max), TerminalEscaper::Kind::kName);
  if (text.size() > max) {
    out += "...";
  }
  return out;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace mvm::runtime::oci
