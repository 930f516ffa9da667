// The S3 client: signed requests over libcurl, bodies streamed.

#include "runtime/volumes/s3/client.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "ir/support/os/utc_time.h"
#include "runtime/lazylibs/curl_api.h"
#include "runtime/volumes/s3/sigv4.h"

namespace mvm::runtime::volumes::s3 {
namespace {

constexpr size_t kMaxCapturedBody = 1 << 20;
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string XmlDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    size_t end = text.find(';', i);
    if (end == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    std::string_view entity = text.substr(i + 1, end - i - 1);
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.starts_with('#')) {
      unsigned long code = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X')
                               ? std::stoul(std::string(entity.substr(2)), nullptr, 16)
                               : std::stoul(std::string(entity.substr(1)));
      // UTF-8 of one code point.
      if (code < 0x80) {
        out += static_cast<char>(code);
      } else if (code < 0x800) {
        out += static_cast<char>(0xc0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else if (code < 0x10000) {
        out += static_cast<char>(0xe0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else {
        out += static_cast<char>(0xf0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      }
    } else {
      out += text.substr(i, end - i + 1);
    }
    i = end;
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Transfer {
  const lazylibs::Curl* lib = nullptr;
  CURL* curl = nullptr;
  const ReadSink* sink = nullptr;
  Client::Response* response = nullptr;
  std::optional<Error> sink_error;
  std::string_view upload;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  long status = 0;
  t->lib->easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->sink != nullptr && status >= 200 && status < 300) {
    auto taken = (*t->sink)(std::string_view(data, bytes));
    if (!taken) {
      t->sink_error = taken.error();
      return 0;
    }
    return bytes;
  }
  if (t->response->body.size() < kMaxCapturedBody) {
    t->response->body.append(data, std::min(bytes, kMaxCapturedBody - t->response->body.size()));
  }
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    if (name == "etag") {
      t->response->etag = value;
    } else if (name == "content-length") {
      t->response->content_length = std::stoull(std::string(value));
    }
  }
  return size * count;
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = std::min(size * count, t->upload.size());
  std::copy_n(t->upload.data(), n, buffer);
  t->upload.remove_prefix(n);
  return n;
}

/// A multipart-or-single upload, one part buffered at a time.
class ObjectUpload final : public Writer {
 public:
  ObjectUpload(std::shared_ptr<Client> client, std::string key)
      : client_(std::move(client)), key_(std::move(key)) {
    buffer_.reserve(client_->config().part_bytes);
  }
  ~ObjectUpload() override {
    if (!upload_id_.empty() && !committed_) {
      Client::Request abort;
      abort.method = "DELETE";
      abort.key = key_;
      abort.query = {{"uploadId", upload_id_}};
      (void)client_->Perform(abort);
    }
  }

  ErrorOr<Ok> Write(std::string_view chunk) override {
    const uint64_t part = client_->config().part_bytes;
    while (!chunk.empty()) {
      if (buffer_.size() == part) {
        if (auto sent = SendPart(); !sent) {
          return sent;
        }
      }
      size_t take = std::min<size_t>(chunk.size(), part - buffer_.size());
      buffer_.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
    }
    return Ok{};
  }

  ErrorOr<Ok> Commit() override {
    if (upload_id_.empty()) {
      Client::Request put;
      put.method = "PUT";
      put.key = key_;
      put.body = buffer_;
      auto response = client_->Perform(put);
      if (!response) {
        return response.error();
      }
      if (response->status != 200) {
        return client_->Failure("put", key_, *response);
      }
      committed_ = true;
      return Ok{};
    }
    if (!buffer_.empty()) {
      if (auto sent = SendPart(); !sent) {
        return sent;
      }
    }
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             XmlEscape(etags_[i]) + "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    Client::Request complete;
    complete.method = "POST";
    complete.key = key_;
    complete.query = {{"uploadId", upload_id_}};
    complete.body = xml;
    auto response = client_->Perform(complete);
    if (!response) {
      return response.error();
    }
    // S3 may answer 200 and put the error in the body.
    if (response->status != 200 || response->body.find("<Error>") != std::string::npos) {
      return client_->Failure("complete the upload of", key_, *response);
    }
    committed_ = true;
    return Ok{};
  }

 private:
  ErrorOr<Ok> SendPart() {
    if (upload_id_.empty()) {
      Client::Request start;
      start.method = "POST";
      start.key = key_;
      start.query = {{"uploads", ""}};
      auto response = client_->Perform(start);
      if (!response) {
        return response.error();
      }
      auto ids = XmlValues(response->body, "UploadId");
      if (response->status != 200 || ids.size() != 1 || ids[0].empty()) {
        return client_->Failure("start a multipart upload of", key_, *response);
      }
      upload_id_ = ids[0];
    }
    Client::Request part;
    part.method = "PUT";
    part.key = key_;
    part.query = {{"partNumber", std::to_string(etags_.size() + 1)}, {"uploadId", upload_id_}};
    part.body = buffer_;
    auto response = client_->Perform(part);
    if (!response) {
      return response.error();
    }
    if (response->status != 200 || response->etag.empty()) {
      return client_->Failure("upload a part of", key_, *response);
    }
    etags_.push_back(response->etag);
    buffer_.clear();
    return Ok{};
  }

  std::shared_ptr<Client> client_;
  std::string key_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> etags_;
  bool committed_ = false;
};

}  // namespace

std::vector<std::string> XmlValues(std::string_view xml, std::string_view tag) {
  std::vector<std::string> values;
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    size_t start = at + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) {
      break;
    }
    values.push_back(XmlDecode(xml.substr(start, end - start)));
    at = end + close.size();
  }
  return values;
}

ErrorOr<std::shared_ptr<Client>> Client::Create(ClientConfig config) {
  std::string_view endpoint = config.endpoint;
  size_t scheme = endpoint.find("://");
  if (scheme == std::string_view::npos ||
      (endpoint.substr(0, scheme) != "http" && endpoint.substr(0, scheme) != "https")) {
    return MakeError(ErrorKind::kUsage, "object volume endpoint `" + config.endpoint +
                                            "` must be `http://HOST[:PORT]` or `https://…`");
  }
  std::string host(endpoint.substr(scheme + 3));
  if (host.empty() || host.find('/') != std::string::npos) {
    return MakeError(ErrorKind::kUsage, "object volume endpoint `" + config.endpoint +
                                            "` must name a host and no path");
  }
  bool bucket_ok = config.bucket.size() >= 3 && config.bucket.size() <= 63;
  for (char c : config.bucket) {
    bucket_ok = bucket_ok && (std::islower(static_cast<unsigned char>(c)) ||
                              std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.');
  }
  if (!bucket_ok) {
    return MakeError(ErrorKind::kUsage, "bucket `" + config.bucket +
                                            "` is not an S3 bucket name (3-63 of `a-z0-9.-`)");
  }
  if (auto curl = lazylibs::LoadCurl(); !curl) {
    return curl.error();
  }
  auto client = std::shared_ptr<Client>(new Client(std::move(config)));
  client->host_ = host;
  return client;
}

Client::~Client() = default;

Error Client::Failure(std::string_view doing, const std::string& key,
                      const Response& response) const {
  auto codes = XmlValues(response.body, "Code");
  auto messages = XmlValues(response.body, "Message");
  std::string why = "HTTP " + std::to_string(response.status);
  if (!codes.empty()) {
    why += " " + codes[0];
  }
  if (!messages.empty()) {
    why += ": " + messages[0];
  }
  ErrorKind kind = response.status == 403 || response.status == 401 ? ErrorKind::kEnvironment
                                                                    : ErrorKind::kRuntimeFailed;
  return MakeError(kind, "s3 bucket `" + config_.bucket + "`: cannot " + std::string(doing) + " `" +
                             key + "`: " + why);
}

ErrorOr<Client::Response> Client::Perform(const Request& request) {
  std::string path = "/" + config_.bucket + (request.key.empty() ? "" : "/" + request.key);
  SigningInput input;
  input.method = request.method;
  input.path = path;
  input.query = request.query;
  input.amz_date = os::NowUtcText(os::UtcForm::kBasic);
  input.region = config_.region;
  input.access_key_id = config_.access_key_id;
  input.payload_sha256 = request.body.empty() ? std::string(kEmptySha256) : Sha256Hex(request.body);
  input.headers = request.headers;
  input.headers.emplace_back("host", host_);
  input.headers.emplace_back("x-amz-date", input.amz_date);
  input.headers.emplace_back("x-amz-content-sha256", input.payload_sha256);
  Signature signature = Sign(input, config_.secret_access_key.view());

  std::string url = config_.endpoint + UriEncode(path, true);
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : request.query) {
    query.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(query.begin(), query.end());
  for (size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? "?" : "&") + query[i].first + "=" + query[i].second;
  }

  // Create has loaded it.
  const lazylibs::Curl& lib = **lazylibs::LoadCurl();
  CURL* curl = lib.easy_init();
  if (curl == nullptr) {
    return Error{"s3: libcurl cannot start a request"};
  }
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : input.headers) {
    headers = lib.slist_append(headers, (name + ": " + value).c_str());
  }
  headers = lib.slist_append(headers, ("Authorization: " + signature.authorization).c_str());
  headers = lib.slist_append(headers, "Expect:");
  Response response;
  Transfer transfer{&lib, curl, request.sink, &response, std::nullopt, request.body};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  lib.easy_setopt(curl, CURLOPT_URL, url.c_str());
  lib.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  lib.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  lib.easy_setopt(curl, CURLOPT_PROXY, "");
  lib.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config_.connect_timeout.count()));
  lib.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  lib.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.stall_timeout.count()));
  lib.easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  lib.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  lib.easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  lib.easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  lib.easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  lib.easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  if (request.method == "PUT") {
    lib.easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    lib.easy_setopt(curl, CURLOPT_READFUNCTION, OnUpload);
    lib.easy_setopt(curl, CURLOPT_READDATA, &transfer);
    lib.easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    lib.easy_setopt(curl, CURLOPT_POST, 1L);
    lib.easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    lib.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                    static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    lib.easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    lib.easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  CURLcode code = lib.easy_perform(curl);
  lib.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  lib.slist_free_all(headers);
  lib.easy_cleanup(curl);
  if (transfer.sink_error) {
    return *transfer.sink_error;
  }
  if (code != CURLE_OK) {
    return MakeError(
        ErrorKind::kRuntimeFailed,
        "s3 endpoint `" + config_.endpoint + "`: " + request.method + " `" + path +
            "` failed: " + (error_buffer[0] != 0 ? error_buffer : lib.easy_strerror(code)));
  }
  return response;
}

