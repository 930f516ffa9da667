// `mvmctl fs s3://BUCKET/PREFIX read|write|ls|rm PATH --endpoint URL --credentials SECRET`: the
// files of an object volume, which no sandbox mounts, through the volume backend contract
// (runtime/volumes/volume.h) rather than an agent. Reads and writes stream in 1 MiB chunks, so a
// large object never sits whole in memory; every operation reaches the audit log, aggregated
// (runtime/volumes/volume_audit.h).

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runtime_session.h"
#include "ir/support/terminal_text.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"

namespace mvm::cli {

namespace volumes = runtime::volumes;

int RunFsOnVolume(Args& args) {
  const std::string& url = args.positional[0];
  const std::string& verb = args.positional[1];
  std::string path = args.positional[2];
  // The volume's root, as a shell user would name it.
  if (path == "/" || path == ".") {
    path.clear();
  }
  if (verb != "read" && verb != "write" && verb != "ls" && verb != "rm") {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "unknown action `" + verb + "`; use read, write, ls or rm"));
  }
  const std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "unknown format `" + format + "`; use `human` or `json`"));
  }
  if (format == "json" && verb != "ls") {
    return Fail("fs", MakeError(ErrorKind::kUsage, "`--format json` is only for `ls`; `" + verb +
                                                       "` prints no listing"));
  }
  if (!args.Has("endpoint") || !args.Has("credentials")) {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "an object volume needs `--endpoint URL` (the S3 API, as "
                                "`Volume.object(endpoint=...)` names it) and `--credentials "
                                "SECRET` (a secret of the host store holding "
                                "`ACCESS_KEY_ID:SECRET_ACCESS_KEY`; `mvmctl secret set`)"));
  }
  auto session = OpenRuntime(args, /*with_trust=*/false, "fs");
  if (!session) {
    return Fail("fs", session.error());
  }
  auto store = runtime::secrets::Store::Open(session->options.state.Secrets());
  if (!store) {
    return Fail("fs", store.error());
  }
  volumes::VolumeSpec spec;
  spec.backend = "object";
  spec.source = url;
  spec.endpoint = args.Get("endpoint", "");
  spec.region = args.Get("region", spec.region);
  spec.credentials_secret = args.Get("credentials", "");
  spec.read_only = verb == "read" || verb == "ls";
  volumes::AttachContext context;
  context.sandbox = "mvmctl-fs";
  context.state_dir = session->options.state.root;
  context.secrets = &*store;
  runtime::audit::Log& log = session->log();
  context.audit = std::make_shared<volumes::VolumeAudit>(
      [&log](std::string_view event, const nlohmann::json& fields) {
        if (auto appended = log.Append(event, fields); !appended) {
          std::fprintf(stderr, "mvmctl fs: cannot write the audit log: %s\n",
                       appended.error().message.c_str());
        }
      });
  auto volume = volumes::Attach(spec, context);
  if (!volume) {
    return Fail("fs", volume.error());
  }
  ErrorOr<Ok> done = Ok{};
  std::vector<volumes::EntryInfo> entries;
  if (verb == "read") {
    const bool terminal = IsTerminal(STDOUT_FILENO);
    auto read = (*volume)->Read(path, [&](std::string_view chunk) -> ErrorOr<Ok> {
      // A terminal gets the bytes escaped (terminal_text.h); a pipe or a file gets them exactly.
      const std::string shown =
          terminal ? EscapeForTerminal(chunk, TerminalEscaper::Kind::kOutput) : std::string(chunk);
      if (std::fwrite(shown.data(), 1, shown.size(), stdout) != shown.size()) {
        return Error{"cannot write to stdout"};
      }
      return Ok{};
    });
    done = read ? ErrorOr<Ok>(Ok{}) : ErrorOr<Ok>(read.error());
  } else if (verb == "write") {
    auto writer = (*volume)->OpenWriter(path);
    if (!writer) {
      done = writer.error();
    } else {
      std::string chunk(size_t{1} << 20, '\0');
      for (;;) {
        const size_t n = std::fread(chunk.data(), 1, chunk.size(), stdin);
        if (n > 0) {
          if (auto written = (*writer)->Write(std::string_view(chunk).substr(0, n)); !written) {
            done = written.error();
            break;
          }
        }
        if (n < chunk.size()) {
          if (std::ferror(stdin)) {
            done = Error{"cannot read stdin; nothing was written"};
          }
          break;
        }
      }
      if (done) {
        done = (*writer)->Commit();
      }
    }
  } else if (verb == "ls") {
    auto listed = (*volume)->List(path);
    if (listed) {
      entries = std::move(*listed);
    } else {
      done = listed.error();
    }
  } else {
    auto removed = (*volume)->Remove(path, args.Has("r"));
    done = removed ? ErrorOr<Ok>(Ok{}) : ErrorOr<Ok>(removed.error());
  }
  (void)(*volume)->Detach();
  if (!done) {
    return Fail("fs", done.error());
  }
  if (verb != "ls") {
    return kExitOk;
  }
  if (format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const volumes::EntryInfo& e : entries) {
      list.push_back({{"name", e.name},
                      {"type", e.type == volumes::EntryType::kDirectory ? "dir" : "file"},
                      {"size", e.size}});
    }
    std::printf("%s\n", nlohmann::json{{"entries", std::move(list)}}.dump().c_str());
    return kExitOk;
  }
  for (const volumes::EntryInfo& e : entries) {
    std::printf("%c %10llu %s\n", e.type == volumes::EntryType::kDirectory ? 'd' : '-',
                static_cast<unsigned long long>(e.size),
                EscapeForTerminal(e.name, TerminalEscaper::Kind::kName).c_str());
  }
  return kExitOk;
}

}  // namespace mvm::cli
