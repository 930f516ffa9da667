"""The IR writer is RFC 8785 (JCS): the bytes must match mvmctl's for the same module."""

import json
import unittest

from mvm._canonical import canonical_json


class CanonicalJsonTest(unittest.TestCase):
    def test_members_sorted_by_utf16_code_units_not_code_points(self):
        # U+1D11E (a surrogate pair, D834 DD1E) sorts before U+FB01 in UTF-16, after it by code
        # point: JCS goes by UTF-16.
        self.assertEqual(canonical_json({"\ufb01": 1, "\U0001d11e": 2, "b": 3, "a": 4, "": 5}),
                         '{"":5,"a":4,"b":3,"\U0001d11e":2,"\ufb01":1}')

    def test_strings_escaped_as_json_stringify_does(self):
        self.assertEqual(canonical_json("\"\\\b\f\n\r\t\x00\x1f\x7f é ☃ 𝄞 </"),
                         '"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\x7f é ☃ 𝄞 </"')

    def test_no_whitespace_and_nesting(self):
        value = {"b": [1, -2, {"y": True, "x": None}], "a": {"z": False}}
        self.assertEqual(canonical_json(value), '{"a":{"z":false},"b":[1,-2,{"x":null,"y":true}]}')
        self.assertEqual(json.loads(canonical_json(value)), value)

    def test_floats_and_other_values_are_refused(self):
        for bad in (1.5, {1: "x"}, object()):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                canonical_json(bad)


if __name__ == "__main__":
    unittest.main()
