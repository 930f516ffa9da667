#include "ir/json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/canonical_json.h"
#include "ir/support/check.h"
#include "ir/verify.h"

namespace mvm::ir {
namespace {

namespace pb = google::protobuf;
using Json = nlohmann::json;

bool IsSourceLoc(const pb::FieldDescriptor* field) {
  return field->message_type() == v1::SourceLoc::descriptor();
}

// Maps whose values are not messages cannot hold a SourceLoc; skipping them also avoids switching
// the map's reflection into its slower repeated-field view.
bool MayHoldMessages(const pb::FieldDescriptor* field) {
  if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return false;
  }
  return !field->is_map() ||
         field->message_type()->map_value()->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
}

// Drops empty arrays and objects among object members, innermost first, so that a member left empty
// by the pruning goes too. Array elements stay: dropping one would change what the list means.
void DropEmpty(Json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      DropEmpty(*it);
      if ((it->is_object() || it->is_array()) && it->empty()) {
        it = value.erase(it);
      } else {
        ++it;
      }
    }
  } else if (value.is_array()) {
    for (Json& element : value) {
      DropEmpty(element);
    }
  }
}

// ---- Reading
// ----------------------------------------------------------------------------------------

struct Range {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// Byte ranges recorded while parsing, keyed by JSON Pointer: of every value, and of every member
// name.
struct Positions {
  std::unordered_map<std::string, Range> values;
  std::unordered_map<std::string, Range> keys;
};

struct Problem {
  Range range;
  std::string message;
};

std::string Where(const std::string& pointer) {
  return pointer.empty() ? "the top level" : pointer;
}

// A pointer into the input that publishes how many bytes nlohmann's lexer has consumed.
// nlohmann 3.11 reports positions only with errors; this lets the SAX handler locate every value
// and key too.
class CountingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator() = default;
  CountingIterator(const char* at, const char* begin, size_t* consumed)
      : at_(at), begin_(begin), consumed_(consumed) {}

  reference operator*() const { return *at_; }
  CountingIterator& operator++() {
    ++at_;
    *consumed_ = static_cast<size_t>(at_ - begin_);
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& other) const { return at_ == other.at_; }

 private:
  const char* at_ = nullptr;
  const char* begin_ = nullptr;
  size_t* consumed_ = nullptr;
};

// Builds the DOM like nlohmann's own SAX DOM parser, and records where each value and key is.
// Relies on the lexer's read-ahead: nothing past a string, literal or bracket when its event fires,
// and exactly one byte past a number unless the number ends the input.
class PositionedBuilder {
 public:
  // IR JSON is a few levels deep; the limit keeps pathological input (fuzzers) from making the
  // pointer strings quadratic.
  static constexpr size_t kMaxDepth = 64;

  PositionedBuilder(std::string_view text, const size_t& consumed)
      : text_(text), consumed_(consumed) {}

