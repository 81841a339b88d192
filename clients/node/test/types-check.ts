// Compiled by `npm run typecheck`: a wrong payload for a known operation must not compile.
import { buildEnvelope } from "../src/index.js";

const key = { keyId: "k", secret: "s" };
const context = { plugin_name: "p", plugin_id: "p1", capability_id: "c", capability_key: "d", execution_kind: "action" as const };
buildEnvelope({ operation: "users.assign_role", payload: { user_id: "u", role: "admin" }, context, key });
// @ts-expect-error: "emperor" is not a role
buildEnvelope({ operation: "users.assign_role", payload: { user_id: "u", role: "emperor" }, context, key });
// @ts-expect-error: user_id is required
buildEnvelope({ operation: "users.revoke_sessions", payload: {}, context, key });
