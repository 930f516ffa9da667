#ifndef MVM_RUNTIME_OCI_REGISTRY_AUTH_H_
#define MVM_RUNTIME_OCI_REGISTRY_AUTH_H_

// The registry client's credentials and challenges: the Docker-style auth file and the
// `WWW-Authenticate` header. Separate from the transport (registry.cc) so both parse without a
// network, in tests.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::oci {

/// A user name and password for one registry. Never printed: no message of this library holds
/// either.
struct RegistryCredentials {
  std::string username;
  std::string password;
};

/// What the auth file search found for one host.
struct AuthLookup {
  std::filesystem::path file;  ///< the auth file read; empty when none exists
  std::optional<RegistryCredentials> credentials;
};

/// The files the default search tries, in order (environment variables that are unset are left
/// out): $MVM_REGISTRY_AUTH, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json,
/// ~/.docker/config.json, $XDG_RUNTIME_DIR/containers/auth.json.
std::vector<std::filesystem::path> DefaultAuthFiles();

/// The credentials for `host` ("127.0.0.1:5000", "docker.io") in `auth_file`, or in the first
/// existing file of DefaultAuthFiles() when it is empty. An `auths` key matches when, without a
/// scheme and path, it is the host; docker.io also matches the keys Docker writes for it
/// (`https://index.docker.io/v1/`, index.docker.io, registry-1.docker.io). An entry gives
/// `auth` (base64 of user:password) or `username` and `password`. An Error when a file named
/// explicitly (`auth_file`, $MVM_REGISTRY_AUTH) is missing, or any file read is unreadable, too
/// large (1 MiB) or not such JSON; the Error names the file, never its content.
ErrorOr<AuthLookup> FindCredentials(const std::filesystem::path& auth_file, std::string_view host);

/// One challenge of a `WWW-Authenticate` header: `Bearer realm="...",service="...",scope="..."`.
struct AuthChallenge {
  std::string scheme;                         ///< lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  ///< keys lowercase, values unquoted
};

/// The first challenge in `header`; nullopt when it is not one.
std::optional<AuthChallenge> ParseAuthChallenge(std::string_view header);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_REGISTRY_AUTH_H_