  bool null() { return Value(nullptr, Literal(4)); }
  bool boolean(bool value) { return Value(value, Literal(value ? 4 : 5)); }
  bool number_integer(Json::number_integer_t value) { return Value(value, Number()); }
  bool number_unsigned(Json::number_unsigned_t value) { return Value(value, Number()); }
  bool number_float(Json::number_float_t value, const std::string& /*raw*/) {
    return Value(value, Number());
  }
  bool string(std::string& value) { return Value(std::move(value), String()); }
  bool binary(Json::binary_t& /*value*/) { return false; }  // JSON text has no binary values
  bool start_object(size_t /*size*/) { return Open(Json::object()); }
  bool start_array(size_t /*size*/) { return Open(Json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(std::string& name) {
    Frame& top = stack_.back();
    Range range = String();
    std::string member = top.pointer + "/" + EscapePointerToken(name);
    if (top.value->contains(name)) {
      problems_.push_back({range, "duplicate field `" + name + "` at " + Where(top.pointer)});
    }
    positions_.keys[member] = range;
    top.key = std::move(name);
    return true;
  }

  bool parse_error(size_t position, const std::string& /*last_token*/, const Json::exception& ex) {
    // `position` counts the bytes read including the offending one.
    uint32_t at = static_cast<uint32_t>(position > 0 ? position - 1 : 0);
    // Drop nlohmann's "[json.exception...] parse error at line L, column C: " prefix: the
    // diagnostic carries the location itself.
    std::string_view what = ex.what();
    if (size_t column = what.find("column "); column != std::string_view::npos) {
      if (size_t colon = what.find(": ", column); colon != std::string_view::npos) {
        what.remove_prefix(colon + 2);
      }
    }
    problems_.push_back({{at, at + 1}, "malformed JSON: " + std::string(what)});
    return false;
  }

  Json& root() { return root_; }
  const Positions& positions() const { return positions_; }
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  struct Frame {
    Json* value;
    std::string pointer;
    uint32_t begin;
    std::string key;  // of the member being read, in objects
    size_t next_index = 0;
  };

  uint32_t consumed() const { return static_cast<uint32_t>(consumed_); }

  Range Literal(uint32_t length) const { return {consumed() - length, consumed()}; }

  Range Number() const {
    auto is_number_char = [](char c) {
      return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
    };
    uint32_t end = consumed();
    if (end > 0 && !is_number_char(text_[end - 1])) {
      --end;  // the lexer's one byte of read-ahead
    }
    uint32_t begin = end;
    while (begin > 0 && is_number_char(text_[begin - 1])) {
      --begin;
    }
    return {begin, end};
  }

  // The lexer stops right after the closing quote; the opening quote is the nearest earlier quote
  // not escaped by an odd run of backslashes.
  Range String() const {
    uint32_t end = consumed();
    uint32_t begin = end > 0 ? end - 1 : 0;
    while (begin > 0) {
      --begin;
      if (text_[begin] != '"') {
        continue;
      }
      uint32_t slashes = 0;
      while (slashes < begin && text_[begin - 1 - slashes] == '\\') {
        ++slashes;
      }
      if (slashes % 2 == 0) {
        break;
      }
    }
    return {begin, end};
  }

  // Stores `value` in the open container (or as the root); returns where it went and its pointer.
  // Pointers to values stay valid while they are on the stack: only the innermost container grows.
  std::pair<Json*, std::string> Place(Json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return {&root_, ""};
    }
    Frame& top = stack_.back();
    if (top.value->is_array()) {
      top.value->push_back(std::move(value));
      return {&top.value->back(), top.pointer + "/" + std::to_string(top.next_index++)};
    }
    Json& slot = (*top.value)[top.key];
    slot = std::move(value);
    return {&slot, top.pointer + "/" + EscapePointerToken(top.key)};
  }

  bool Value(Json value, Range range) {
    auto [slot, pointer] = Place(std::move(value));
    positions_.values[pointer] = range;
    return true;
  }

  bool Open(Json container) {
    uint32_t begin = consumed() - 1;
    if (stack_.size() >= kMaxDepth) {
      problems_.push_back(
          {{begin, begin + 1}, "nesting deeper than " + std::to_string(kMaxDepth) + " levels"});
      return false;
    }
    auto [slot, pointer] = Place(std::move(container));
    stack_.push_back({slot, std::move(pointer), begin, {}});
    return true;
  }

  bool Close() {
    Frame& top = stack_.back();
    positions_.values[top.pointer] = {top.begin, consumed()};
    stack_.pop_back();
    return true;
  }

  std::string_view text_;
  const size_t& consumed_;
  Json root_;
  std::vector<Frame> stack_;
  Positions positions_;
  std::vector<Problem> problems_;
};

// Fills a proto from parsed JSON by walking the message descriptors, so every mismatch is reported
// with its JSON Pointer and position (protobuf's JsonStringToMessage gives neither).
class Reader {
 public:
  Reader(const SourceFile& file, const Positions& positions, DiagnosticSink& sink)
      : file_(file), positions_(positions), sink_(sink) {}

  bool ok() const { return ok_; }

  void ReadMessage(const Json& json, const std::string& pointer, pb::Message& message) {
    if (!json.is_object()) {
      Mismatch("an object", json, pointer);
      return;
    }
    const pb::Descriptor* descriptor = message.GetDescriptor();
    for (const auto& [name, value] : json.items()) {
      std::string member = pointer + "/" + EscapePointerToken(name);
      const pb::FieldDescriptor* field = descriptor->FindFieldByName(name);
      if (field == nullptr) {
        ReportAt(KeyRange(member), "unknown field `" + name + "` at " + Where(pointer) +
                                       "; known fields: " + KnownFields(descriptor));
        continue;
      }
      ReadField(value, member, field, message);
    }
    if (descriptor == v1::SourceLoc::descriptor()) {
      std::string problem = SourceLocProblem(static_cast<const v1::SourceLoc&>(message));
      if (!problem.empty()) {
        ReportAt(ValueRange(pointer), "source location at " + Where(pointer) + ": " + problem);
      }
    }
  }

  void Report(const std::string& pointer, std::string message) {
    ReportAt(ValueRange(pointer), std::move(message));
  }

