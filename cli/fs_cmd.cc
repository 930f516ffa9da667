// `mvmctl fs NAME read|write|ls|rm PATH [--format human|json]`: files inside a running sandbox,
// through its agent (paths are confined to the sandbox; `write` reads the content from stdin).

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "backend-emit/plan/base64.h"
#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"

namespace mvm::cli {
namespace {

using runtime::agent::FileEntry;

const char* TypeName(FileEntry::Type type) {
  switch (type) {
    case FileEntry::Type::kFile:
      return "file";
    case FileEntry::Type::kDir:
      return "dir";
    case FileEntry::Type::kSymlink:
      return "symlink";
    case FileEntry::Type::kOther:
      break;
  }
  return "other";
}

/// Sets `object[key]` to `bytes` (a name from the sandbox). JSON strings hold Unicode, so bytes
/// that are not UTF-8 go, exactly, into `<key>_base64` as well, and `key` gets them with U+FFFD in
/// place of what is not UTF-8 (at dump time), for display: no name is lost or changed unannounced.
void SetName(nlohmann::json& object, const char* key, const std::string& bytes) {
  object[key] = bytes;
  if (!IsValidUtf8(bytes)) {
    object[std::string(key) + "_base64"] = plan::Base64Encode(bytes);
  }
}

/// `ls --format=json`: {"entries": [{"name", "name_base64"?, "type", "mode", "size",
/// "link_target"?, "link_target_base64"?}, ...]} on one line (docs/cli.md has the schema).
std::string ListingJson(const std::vector<FileEntry>& entries) {
  nlohmann::json list = nlohmann::json::array();
  for (const FileEntry& e : entries) {
    nlohmann::json entry = nlohmann::json::object();
    SetName(entry, "name", e.name);
    entry["type"] = TypeName(e.type);
    entry["mode"] = e.mode & 07777;
    entry["size"] = e.size;
    if (!e.link_target.empty()) {
      SetName(entry, "link_target", e.link_target);
    }
    list.push_back(std::move(entry));
  }
  return nlohmann::json{{"entries", std::move(list)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int RunFs(Args& args) {
  if (!args.positional.empty() && IsVolumeAddress(args.positional[0]) &&
      (args.positional.size() == 3 || args.positional.size() == 4)) {
    return RunFsOnVolume(args);
  }
  if (args.positional.size() != 3) {
    return Fail("fs", MakeError(ErrorKind::kUsage, "expected NAME read|write|ls|rm PATH"));
  }
  for (const char* flag : {"endpoint", "credentials", "region"}) {
    if (args.Has(flag)) {
      return Fail("fs", MakeError(ErrorKind::kUsage, std::string("`--") + flag +
                                                         "` is for object volumes "
                                                         "(`mvmctl fs s3://BUCKET/PREFIX …`)"));
    }
  }
  const std::string& verb = args.positional[1];
  runtime::FileRequest request;
  request.path = args.positional[2];
  request.recursive = args.Has("r");
  if (verb == "read") {
    request.op = runtime::FileOp::kRead;
  } else if (verb == "write") {
    request.op = runtime::FileOp::kWrite;
  } else if (verb == "ls") {
    request.op = runtime::FileOp::kList;
  } else if (verb == "rm") {
    request.op = runtime::FileOp::kRemove;
  } else {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "unknown action `" + verb + "`; use read, write, ls or rm"));
  }
  const std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "unknown format `" + format + "`; use `human` or `json`"));
  }
  if (format == "json" && request.op != runtime::FileOp::kList) {
    return Fail("fs", MakeError(ErrorKind::kUsage, "`--format json` is only for `ls`; `" + verb +
                                                       "` prints no listing"));
  }
  if (request.op == runtime::FileOp::kWrite) {  // only once the command line is known good
    request.data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "fs");
  if (!session) {
    return Fail("fs", session.error());
  }
  auto sandbox = runtime::Attach(session->options, args.positional[0]);
  if (!sandbox) {
    return Fail("fs", sandbox.error());
  }
  auto result = runtime::RunFileOp(*sandbox, request, session->log());
  if (!result) {
    return Fail("fs", WithKind(result.error(), ErrorKind::kAgentRefused));
  }
  // Contents come from the sandbox: a terminal gets them escaped (terminal_text.h); a pipe or a
  // file gets the bytes. Redirect `read` to a file for the exact content.
  if (request.op == runtime::FileOp::kRead) {
    const std::string data = IsTerminal(STDOUT_FILENO)
                                 ? EscapeForTerminal(result->data, TerminalEscaper::Kind::kOutput)
                                 : result->data;
    std::fwrite(data.data(), 1, data.size(), stdout);
  }
  if (request.op != runtime::FileOp::kList) {
    return kExitOk;
  }
  if (format == "json") {
    std::printf("%s\n", ListingJson(result->entries).c_str());
    return kExitOk;
  }
  // The text listing is for reading: names and link targets are escaped wherever it goes, so a
  // name holding a newline cannot pass for another entry. --format json has the exact bytes.
  for (const FileEntry& e : result->entries) {
    char type = e.type == FileEntry::Type::kDir       ? 'd'
                : e.type == FileEntry::Type::kSymlink ? 'l'
                : e.type == FileEntry::Type::kFile    ? '-'
                                                      : '?';
    std::printf("%c%04o %10llu %s%s%s\n", type, e.mode & 07777,
                static_cast<unsigned long long>(e.size),
                EscapeForTerminal(e.name, TerminalEscaper::Kind::kName).c_str(),
                e.link_target.empty() ? "" : " -> ",
                EscapeForTerminal(e.link_target, TerminalEscaper::Kind::kName).c_str());
  }
  return kExitOk;
}

}  // namespace mvm::cli
