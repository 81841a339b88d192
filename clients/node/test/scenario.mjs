// Drives the built client against a real capgate worker; run by
// tests/e2e/test_node_client.py, which registers the plugin, starts the
// worker and checks the audit rows. Prints one JSON object: case -> outcome.
import { CapgateClient, PluginServiceError, buildEnvelope } from "../dist/index.js";

const env = JSON.parse(process.env.CAPGATE_NODE_SCENARIO);
const client = new CapgateClient({ brokerUrl: env.broker, resultUrl: env.results });
const key = { keyId: env.key_id, secret: env.secret };
const context = {
  plugin_name: env.plugin_name,
  plugin_id: env.plugin_id,
  capability_id: env.capability_id,
  capability_key: env.capability_key,
  execution_kind: "action",
};
const envelope = (operation, payload, extra = {}) => buildEnvelope({ operation, payload, context, key, ...extra });

async function outcome(taskId) {
  try {
    const value = await client.result(taskId, 30_000);
    return { ok: true, command_id: value.command_id, outcome: value.outcome, response: value.response };
  } catch (error) {
    if (!(error instanceof PluginServiceError)) throw error;
    return { ok: false, kind: error.kind, code: error.code, retryable: error.retryable, details: error.details };
  }
}

const out = {};
const success = envelope("users.revoke_sessions", { user_id: "u-bob" }, { idempotencyKey: "node-k1" });
out.success = { id: success.command_id, ...(await outcome(await client.publish(success))) };
const again = envelope("users.revoke_sessions", { user_id: "u-bob" }, { idempotencyKey: "node-k1" });
out.deduplicated = { id: again.command_id, ...(await outcome(await client.publish(again))) };
const conflict = envelope("users.revoke_sessions", { user_id: "u-carol" }, { idempotencyKey: "node-k1" });
out.conflict = { id: conflict.command_id, ...(await outcome(await client.publish(conflict))) };
const invalid = envelope("users.assign_role", { user_id: "u-bob", role: "emperor" });
out.invalid = { id: invalid.command_id, ...(await outcome(await client.publish(invalid))) };
const forged = buildEnvelope({ operation: "users.revoke_sessions", payload: { user_id: "u-bob" }, context, key: { ...key, secret: "wrong" } });
out.forged = { id: forged.command_id, ...(await outcome(await client.publish(forged))) };
const missing = envelope("users.revoke_sessions", { user_id: "u-nobody" });
out.missing = { id: missing.command_id, ...(await outcome(await client.publish(missing))) };
const batch = [envelope("users.revoke_sessions", { user_id: "u-bob" }), envelope("users.revoke_sessions", { user_id: "u-carol" })];
const ids = await client.publishBatch(batch);
out.batch = await Promise.all(ids.map(async (id) => ({ id, ...(await outcome(id)) })));
await client.close();
console.log(JSON.stringify(out));
