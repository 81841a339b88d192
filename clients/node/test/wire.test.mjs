// The package against docs/wire-format.md: the test vectors (section 6),
// the message shape (section 8.2) and the catalog drift check.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { CanonicalError, buildEnvelope, canonicalText, commandMessage, errorFromResult, PluginServiceError, queueFor, signatureOf } from "../dist/index.js";

const vectors = JSON.parse(readFileSync(new URL("../../../docs/wire-vectors.json", import.meta.url), "utf8")).vectors;

test("canonical form and signature match every wire-format test vector", () => {
  assert.ok(vectors.length >= 3);
  for (const v of vectors) {
    const { signature, ...unsigned } = v.envelope;
    assert.equal(canonicalText(unsigned), v.canonical, v.name);
    assert.equal(signatureOf(v.envelope, v.key_secret), v.signature, v.name);
  }
});

test("values without a canonical form are refused", () => {
  for (const bad of [1.5, 2 ** 53, NaN, Infinity, { "é": 1 }, "\ud800", [undefined]]) {
    assert.throws(() => canonicalText(bad), CanonicalError, String(bad));
  }
  let deep = 0;
  for (let i = 0; i < 33; i++) deep = [deep];
  assert.throws(() => canonicalText(deep), CanonicalError);
});

test("a built envelope verifies and is published as section 8.2's message", () => {
  const key = { keyId: "key_1", secret: "s3cret" };
  const context = { plugin_name: "p", plugin_id: "plg_1", capability_id: "cap_1", capability_key: "digest", execution_kind: "action" };
  const envelope = buildEnvelope({ operation: "users.revoke_sessions", payload: { user_id: "u-bob" }, context, key, issuedAt: new Date("2026-01-02T03:04:06Z") });
  assert.equal(envelope.issued_at, "2026-01-02T03:04:06.000000Z");
  assert.equal(envelope.expires_at, "2026-01-02T03:09:06.000000Z");
  assert.equal(envelope.idempotency_key, envelope.command_id);
  assert.equal(signatureOf(envelope, key.secret), envelope.signature);

  const out = commandMessage(envelope, queueFor(envelope.operation));
  assert.equal(out.queue, "capgate.users");
  const message = JSON.parse(out.text);
  assert.equal(message["content-type"], "application/json");
  assert.equal(message.properties.body_encoding, "base64");
  assert.deepEqual(message.properties.delivery_info, { exchange: "capgate", routing_key: "capgate.users" });
  assert.equal(message.headers.task, "capgate.users.revoke_sessions");
  assert.equal(message.headers.id, envelope.command_id);
  assert.equal(message.properties.correlation_id, envelope.command_id);
  assert.equal(typeof message.properties.delivery_tag, "string");
  assert.ok(!message.headers.argsrepr.includes("u-bob"), "argsrepr must not carry the payload");
  const body = JSON.parse(Buffer.from(message.body, "base64").toString("utf8"));
  assert.deepEqual(body, [[JSON.stringify(envelope)], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
});

test("an unknown operation has no queue", () => {
  assert.throws(() => queueFor("users.explode"), /not in capgate's catalog/);
});

test("stored failures become a typed PluginServiceError", () => {
  const documented = errorFromResult({ kind: "RATE_LIMIT", code: "rate_limited", message: "slow down", retry_after_ms: 500, status: 429, details: { scope: "users:write" } });
  assert.ok(documented instanceof PluginServiceError);
  assert.deepEqual([documented.kind, documented.code, documented.retryAfterMs, documented.retryable, documented.details], ["RATE_LIMIT", "rate_limited", 500, true, { scope: "users:write" }]);
  const celery = errorFromResult({ exc_type: "PluginServiceError", exc_message: ["PERMISSION", "bad_signature", "no"], exc_module: "capgate.contracts.errors" });
  assert.deepEqual([celery.kind, celery.code, celery.message, celery.retryable], ["PERMISSION", "bad_signature", "no", false]);
});

test("src/catalog.ts matches `capgate schema` output (drift check)", { skip: !process.env.CAPGATE_SCHEMA_DIR && "set CAPGATE_SCHEMA_DIR to a `capgate schema --out` folder" }, () => {
  execFileSync(process.execPath, ["scripts/gen-catalog.mjs", process.env.CAPGATE_SCHEMA_DIR, "--check"], { cwd: new URL("..", import.meta.url) });
});
