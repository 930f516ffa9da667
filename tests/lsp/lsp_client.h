#ifndef MVM_TESTS_LSP_LSP_CLIENT_H_
#define MVM_TESTS_LSP_LSP_CLIENT_H_

#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mvm::lsp::testing {

/// A scripted LSP client: runs the real `mvmctl lsp` as a child process and speaks framed
/// JSON-RPC to it over pipes.
class LspClient {
 public:
  /// Starts `mvmctl lsp`; the process is killed (if still running) on destruction.
  LspClient();
  ~LspClient();
  LspClient(const LspClient&) = delete;
  LspClient& operator=(const LspClient&) = delete;

  /// Sends raw bytes (for framing tests).
  void SendRaw(const std::string& bytes);
  /// Sends `message` with its Content-Length header.
  void Send(const nlohmann::json& message);
  /// Sends a request with a fresh id and returns that id.
  int Request(const std::string& method, nlohmann::json params);
  void Notify(const std::string& method, nlohmann::json params);
  /// Closes the server's stdin.
  void CloseInput();

  /// The next message from the server, or nullopt after `timeout_ms` or at end of output.
  std::optional<nlohmann::json> Next(int timeout_ms = 30000);
  /// Reads messages until `match` accepts one (returned); the others are kept in `seen()`.
  std::optional<nlohmann::json> WaitFor(const std::function<bool(const nlohmann::json&)>& match,
                                        int timeout_ms = 30000);
  /// The response to request `id`.
  std::optional<nlohmann::json> Response(int id);
  /// The next publishDiagnostics for `uri`.
  std::optional<nlohmann::json> Diagnostics(const std::string& uri);
  /// Sends initialize + initialized and returns the initialize result.
  nlohmann::json Initialize(nlohmann::json initialization_options = nullptr);

  /// Waits for the server to exit and returns its exit status (-1 on a signal or timeout).
  int Wait(int timeout_ms = 30000);

 private:
  pid_t pid_ = -1;
  int to_server_ = -1;
  int from_server_ = -1;
  int next_id_ = 1;
  std::string buffer_;
};

}  // namespace mvm::lsp::testing

#endif  // MVM_TESTS_LSP_LSP_CLIENT_H_
