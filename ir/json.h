#ifndef MVM_IR_JSON_H_
#define MVM_IR_JSON_H_

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "ir/module.h"
#include "ir/support/diagnostic.h"
#include "ir/support/source_file.h"

namespace mvm::ir {

struct JsonOptions {
  /// Include `source`/`loc` fields (SourceLoc messages). The digest form has none.
  bool with_locations = true;
};

/// The module's JSON form: proto field names, unset fields / empty lists / empty maps omitted,
/// every number a JSON integer, canonicalised by RFC 8785 (JCS). No trailing newline.
std::string ToCanonicalJson(const Module& module, JsonOptions options = {});

/// Clears every SourceLoc in `message`, found by type, not by name (`Volume.source` is a host path,
/// not a location); true when there was one.
bool ClearSourceLocs(google::protobuf::Message& message);

/// Any proto message (a module, a plan payload) in mvm's JSON form: proto field names, empty lists
/// and objects among members dropped, RFC 8785 canonical. The one place that form is made.
std::string MessageToCanonicalJson(const google::protobuf::Message& message);

/// Reads IR JSON (e.g. from SDK record mode or `mvmctl ir canon`). Every problem (malformed JSON,
/// unknown field, wrong type, float or out-of-int32 number, wrong schema_version) is an
/// `invalid-ir` diagnostic located in `file` at the offending byte; returns false when any was
/// reported. The resulting module has empty LocTables (one per workload), so diagnostics fall back
/// to `source`.
bool FromJson(const SourceFile& file, Module& out, DiagnosticSink& sink);

}  // namespace mvm::ir

#endif  // MVM_IR_JSON_H_