ErrorOr<Ok> Client::HeadBucket() {
  Request request;
  request.method = "HEAD";
  auto response = Perform(request);
  if (!response) {
    return response.error();
  }
  if (response->status != 200) {
    return Failure("reach", "", *response);
  }
  return Ok{};
}

ErrorOr<std::optional<ObjectInfo>> Client::Head(const std::string& key) {
  Request request;
  request.method = "HEAD";
  request.key = key;
  auto response = Perform(request);
  if (!response) {
    return response.error();
  }
  if (response->status == 404) {
    return std::optional<ObjectInfo>();
  }
  if (response->status != 200) {
    return Failure("head", key, *response);
  }
  return std::optional<ObjectInfo>(
      ObjectInfo{response->content_length.value_or(0), response->etag});
}

ErrorOr<std::optional<uint64_t>> Client::Get(const std::string& key, const ReadSink& sink) {
  uint64_t total = 0;
  ReadSink counting = [&](std::string_view chunk) -> ErrorOr<Ok> {
    total += chunk.size();
    return sink(chunk);
  };
  Request request;
  request.key = key;
  request.sink = &counting;
  auto response = Perform(request);
  if (!response) {
    return response.error();
  }
  if (response->status == 404) {
    return std::optional<uint64_t>();
  }
  if (response->status != 200) {
    return Failure("get", key, *response);
  }
  if (response->content_length && *response->content_length != total) {
    return MakeError(ErrorKind::kRuntimeFailed,
                     "s3 bucket `" + config_.bucket + "`: `" + key + "` ended after " +
                         std::to_string(total) + " of its " +
                         std::to_string(*response->content_length) + " bytes");
  }
  return std::optional<uint64_t>(total);
}

