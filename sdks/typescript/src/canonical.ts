// RFC 8785 (JCS) canonical JSON for the values Workload IR holds, so the bytes this SDK writes are
// the bytes `mvmctl ir canon` prints. IR numbers are int32, so JCS's number formatting reduces to
// integers; JSON.stringify already escapes strings the way JCS requires, and JavaScript's default
// string order is JCS's member order (UTF-16 code units).

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

export function canonicalJson(value: Json): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new TypeError(`cannot write ${value} as Workload IR JSON: IR numbers are integers`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return "[" + value.map((v: Json) => canonicalJson(v)).join(",") + "]";
  }
  const object = value as { readonly [key: string]: Json };
  const keys = Object.keys(object).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(object[k] as Json)).join(",") + "}";
}
