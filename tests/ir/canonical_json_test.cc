#include "ir/canonical_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace mvm::ir {
namespace {

using Json = nlohmann::json;

std::string Number(uint64_t ieee_bits) {
  return CanonicalJson(Json(std::bit_cast<double>(ieee_bits)));
}

// RFC 8785 Appendix B: IEEE 754 bit patterns and their ECMAScript serialisation.
TEST(CanonicalJsonTest, NumbersFollowAppendixB) {
  EXPECT_EQ(Number(0x0000000000000000), "0");
  EXPECT_EQ(Number(0x8000000000000000), "0");  // -0
  EXPECT_EQ(Number(0x0000000000000001), "5e-324");
  EXPECT_EQ(Number(0x8000000000000001), "-5e-324");
  EXPECT_EQ(Number(0x7fefffffffffffff), "1.7976931348623157e+308");
  EXPECT_EQ(Number(0xffefffffffffffff), "-1.7976931348623157e+308");
  EXPECT_EQ(Number(0x4340000000000000), "9007199254740992");
  EXPECT_EQ(Number(0xc340000000000000), "-9007199254740992");
  EXPECT_EQ(Number(0x4430000000000000), "295147905179352830000");
  EXPECT_EQ(Number(0x44b52d02c7e14af5), "9.999999999999997e+22");
  EXPECT_EQ(Number(0x44b52d02c7e14af6), "1e+23");
  EXPECT_EQ(Number(0x44b52d02c7e14af7), "1.0000000000000001e+23");
  EXPECT_EQ(Number(0x444b1ae4d6e2ef4e), "999999999999999700000");
  EXPECT_EQ(Number(0x444b1ae4d6e2ef4f), "999999999999999900000");
  EXPECT_EQ(Number(0x444b1ae4d6e2ef50), "1e+21");
  EXPECT_EQ(Number(0x3eb0c6f7a0b5ed8c), "9.999999999999997e-7");
  EXPECT_EQ(Number(0x3eb0c6f7a0b5ed8d), "0.000001");
  EXPECT_EQ(Number(0x41b3de4355555553), "333333333.3333332");
  EXPECT_EQ(Number(0x41b3de4355555554), "333333333.33333325");
  EXPECT_EQ(Number(0x41b3de4355555555), "333333333.3333333");
  EXPECT_EQ(Number(0x41b3de4355555556), "333333333.3333334");
  EXPECT_EQ(Number(0x41b3de4355555557), "333333333.33333343");
  EXPECT_EQ(Number(0xbecbf647612f3696), "-0.0000033333333333333333");
  EXPECT_EQ(Number(0x43143ff3c1cb0959), "1424953923781206.2");
}

TEST(CanonicalJsonTest, NumberLayoutBoundaries) {
  EXPECT_EQ(CanonicalJson(Json(1e20)), "100000000000000000000");
  EXPECT_EQ(CanonicalJson(Json(1e21)), "1e+21");
  EXPECT_EQ(CanonicalJson(Json(1.5e21)), "1.5e+21");
  EXPECT_EQ(CanonicalJson(Json(1e-6)), "0.000001");
  EXPECT_EQ(CanonicalJson(Json(1e-7)), "1e-7");
  EXPECT_EQ(CanonicalJson(Json(1.25e-7)), "1.25e-7");
  EXPECT_EQ(CanonicalJson(Json(-1.5)), "-1.5");
  EXPECT_EQ(CanonicalJson(Json(2.0)), "2");
  EXPECT_EQ(CanonicalJson(Json(123.456)), "123.456");
}

TEST(CanonicalJsonTest, IntegersPrintExactly) {
  EXPECT_EQ(CanonicalJson(Json(0)), "0");
  EXPECT_EQ(CanonicalJson(Json(-42)), "-42");
  EXPECT_EQ(CanonicalJson(Json(std::numeric_limits<int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(CanonicalJson(Json(std::numeric_limits<uint64_t>::max())), "18446744073709551615");
}

TEST(CanonicalJsonDeathTest, NonFiniteNumbersAreBugs) {
  EXPECT_DEATH(CanonicalJson(Json(std::nan(""))), "CHECK failed");
  EXPECT_DEATH(CanonicalJson(Json(std::numeric_limits<double>::infinity())), "CHECK failed");
}

// RFC 8785 §3.2.2: the example input and its canonical form.
TEST(CanonicalJsonTest, Section322Example) {
  Json input = Json::parse(R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })");
  EXPECT_EQ(CanonicalJson(input),
            "{\"literals\":[null,true,false],"
            "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 §3.2.3: members sort by UTF-16 code units, so U+1F600 (a surrogate pair, 0xD83D...)
// comes before U+FB33 although its UTF-8 bytes sort after.
TEST(CanonicalJsonTest, Section323SortsByUtf16CodeUnits) {
  Json input = Json::parse(R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })");
  EXPECT_EQ(CanonicalJson(input),
            "{\"\\r\":\"Carriage Return\","
            "\"1\":\"One\","
            "\"\xc2\x80\":\"Control\","
            "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
            "\"\xe2\x82\xac\":\"Euro Sign\","
            "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST(CanonicalJsonTest, EscapesOnlyWhatEcmaScriptEscapes) {
  std::string controls;
  for (char c = 0; c < 0x20; ++c) {
    controls.push_back(c);
  }
  EXPECT_EQ(CanonicalJson(Json(controls)),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
            "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
            "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
  EXPECT_EQ(CanonicalJson(Json("a\"b\\c/d\x7f"
                               "\xe2\x80\xa8")),
            "\"a\\\"b\\\\c/d\x7f"
            "\xe2\x80\xa8\"");
}

TEST(CanonicalJsonTest, NestedContainersHaveNoWhitespace) {
  Json input = Json::parse(R"({"b": [1, {"z": {}, "a": []}], "a": {"y": null, "x": false}})");
  EXPECT_EQ(CanonicalJson(input), R"({"a":{"x":false,"y":null},"b":[1,{"a":[],"z":{}}]})");
  EXPECT_EQ(CanonicalJson(Json::array()), "[]");
  EXPECT_EQ(CanonicalJson(Json::object()), "{}");
}

}  // namespace
}  // namespace mvm::ir
