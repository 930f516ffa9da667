// `mvmctl fs s3://BUCKET/PREFIX VERB PATH --endpoint URL --credentials SECRET` and
// `mvmctl fs encrypted:NAME VERB PATH`: the files of an API-only volume (an object volume, or the
// API-only encrypted store NAME), through the volume backend contract (runtime/volumes/volume.h)
// rather than an agent. VERB is read, write, ls, stat, rm or mv (`mv FROM TO`). Reads and writes
// stream in 1 MiB chunks, so a large file never sits whole in memory; every operation reaches the
// audit log, aggregated (runtime/volumes/volume_audit.h).

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

namespace {

constexpr char kEncryptedPrefix[] = "encrypted:";

std::string VolumePath(std::string path) {
  // The volume's root, as a shell user would name it.
  return path == "/" || path == "." ? std::string() : path;
}

const char* TypeName(volumes::EntryType type) {
  switch (type) {
    case volumes::EntryType::kDirectory:
      return "dir";
    case volumes::EntryType::kFile:
      return "file";
    case volumes::EntryType::kOther:
      break;
  }
  return "other";
}

nlohmann::json EntryJson(const volumes::EntryInfo& e) {
  return {{"name", e.name}, {"type", TypeName(e.type)}, {"size", e.size}};
}

void PrintEntry(const volumes::EntryInfo& e) {
  std::printf("%c %10llu %s\n", e.type == volumes::EntryType::kDirectory ? 'd' : '-',
              static_cast<unsigned long long>(e.size),
              EscapeForTerminal(e.name, TerminalEscaper::Kind::kName).c_str());
}

}  // namespace

bool IsVolumeAddress(std::string_view target) {
  return target.starts_with("s3://") || target.starts_with(kEncryptedPrefix);
}

int RunFsOnVolume(Args& args) {
  const std::string& address = args.positional[0];
  const std::string& verb = args.positional[1];
  const std::string path = VolumePath(args.positional[2]);
  const bool object = address.starts_with("s3://");
  if (verb != "read" && verb != "write" && verb != "ls" && verb != "stat" && verb != "rm" &&
      verb != "mv") {
    return Fail("fs", MakeError(ErrorKind::kUsage, "unknown action `" + verb +
                                                       "`; use read, write, ls, stat, rm or mv"));
  }
  if ((verb == "mv") != (args.positional.size() == 4)) {
    return Fail(
        "fs", MakeError(ErrorKind::kUsage,
                        verb == "mv" ? std::string("expected `mv FROM TO`: a path and its new path")
                                     : "expected " + address + " " + verb + " PATH"));
  }
  const std::string format = args.Get("format", "human");
  if (format != "human" && format != "json") {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "unknown format `" + format + "`; use `human` or `json`"));
  }
  if (format == "json" && verb != "ls" && verb != "stat") {
    return Fail(
        "fs", MakeError(ErrorKind::kUsage, "`--format json` is only for `ls` and `stat`; `" + verb +
                                               "` prints no listing"));
  }
  if (object && (!args.Has("endpoint") || !args.Has("credentials"))) {
    return Fail("fs", MakeError(ErrorKind::kUsage,
                                "an object volume needs `--endpoint URL` (the S3 API, as "
                                "`Volume.object(endpoint=...)` names it) and `--credentials "
                                "SECRET` (a secret of the host store holding "
                                "`ACCESS_KEY_ID:SECRET_ACCESS_KEY`; `mvmctl secret set`)"));
  }
  if (!object) {
    for (const char* flag : {"endpoint", "credentials", "region"}) {
      if (args.Has(flag)) {
        return Fail("fs", MakeError(ErrorKind::kUsage,
                                    std::string("`--") + flag +
                                        "` is for object volumes (`mvmctl fs s3://BUCKET/PREFIX "
                                        "…`); an encrypted store takes its key from the host "
                                        "secret store"));
      }
    }
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
  if (object) {
    spec.backend = "object";
    spec.source = address;
    spec.endpoint = args.Get("endpoint", "");
    spec.region = args.Get("region", spec.region);
    spec.credentials_secret = args.Get("credentials", "");
  } else {
    spec.backend = "encrypted";
    spec.source = address.substr(sizeof kEncryptedPrefix - 1);
  }
  spec.read_only = verb == "read" || verb == "ls" || verb == "stat";
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
  } else if (verb == "stat") {
    auto stat = (*volume)->Stat(path);
    if (stat) {
      // Named as `ls` names it: the last component (the root has none).
      stat->name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
      entries.push_back(std::move(*stat));
    } else {
      done = stat.error();
    }
  } else if (verb == "mv") {
    done = (*volume)->Rename(path, VolumePath(args.positional[3]));
  } else {
    auto removed = (*volume)->Remove(path, args.Has("r"));
    done = removed ? ErrorOr<Ok>(Ok{}) : ErrorOr<Ok>(removed.error());
  }
  (void)(*volume)->Detach();
  if (!done) {
    return Fail("fs", done.error());
  }
  if (verb != "ls" && verb != "stat") {
    return kExitOk;
  }
  if (format == "json") {
    if (verb == "stat") {
      std::printf("%s\n", EntryJson(entries.at(0)).dump().c_str());
      return kExitOk;
    }
    nlohmann::json list = nlohmann::json::array();
    for (const volumes::EntryInfo& e : entries) {
      list.push_back(EntryJson(e));
    }
    std::printf("%s\n", nlohmann::json{{"entries", std::move(list)}}.dump().c_str());
    return kExitOk;
  }
  for (const volumes::EntryInfo& e : entries) {
    PrintEntry(e);
  }
  return kExitOk;
}

}  // namespace mvm::cli
