// How `mvmctl plan inspect` and `plan diff` spell what a plan runs: commands, environment values
// and file paths come from whoever wrote the plan, so a reviewer must see them exactly and a
// terminal must not be able to hide any of it.
#ifndef MVM_BACKEND_EMIT_PLAN_REVIEW_TEXT_H_
#define MVM_BACKEND_EMIT_PLAN_REVIEW_TEXT_H_

#include <string>
#include <string_view>

#include "ir/plan.pb.h"

namespace mvm::plan {

/// `word` as a POSIX shell would read it back: bare when it holds only `A-Za-z0-9_@%+=:,./-`,
/// else single-quoted; when it holds a byte outside printable ASCII (a control character, an
/// escape sequence, any non-ASCII byte such as a bidi override), as `$'...'` with that byte as
/// `\xHH`, so nothing in a command can rewrite what the terminal shows.
std::string ShellWord(std::string_view word);

/// The argv `command` as one line of ShellWords; `(none)` when it is empty.
std::string CommandText(const google::protobuf::RepeatedPtrField<std::string>& command);

/// `name: COMMAND`, and ` (timeout N s)` when the entrypoint has its own.
std::string EntrypointText(const ir::v1::Entrypoint& entrypoint);

/// `name: COMMAND`, and ` (port N)` when the service declares one.
std::string ServiceText(const ir::v1::Service& service);

/// `path sha256:... (N bytes)` of a file the plan ships.
std::string FileText(const ir::v1::File& file);

/// True when an environment variable's name suggests it holds a credential (it contains TOKEN,
/// SECRET, PASSWORD, PASSWD, PASSPHRASE, API_KEY, APIKEY, PRIVATE, CREDENTIAL or AUTH, in any
/// case). Secrets belong in `secrets=` as SecretRefs, which a plan holds by name only; plain `env`
/// values are in the plan as written, and review output prints them except for such names.
bool LooksLikeCredential(std::string_view env_name);

/// `NAME=VALUE` (the value a ShellWord), or `NAME=(value hidden)` when LooksLikeCredential(NAME).
std::string EnvText(std::string_view name, std::string_view value);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_REVIEW_TEXT_H_
