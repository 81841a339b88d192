/**
 * The canonical byte form of a JSON value (docs/wire-format.md section 3).
 *
 * Sorted ASCII keys, no white space, integers only within +/-(2^53-1),
 * depth at most 32. JSON.stringify already escapes strings exactly as the
 * rules require (lower-case \u00xx, "/" and non-ASCII left as themselves).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_DEPTH = 32;

/** Raised for a value that has no canonical form (a float, a non-ASCII key...). */
export class CanonicalError extends Error {
  override name = "CanonicalError";
}

function hasLoneSurrogate(text: string): boolean {
  // isWellFormed is Node 20+; a lone surrogate would be written as \udxxx.
  return !(text as string & { isWellFormed(): boolean }).isWellFormed();
}

function encode(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalError(`nesting deeper than ${MAX_DEPTH} levels`);
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "string") {
    if (hasLoneSurrogate(value)) throw new CanonicalError("a string holds a lone surrogate");
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new CanonicalError(`only integers within +/-(2^53-1) are allowed, got ${value}`);
    }
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (Array.isArray(value)) return "[" + value.map((item) => encode(item, depth + 1)).join(",") + "]";
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    // Code-point order equals UTF-16 order for ASCII keys, so the default sort is right.
    const keys = Object.keys(record).sort();
    const members = keys.map((key) => {
      if (!/^[\x00-\x7f]*$/.test(key)) throw new CanonicalError(`object key ${JSON.stringify(key)} is not ASCII`);
      return JSON.stringify(key) + ":" + encode(record[key], depth + 1);
    });
    return "{" + members.join(",") + "}";
  }
  throw new CanonicalError(`a ${typeof value} has no JSON form`);
}

/** The canonical text of `value`; its UTF-8 bytes are what gets signed. */
export function canonicalText(value: unknown): string {
  return encode(value, 0);
}

/** The canonical UTF-8 bytes of `value`. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalText(value), "utf8");
}
