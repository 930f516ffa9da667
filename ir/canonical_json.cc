#include "ir/canonical_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/check.h"

namespace mvm::ir {
namespace {

using Json = nlohmann::json;

// RFC 8785 orders members by the UTF-16 code units of their names, which differs from UTF-8 byte
// order once characters outside the BMP meet ones in U+E000..U+FFFF. Input that is not valid UTF-8
// (possible for values built in code, never for parsed text) maps each stray byte to one unit so
// that sorting is still total and deterministic.
std::u16string ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char lead = byte(i);
    size_t len = lead < 0x80           ? 1
                 : (lead >> 5) == 0x6  ? 2
                 : (lead >> 4) == 0xE  ? 3
                 : (lead >> 3) == 0x1E ? 4
                                       : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (byte(i + k) & 0xC0) == 0x80;
    }
    if (!ok) {
      out.push_back(lead);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? lead : len == 2 ? lead & 0x1F : len == 3 ? lead & 0x0F : lead & 0x07;
    for (size_t k = 1; k < len; ++k) {
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += len;
  }
  return out;
}

void AppendString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
          out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// ECMAScript Number::toString (ECMA-262 §6.1.6.1.20), which RFC 8785 §3.2.2.3 adopts. std::to_chars
// gives the same shortest round-trip digits; only the layout rules differ.
void AppendDouble(double value, std::string& out) {
  MVM_CHECK(std::isfinite(value));
  if (value == 0) {  // also -0, which ECMAScript prints as "0"
    out.push_back('0');
    return;
  }
  if (value < 0) {
    out.push_back('-');
    value = -value;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  MVM_CHECK(ec == std::errc());
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  size_t e = sci.find('e');
  MVM_CHECK(e != std::string_view::npos);
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e + 1);
  if (!exp_text.empty() && exp_text.front() == '+') {
    exp_text.remove_prefix(1);
  }
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  // In ECMA-262's terms: value = digits × 10^(n − k).
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 < 0 ? '-' : '+');
    out += std::to_string(n - 1 < 0 ? 1 - n : n - 1);
  }
}

void Append(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_integer:
      out += std::to_string(value.get<int64_t>());
      return;
    case Json::value_t::number_unsigned:
      out += std::to_string(value.get<uint64_t>());
      return;
    case Json::value_t::number_float:
      AppendDouble(value.get<double>(), out);
      return;
    case Json::value_t::string:
      AppendString(value.get_ref<const std::string&>(), out);
      return;
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const Json& element : value) {
        if (!first) {
          out.push_back(',');
        }
        first = false;
        Append(element, out);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::object: {
      std::vector<std::pair<std::u16string, Json::const_iterator>> members;
      members.reserve(value.size());
      for (auto it = value.begin(); it != value.end(); ++it) {
        members.emplace_back(ToUtf16(it.key()), it);
      }
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      bool first = true;
      for (const auto& [unused, it] : members) {
        if (!first) {
          out.push_back(',');
        }
        first = false;
        AppendString(it.key(), out);
        out.push_back(':');
        Append(it.value(), out);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  // Binary and discarded values have no JSON text; only a bug in mvm could produce them here.
  MVM_CHECK(false && "binary or discarded value has no JSON form");
}

}  // namespace

std::string CanonicalJson(const nlohmann::json& value) {
  std::string out;
  Append(value, out);
  return out;
}

}  // namespace mvm::ir