 private:
  void ReadField(const Json& json, const std::string& pointer, const pb::FieldDescriptor* field,
                 pb::Message& message) {
    const pb::Reflection* reflection = message.GetReflection();
    if (field->is_map()) {
      if (!json.is_object()) {
        Mismatch("an object", json, pointer);
        return;
      }
      const pb::FieldDescriptor* key_field = field->message_type()->map_key();
      // workload.proto keys every map by string; other key types would need parsing here.
      MVM_CHECK(key_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING);
      for (const auto& [key, value] : json.items()) {
        pb::Message* entry = reflection->AddMessage(&message, field);
        entry->GetReflection()->SetString(entry, key_field, key);
        ReadSingle(value, pointer + "/" + EscapePointerToken(key),
                   field->message_type()->map_value(), *entry, /*add=*/false);
      }
    } else if (field->is_repeated()) {
      if (!json.is_array()) {
        Mismatch("an array", json, pointer);
        return;
      }
      for (size_t i = 0; i < json.size(); ++i) {
        ReadSingle(json[i], pointer + "/" + std::to_string(i), field, message, /*add=*/true);
      }
    } else {
      ReadSingle(json, pointer, field, message, /*add=*/false);
    }
  }

  // Reads one value of `field`: the field itself, or one more element when `add`.
  void ReadSingle(const Json& json, const std::string& pointer, const pb::FieldDescriptor* field,
                  pb::Message& message, bool add) {
    const pb::Reflection* reflection = message.GetReflection();
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        ReadMessage(json, pointer,
                    add ? *reflection->AddMessage(&message, field)
                        : *reflection->MutableMessage(&message, field));
        return;
      case pb::FieldDescriptor::CPPTYPE_STRING:
        // Bytes would be base64 in JSON; the IR has none.
        MVM_CHECK(field->type() == pb::FieldDescriptor::TYPE_STRING);
        if (!json.is_string()) {
          Mismatch("a string", json, pointer);
        } else if (add) {
          reflection->AddString(&message, field, json.get<std::string>());
        } else {
          reflection->SetString(&message, field, json.get<std::string>());
        }
        return;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        if (!json.is_boolean()) {
          Mismatch("a boolean", json, pointer);
        } else if (add) {
          reflection->AddBool(&message, field, json.get<bool>());
        } else {
          reflection->SetBool(&message, field, json.get<bool>());
        }
        return;
      case pb::FieldDescriptor::CPPTYPE_INT32: {
        int32_t value = 0;
        if (Integer(json, pointer, value)) {
          add ? reflection->AddInt32(&message, field, value)
              : reflection->SetInt32(&message, field, value);
        }
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t value = 0;
        if (Integer(json, pointer, value)) {
          add ? reflection->AddUInt32(&message, field, value)
              : reflection->SetUInt32(&message, field, value);
        }
        return;
      }
      case pb::FieldDescriptor::CPPTYPE_INT64:
      case pb::FieldDescriptor::CPPTYPE_UINT64:
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        break;
    }
    // The IR is int32-only so that its JSON numbers are plain integers (ir/workload.proto), and its
    // enum-like values are strings; a field of another type is a schema change this reader must
    // learn.
    MVM_CHECK(false && "IR field type not supported by the JSON reader");
  }

  template <typename Int>
  bool Integer(const Json& json, const std::string& pointer, Int& out) {
    if (!json.is_number_integer()) {
      Mismatch("an integer", json, pointer);
      return false;
    }
    bool in_range = json.is_number_unsigned()
                        ? json.get<uint64_t>() <= uint64_t{std::numeric_limits<Int>::max()}
                        : json.get<int64_t>() >= int64_t{std::numeric_limits<Int>::min()} &&
                              json.get<int64_t>() <= int64_t{std::numeric_limits<Int>::max()};
    if (!in_range) {
      Report(pointer, std::string("expected ") +
                          (std::numeric_limits<Int>::is_signed ? "a 32-bit integer"
                                                               : "an unsigned 32-bit integer") +
                          " at " + Where(pointer) + ", got " + Describe(json, pointer));
      return false;
    }
    out = json.is_number_unsigned() ? static_cast<Int>(json.get<uint64_t>())
                                    : static_cast<Int>(json.get<int64_t>());
    return true;
  }

  void Mismatch(std::string_view expected, const Json& json, const std::string& pointer) {
    Report(pointer, "expected " + std::string(expected) + " at " + Where(pointer) + ", got " +
                        Describe(json, pointer));
  }

