#include "ir/module.h"

namespace mvm::ir {

bool IsWorkloadId(std::string_view id) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (id.empty() || id.size() > 63 || !lower_alnum(id.front())) {
    return false;
  }
  for (char c : id) {
    if (!lower_alnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

SourceLoc LocTable::Find(std::string_view pointer) const {
  std::string key(pointer);
  while (true) {
    if (auto it = locs_.find(key); it != locs_.end()) {
      return it->second;
    }
    if (key.empty()) {
      return {};
    }
    size_t slash = key.rfind('/');
    key.resize(slash == std::string::npos ? 0 : slash);
  }
}

SourceLoc Module::Loc(int index, std::string_view pointer) const {
  if (index >= 0 && static_cast<size_t>(index) < locs.size()) {
    SourceLoc loc = locs[index].Find(pointer);
    if (loc.valid()) {
      return loc;
    }
  }
  if (index >= 0 && index < proto.workloads_size()) {
    return FromProto(proto.workloads(index).source());
  }
  return {};
}

void Module::Append(Module other) {
  for (int i = 0; i < other.proto.workloads_size(); ++i) {
    *proto.add_workloads() = std::move(*other.proto.mutable_workloads(i));
    locs.push_back(i < static_cast<int>(other.locs.size()) ? std::move(other.locs[i]) : LocTable{});
  }
}

SourceLoc FromProto(const v1::SourceLoc& loc) {
  SourceLoc out{loc.file(), static_cast<uint32_t>(loc.line()), static_cast<uint32_t>(loc.column()),
                static_cast<uint32_t>(loc.end_line()), static_cast<uint32_t>(loc.end_column())};
  if (out.end_line == 0) {
    // IR written by hand or by an SDK may give only a start; read it as an empty range there.
    out.end_line = out.line;
    out.end_column = out.column;
  }
  return out;
}

v1::SourceLoc ToProto(const SourceLoc& loc) {
  v1::SourceLoc out;
  out.set_file(loc.file);
  out.set_line(static_cast<int32_t>(loc.line));
  out.set_column(static_cast<int32_t>(loc.column));
  out.set_end_line(static_cast<int32_t>(loc.end_line));
  out.set_end_column(static_cast<int32_t>(loc.end_column));
  return out;
}

}  // namespace mvm::ir
