// Within its limits (integers within +/-(2^53-1), ASCII keys) capgate's
// canonical form is RFC 8785 (JCS): checked against the off-the-shelf
// `canonicalize` package on the wire vectors and on generated values.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import canonicalize from "canonicalize";

import { canonicalText } from "../dist/index.js";

const vectors = JSON.parse(readFileSync(new URL("../../../docs/wire-vectors.json", import.meta.url), "utf8")).vectors;

// A small deterministic generator (mulberry32), so a failure can be replayed.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const CHARS = ["a", "Z", "_", "\"", "\\", "/", "\n", "\t", "\b", "\f", "\r", "\u0000", "\u001f", "\u007f", "é", "—", "\u2028", "日", "🎉", "\ud83d\udd11"];
function value(next, depth) {
  const pick = Math.floor(next() * (depth > 4 ? 5 : 7));
  const text = (n) => Array.from({ length: n }, () => CHARS[Math.floor(next() * CHARS.length)]).join("");
  switch (pick) {
    case 0: return null;
    case 1: return next() < 0.5;
    case 2: return Math.floor((next() * 2 - 1) * Number.MAX_SAFE_INTEGER);
    case 3: return Math.floor(next() * 2000) - 1000;
    case 4: return text(Math.floor(next() * 8));
    case 5: return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default: {
      const out = {};
      for (let i = Math.floor(next() * 5); i > 0; i--) out[Math.floor(next() * 1e6).toString(36) + "_" + "Za".charAt(i % 2)] = value(next, depth + 1);
      return out;
    }
  }
}

test("the wire vectors' canonical bytes are RFC 8785 output", () => {
  for (const v of vectors) {
    const { signature, ...unsigned } = v.envelope;
    assert.equal(canonicalize(unsigned), v.canonical, v.name);
  }
});

test("canonicalText equals RFC 8785 on 5,000 generated values within the limits", () => {
  const next = rng(20);
  for (let i = 0; i < 5000; i++) {
    const v = value(next, 0);
    assert.equal(canonicalText(v), canonicalize(v), JSON.stringify(v));
  }
});