  // Containers by kind; scalars as written, so `2.5` and `"2"` read as the user typed them.
  std::string Describe(const Json& json, const std::string& pointer) const {
    if (json.is_object()) {
      return "an object";
    }
    if (json.is_array()) {
      return "an array";
    }
    constexpr size_t kMaxShown = 40;
    std::string_view text;
    if (auto it = positions_.values.find(pointer); it != positions_.values.end()) {
      text = file_.contents().substr(it->second.begin, it->second.end - it->second.begin);
    }
    std::string shown = text.empty() ? json.dump() : std::string(text);
    if (shown.size() > kMaxShown) {
      size_t cut = kMaxShown;
      while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) {
        --cut;  // keep whole UTF-8 sequences
      }
      shown.resize(cut);
      shown += "…";
    }
    return shown;
  }

  static std::string KnownFields(const pb::Descriptor* descriptor) {
    std::vector<std::string> names;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      names.push_back(descriptor->field(i)->name());
    }
    std::sort(names.begin(), names.end());
    std::string out;
    for (const std::string& name : names) {
      out += out.empty() ? name : ", " + name;
    }
    return out;
  }

  Range ValueRange(const std::string& pointer) const {
    auto it = positions_.values.find(pointer);
    return it == positions_.values.end() ? Range{} : it->second;
  }
  Range KeyRange(const std::string& pointer) const {
    auto it = positions_.keys.find(pointer);
    return it == positions_.keys.end() ? ValueRange(pointer) : it->second;
  }

  void ReportAt(Range range, std::string message) {
    sink_.Emit<DiagnosticKind::kInvalidIr>(file_.Loc(range.begin, range.end), std::move(message));
    ok_ = false;
  }

  const SourceFile& file_;
  const Positions& positions_;
  DiagnosticSink& sink_;
  bool ok_ = true;
};

}  // namespace

bool ClearSourceLocs(pb::Message& message) {
  bool cleared = false;
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (!MayHoldMessages(field)) {
      continue;
    }
    if (IsSourceLoc(field)) {
      cleared |= field->is_repeated() ? reflection->FieldSize(message, field) > 0
                                      : reflection->HasField(message, field);
      reflection->ClearField(&message, field);
    } else if (field->is_repeated()) {
      for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
        cleared |= ClearSourceLocs(*reflection->MutableRepeatedMessage(&message, field, k));
      }
    } else if (reflection->HasField(message, field)) {
      cleared |= ClearSourceLocs(*reflection->MutableMessage(&message, field));
    }
  }
  return cleared;
}

std::string ToCanonicalJson(const Module& module, JsonOptions options) {
  const v1::Module* proto = &module.proto;
  v1::Module stripped;
  if (!options.with_locations) {
    stripped = module.proto;
    ClearSourceLocs(stripped);
    proto = &stripped;
  }
  return MessageToCanonicalJson(*proto);
}

std::string MessageToCanonicalJson(const pb::Message& message) {
  pb::util::JsonPrintOptions print_options;
  print_options.preserve_proto_field_names = true;
  std::string text;
  MVM_CHECK(pb::util::MessageToJsonString(message, &text, print_options).ok());
  Json json = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  MVM_CHECK(!json.is_discarded());
  DropEmpty(json);
  return CanonicalJson(json);
}

bool FromJson(const SourceFile& file, Module& out, DiagnosticSink& sink) {
  std::string_view text = file.contents();
  size_t consumed = 0;
  PositionedBuilder builder(text, consumed);
  CountingIterator begin(text.data(), text.data(), &consumed);
  CountingIterator end(text.data() + text.size(), text.data(), &consumed);
  bool parsed = Json::sax_parse(begin, end, &builder);
  for (const Problem& problem : builder.problems()) {
    sink.Emit<DiagnosticKind::kInvalidIr>(file.Loc(problem.range.begin, problem.range.end),
                                          problem.message);
  }
  if (!parsed) {
    return false;
  }

  const Json& root = builder.root();
  Reader reader(file, builder.positions(), sink);
  v1::Module proto;
  reader.ReadMessage(root, "", proto);
  if (root.is_object()) {
    if (!root.contains("schema_version")) {
      reader.Report("", "missing `schema_version` at the top level; expected \"" +
                            std::string(kSchemaVersion) + "\"");
    } else if (root["schema_version"].is_string() && proto.schema_version() != kSchemaVersion) {
      reader.Report("/schema_version", "`schema_version` must be \"" + std::string(kSchemaVersion) +
                                           "\", got " + root["schema_version"].dump());
    }
  }
  if (!reader.ok() || !builder.problems().empty()) {
    return false;
  }
  out.proto = std::move(proto);
  out.locs.assign(static_cast<size_t>(out.proto.workloads_size()), LocTable{});
  // Diagnostics of later passes point into this file: every value of a workload is located at its
  // JSON text, under the same pointers the frontends use ("/resources/cpu"), and the workload
  // itself at its object.
  constexpr std::string_view kPrefix = "/workloads/";
  for (const auto& [pointer, range] : builder.positions().values) {
    if (!pointer.starts_with(kPrefix)) {
      continue;
    }
    std::string_view rest = std::string_view(pointer).substr(kPrefix.size());
    size_t slash = rest.find('/');
    std::string_view index_text = rest.substr(0, slash);
    size_t index = 0;
    for (char c : index_text) {
      index = index * 10 + static_cast<size_t>(c - '0');
    }
    if (index_text.empty() || index >= out.locs.size()) {
      continue;
    }
    std::string relative = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
    out.locs[index].Set(std::move(relative), file.Loc(range.begin, range.end));
  }
  return true;
}

}  // namespace mvm::ir