ErrorOr<std::unique_ptr<Writer>> Client::Put(const std::string& key) {
  return std::unique_ptr<Writer>(std::make_unique<ObjectUpload>(shared_from_this(), key));
}

ErrorOr<Listing> Client::List(const std::string& prefix, const std::string& delimiter,
                              size_t max_keys) {
  Listing listing;
  std::string token;
  for (;;) {
    Request request;
    request.query = {{"list-type", "2"},
                     {"prefix", prefix},
                     {"max-keys", std::to_string(config_.list_page_size)}};
    if (!delimiter.empty()) {
      request.query.emplace_back("delimiter", delimiter);
    }
    if (!token.empty()) {
      request.query.emplace_back("continuation-token", token);
    }
    auto response = Perform(request);
    if (!response) {
      return response.error();
    }
    if (response->status != 200) {
      return Failure("list", prefix, *response);
    }
    // Each <Contents> holds one <Key> and one <Size>, in order.
    auto keys = XmlValues(response->body, "Key");
    auto sizes = XmlValues(response->body, "Size");
    if (keys.size() != sizes.size()) {
      return MakeError(ErrorKind::kRuntimeFailed,
                       "s3 bucket `" + config_.bucket + "`: a listing of `" + prefix +
                           "` is malformed (keys and sizes do not pair)");
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      listing.objects.emplace_back(keys[i], std::stoull(sizes[i]));
    }
    for (const std::string& common : XmlValues(response->body, "CommonPrefixes")) {
      auto inner = XmlValues(common, "Prefix");
      if (!inner.empty()) {
        listing.prefixes.push_back(inner[0]);
      }
    }
    auto truncated = XmlValues(response->body, "IsTruncated");
    auto next = XmlValues(response->body, "NextContinuationToken");
    if (max_keys != 0 && listing.objects.size() + listing.prefixes.size() >= max_keys) {
      return listing;
    }
    if (truncated.empty() || truncated[0] != "true" || next.empty() || next[0].empty()) {
      return listing;
    }
    token = next[0];
  }
}

ErrorOr<Ok> Client::Delete(const std::string& key) {
  Request request;
  request.method = "DELETE";
  request.key = key;
  auto response = Perform(request);
  if (!response) {
    return response.error();
  }
  if (response->status != 204 && response->status != 200) {
    return Failure("delete", key, *response);
  }
  return Ok{};
}

ErrorOr<Ok> Client::Copy(const std::string& from, const std::string& to) {
  Request request;
  request.method = "PUT";
  request.key = to;
  request.headers = {{"x-amz-copy-source", UriEncode("/" + config_.bucket + "/" + from, true)}};
  auto response = Perform(request);
  if (!response) {
    return response.error();
  }
  if (response->status != 200 || response->body.find("<Error>") != std::string::npos) {
    return Failure("copy `" + from + "` to", to, *response);
  }
  return Ok{};
}

}  // namespace mvm::runtime::volumes::s3
