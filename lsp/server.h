#ifndef MVM_LSP_SERVER_H_
#define MVM_LSP_SERVER_H_

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/diagnostic.h"
#include "ir/support/error_or.h"
#include "lsp/analysis.h"
#include "lsp/document.h"
#include "passes/pass.h"

namespace mvm::lsp {

/// What the server needs from its host.
struct ServerOptions {
  /// Reads the organisation policy a `{"mvm": {"policy": PATH}}` setting names. The cli passes its
  /// policy-file reader; when null, a policy setting is refused with a message.
  std::function<ErrorOr<passes::OrgPolicy>(const std::string& path)> read_policy;
};

/// The mvm language server, without I/O: it takes one JSON-RPC message body at a time and returns
/// the message bodies to send back. Never throws; malformed input becomes a JSON-RPC error.
class Server {
 public:
  explicit Server(ServerOptions options);

  /// Handles one message; returns the responses and notifications it causes, in order.
  std::vector<std::string> Handle(std::string_view body);

  /// Looks at a message that is queued but not handled yet: a `$/cancelRequest` for a request
  /// queued before it makes that request answer RequestCancelled (-32800) instead of running.
  /// Anything else is left for Handle.
  void Peek(std::string_view body);

  /// The response to a message whose framing was unreadable (a JSON-RPC ParseError, id null).
  static std::string ParseErrorResponse(std::string_view detail);

  /// True once `exit` arrived.
  bool exited() const { return exited_; }
  /// The process exit status: 0 after `shutdown` then `exit`, 1 otherwise.
  int exit_code() const { return shutdown_ ? 0 : 1; }

 private:
  using Json = nlohmann::json;

  void Dispatch(const Json& message, std::vector<std::string>& out);
  /// The result of request `method`; nullopt when no such method exists.
  std::optional<Json> Request(std::string_view method, const Json& params,
                              std::vector<std::string>& out);
  void Notification(std::string_view method, const Json& params, std::vector<std::string>& out);
  void DidOpen(const Json& params);
  void DidChange(const Json& params);
  void Configure(const Json& settings, std::vector<std::string>& out);
  /// Re-analyses every open document and publishes the diagnostics that changed, always those of
  /// `changed_uri`.
  void Publish(const std::string& changed_uri, std::vector<std::string>& out);
  const Document* Find(const Json& params) const;

  ServerOptions options_;
  passes::PassOptions pass_options_;
  std::map<std::string, Document> documents_;
  Workspace workspace_;
  std::map<std::string, std::string> published_;
  /// Ids (as JSON text) of queued requests that a queued `$/cancelRequest` cancelled.
  std::set<std::string> cancelled_;
  bool initialized_ = false;
  bool shutdown_ = false;
  bool exited_ = false;
};

/// Serves LSP over `in_fd` / `out_fd` until `exit` or the end of input; returns the exit status
/// (0 only after `shutdown` then `exit`).
int RunServer(int in_fd, int out_fd, ServerOptions options);

}  // namespace mvm::lsp

#endif  // MVM_LSP_SERVER_H_
