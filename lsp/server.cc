#include "lsp/server.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "frontend/frontend.h"
#include "lsp/analysis.h"
#include "lsp/features.h"
#include "lsp/transport.h"

namespace mvm::lsp {
namespace {

using Json = nlohmann::json;

// JSON-RPC 2.0 and LSP error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kServerNotInitialized = -32002;
constexpr int kRequestCancelled = -32800;

/// A request refused for a reason of its own (not malformed params), answered with `code`.
struct RpcError {
  int code;
  std::string message;
};

/// Serialises without throwing: text that is not valid UTF-8 is replaced, never sent raw.
std::string Dump(const Json& message) {
  return message.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string ErrorResponse(const Json& id, int code, std::string_view message) {
  return Dump({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

std::string Notify(std::string_view method, Json params) {
  return Dump({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

std::string ShowMessage(int type, std::string_view message) {
  return Notify("window/showMessage", {{"type", type}, {"message", message}});
}

Position PositionParam(const Json& params) {
  const Json& p = params.at("position");
  return {p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
}

Json Capabilities() {
  return {
      {"textDocumentSync", {{"openClose", true}, {"change", 2}}},
      {"hoverProvider", true},
      {"completionProvider", {{"triggerCharacters", {"(", ",", "{"}}, {"resolveProvider", false}}},
      {"codeActionProvider", {{"codeActionKinds", {"quickfix"}}}}};
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {}

std::string Server::ParseErrorResponse(std::string_view detail) {
  return ErrorResponse(nullptr, kParseError, detail);
}

void Server::Peek(std::string_view body) {
  if (body.find("$/cancelRequest") == std::string_view::npos) {
    return;  // spares parsing every queued document twice
  }
  Json message = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object() || message.value("method", Json()) != "$/cancelRequest" ||
      message.contains("id")) {
    return;
  }
  const Json& params = message.value("params", Json::object());
  if (params.is_object() && params.contains("id") &&
      (params["id"].is_number_integer() || params["id"].is_string())) {
    cancelled_.insert(params["id"].dump());
  }
}

std::vector<std::string> Server::Handle(std::string_view body) {
  std::vector<std::string> out;
  Json message = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    out.push_back(ParseErrorResponse("the message body is not valid JSON"));
    return out;
  }
  Dispatch(message, out);
  return out;
}

void Server::Dispatch(const Json& message, std::vector<std::string>& out) {
  if (!message.is_object()) {
    out.push_back(ErrorResponse(nullptr, kInvalidRequest, "a message must be a JSON object"));
    return;
  }
  auto method_it = message.find("method");
  auto id_it = message.find("id");
  bool has_id = id_it != message.end();
  Json id = has_id ? *id_it : Json(nullptr);
  if (has_id && !id.is_number_integer() && !id.is_string() && !id.is_null()) {
    out.push_back(ErrorResponse(nullptr, kInvalidRequest, "`id` must be a number or a string"));
    return;
  }
  if (method_it == message.end() || !method_it->is_string()) {
    // A response to a request of ours (we send none) is ignored; anything else is malformed.
    if (!has_id || (!message.contains("result") && !message.contains("error"))) {
      out.push_back(ErrorResponse(id, kInvalidRequest, "a request needs a string `method`"));
    }
    return;
  }
  std::string method = method_it->get<std::string>();
  Json params = message.value("params", Json::object());
  if (!has_id) {
    try {
      Notification(method, params, out);
    } catch (const std::exception& e) {
      // A notification has no response; say so in the editor's log instead.
      out.push_back(Notify(
          "window/logMessage",
          {{"type", 1}, {"message", "mvm: ignored malformed `" + method + "`: " + e.what()}}));
    }
    return;
  }
  if (!initialized_ && method != "initialize") {
    out.push_back(ErrorResponse(id, kServerNotInitialized,
                                "the server is not initialized; send `initialize` first"));
    return;
  }
  if (shutdown_) {
    out.push_back(
        ErrorResponse(id, kInvalidRequest, "the server is shutting down; only `exit` is accepted"));
    return;
  }
  if (cancelled_.erase(id.dump()) != 0) {
    out.push_back(ErrorResponse(id, kRequestCancelled, "the request was cancelled"));
    return;
  }
  std::vector<std::string> notifications;
  try {
    std::optional<Json> result = Request(method, params, notifications);
    if (!result) {
      out.push_back(ErrorResponse(id, kMethodNotFound, "unknown method `" + method + "`"));
    } else {
      out.push_back(Dump({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(*result)}}));
    }
  } catch (const RpcError& e) {
    out.push_back(ErrorResponse(id, e.code, e.message));
  } catch (const Json::exception& e) {
    out.push_back(ErrorResponse(id, kInvalidParams, std::string("invalid params: ") + e.what()));
  } catch (const std::exception& e) {
    out.push_back(ErrorResponse(id, kInternalError, std::string("internal error: ") + e.what()));
  }
  out.insert(out.end(), notifications.begin(), notifications.end());
}

std::optional<Server::Json> Server::Request(std::string_view method, const Json& params,
                                            std::vector<std::string>& out) {
  if (method == "initialize") {
    if (initialized_) {
      throw RpcError{kInvalidRequest, "`initialize` was already sent"};
    }
    initialized_ = true;
    if (params.is_object() && params.contains("initializationOptions") &&
        params["initializationOptions"].is_object()) {
      Configure(params["initializationOptions"], out);
      workspace_.SetOptions(pass_options_);
    }
    return Json{{"capabilities", Capabilities()},
                {"serverInfo", {{"name", "mvm"}, {"version", MVM_LSP_VERSION}}}};
  }
  if (method == "shutdown") {
    shutdown_ = true;
    return Json(nullptr);
  }
  if (method == "textDocument/hover") {
    const Document* document = Find(params);
    return document == nullptr ? Json(nullptr) : Hover(*document, PositionParam(params));
  }
  if (method == "textDocument/completion") {
    const Document* document = Find(params);
    return document == nullptr ? Json::array() : Complete(*document, PositionParam(params));
  }
  if (method == "textDocument/codeAction") {
    const Document* document = Find(params);
    if (document == nullptr) {
      return Json::array();
    }
    return CodeActions(*document, workspace_.Diagnostics(document->uri), params.at("range"));
  }
  return std::nullopt;
}

void Server::Notification(std::string_view method, const Json& params,
                          std::vector<std::string>& out) {
  if (method == "exit") {
    exited_ = true;
    return;
  }
  if (method == "$/cancelRequest") {
    // Whatever it named came before it and has been answered (or cancelled) by now.
    if (params.is_object() && params.contains("id")) {
      cancelled_.erase(params["id"].dump());
    }
    return;
  }
  // Before `initialize` every notification but `exit` is dropped, as the protocol asks.
  if (!initialized_ || shutdown_) {
    return;
  }
  if (method == "textDocument/didOpen") {
    DidOpen(params);
    const std::string& uri = params.at("textDocument").at("uri").get_ref<const std::string&>();
    if (documents_.contains(uri)) {
      Publish(uri, out);
    }
  } else if (method == "textDocument/didChange") {
    DidChange(params);
    Publish(params.at("textDocument").at("uri").get<std::string>(), out);
  } else if (method == "textDocument/didClose") {
    std::string uri = params.at("textDocument").at("uri").get<std::string>();
    if (documents_.erase(uri) != 0) {
      workspace_.Close(uri);
      published_.erase(uri);
      out.push_back(Notify("textDocument/publishDiagnostics",
                           {{"uri", uri}, {"diagnostics", Json::array()}}));
      // Closing one of two documents with the same id clears the duplicate on the other.
      Publish("", out);
    }
  } else if (method == "workspace/didChangeConfiguration") {
    Configure(params.value("settings", Json::object()), out);
    workspace_.SetOptions(pass_options_);
    Publish("", out);
  }
  // `initialized`, `$/setTrace` and unknown notifications need nothing.
}

void Server::DidOpen(const Json& params) {
  const Json& item = params.at("textDocument");
  Document document;
  document.uri = item.at("uri").get<std::string>();
  document.path = PathFromUri(document.uri);
  document.text = item.at("text").get<std::string>();
  document.version = item.value("version", int64_t{0});
  if (!frontend::IsSupportedSource(document.path)) {
    std::string language = item.value("languageId", "");
    if (language == "python") {
      document.path += ".py";
    } else if (language == "typescript") {
      document.path += ".ts";
    } else if (language == "typescriptreact") {
      document.path += ".tsx";
    } else {
      return;  // not a language mvm reads
    }
  }
  documents_[document.uri] = std::move(document);
}

void Server::DidChange(const Json& params) {
  const Json& id = params.at("textDocument");
  auto it = documents_.find(id.at("uri").get<std::string>());
  if (it == documents_.end()) {
    return;
  }
  Document& document = it->second;
  int64_t version = id.value("version", document.version);
  if (version < document.version) {
    return;  // arrived out of order: a newer state is already applied
  }
  struct ByteEdit {
    uint32_t begin;
    uint32_t end;
    const std::string* replacement;
  };
  std::vector<ByteEdit> edits;
  std::string text = document.text;
  for (const Json& change : params.at("contentChanges")) {
    const std::string& replacement = change.at("text").get_ref<const std::string&>();
    size_t begin = 0;
    size_t end = text.size();
    if (change.contains("range")) {
      const Json& range = change.at("range");
      auto pos = [](const Json& p) {
        return Position{p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
      };
      begin = OffsetOf(text, pos(range.at("start")));
      end = std::max(begin, OffsetOf(text, pos(range.at("end"))));
    }
    text.replace(begin, end - begin, replacement);
    // Offsets past 4 GiB cannot be told to the parser; the clamp makes its next parse a full one.
    edits.push_back({static_cast<uint32_t>(std::min<size_t>(begin, UINT32_MAX)),
                     static_cast<uint32_t>(std::min<size_t>(end, UINT32_MAX)), &replacement});
  }
  // Only a change that applied completely is kept, so a malformed one leaves the document as it
  // was.
  document.text = std::move(text);
  document.version = version;
  for (const ByteEdit& edit : edits) {
    workspace_.Edit(document.uri, edit.begin, edit.end, *edit.replacement);
  }
}

void Server::Configure(const Json& settings, std::vector<std::string>& out) {
  if (!settings.is_object() || !settings.contains("mvm") || !settings["mvm"].is_object()) {
    return;
  }
  const Json& mvm = settings["mvm"];
  if (mvm.contains("profile")) {
    std::string profile = mvm["profile"].is_string() ? mvm["profile"].get<std::string>() : "";
    if (profile == "dev") {
      pass_options_.profile = passes::Profile::kDev;
    } else if (profile == "production") {
      pass_options_.profile = passes::Profile::kProduction;
    } else {
      out.push_back(ShowMessage(1,
                                "mvm: setting `mvm.profile` must be \"dev\" or \"production\"; "
                                "keeping the current profile"));
    }
  }
  if (mvm.contains("policy")) {
    std::string path = mvm["policy"].is_string() ? mvm["policy"].get<std::string>() : "";
    pass_options_.org_policy = std::nullopt;
    if (path.empty()) {
      return;
    }
    if (!options_.read_policy) {
      out.push_back(
          ShowMessage(1, "mvm: this server cannot read policy files; `mvm.policy` is ignored"));
      return;
    }
    auto policy = options_.read_policy(path);
    if (!policy) {
      out.push_back(ShowMessage(1, "mvm: policy not applied: " + policy.error().message));
      return;
    }
    pass_options_.org_policy = std::move(*policy);
  }
}

void Server::Publish(const std::string& changed_uri, std::vector<std::string>& out) {
  std::vector<const Document*> open;
  for (const auto& [uri, document] : documents_) {
    open.push_back(&document);
  }
  std::vector<std::string> recomputed = workspace_.Update(open);
  for (const Document* document : open) {
    // Diagnostics that were not recomputed are the ones already published.
    bool changed = document->uri == changed_uri;
    if (!changed &&
        std::find(recomputed.begin(), recomputed.end(), document->uri) == recomputed.end()) {
      continue;
    }
    Json list = Json::array();
    for (const Diagnostic& d : workspace_.Diagnostics(document->uri)) {
      list.push_back(ToLsp(*document, d, open));
    }
    std::string text = Dump(list);
    auto& last = published_[document->uri];
    if (!changed && last == text) {
      continue;
    }
    last = std::move(text);
    out.push_back(Notify("textDocument/publishDiagnostics", {{"uri", document->uri},
                                                             {"version", document->version},
                                                             {"diagnostics", std::move(list)}}));
  }
}

const Document* Server::Find(const Json& params) const {
  auto it = documents_.find(params.at("textDocument").at("uri").get<std::string>());
  return it == documents_.end() ? nullptr : &it->second;
}

int RunServer(int in_fd, int out_fd, ServerOptions options) {
  Server server(std::move(options));
  MessageReader reader(in_fd);
  // Messages read ahead of the one being handled: everything the editor has already sent, so a
  // `$/cancelRequest` is seen before the request it cancels runs.
  std::deque<std::pair<ReadStatus, std::string>> queue;
  bool eof = false;
  while (!server.exited()) {
    while (!eof && (queue.empty() || reader.Ready())) {
      std::string body;
      ReadStatus status = reader.Next(body);
      if (status == ReadStatus::kEof) {
        eof = true;
        break;
      }
      if (status == ReadStatus::kMessage) {
        server.Peek(body);
      }
      queue.emplace_back(status, std::move(body));
    }
    if (queue.empty()) {
      break;
    }
    auto [status, body] = std::move(queue.front());
    queue.pop_front();
    std::vector<std::string> replies;
    if (status == ReadStatus::kBadHeader) {
      replies.push_back(
          Server::ParseErrorResponse("the message header has no valid `Content-Length`"));
    } else {
      replies = server.Handle(body);
    }
    for (const std::string& reply : replies) {
      if (!WriteMessage(out_fd, reply)) {
        return 1;
      }
    }
  }
  return server.exit_code();
}

}  // namespace mvm::lsp
