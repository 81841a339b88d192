/** Build and sign command envelopes (docs/wire-format.md sections 2 and 4). */

import { createHmac, randomUUID } from "node:crypto";

import { canonicalBytes, type Json } from "./canonical.js";
import type { Payloads } from "./catalog.js";

export type ExecutionKind = "action" | "trigger" | "register" | "lifecycle";

/** Who calls and why: the envelope's `context` member. */
export interface CommandContext {
  plugin_name: string;
  plugin_id: string;
  capability_id: string;
  capability_key: string;
  execution_kind: ExecutionKind;
  definition_id?: string | null;
  invocation_id?: string | null;
  trigger_event_id?: string | null;
  manual_invoker_id?: string | null;
  correlation_id?: string | null;
  timestamp: string;
}

/** A signed envelope, as published. */
export interface Envelope {
  format_version: 1;
  command_id: string;
  idempotency_key: string;
  operation: string;
  payload: { [key: string]: Json };
  context: CommandContext;
  issued_at: string;
  expires_at: string;
  key_id: string;
  signature: string;
}

/** A signing key: its id and the secret text the registry issued. */
export interface SigningKey {
  keyId: string;
  secret: string;
}

/** The payload type of operation `O`, from its JSON Schema (any object for an unknown name). */
export type PayloadOf<O extends string> = O extends keyof Payloads ? Payloads[O] : { [key: string]: unknown };

/** What `buildEnvelope` needs; everything else has a sound default. */
export interface EnvelopeInput<O extends string = string> {
  operation: O;
  payload: PayloadOf<O>;
  context: Omit<CommandContext, "timestamp"> & { timestamp?: string };
  key: SigningKey;
  commandId?: string;
  idempotencyKey?: string;
  issuedAt?: Date;
  ttlSeconds?: number;
}

/** A time as capgate writes it: UTC with microseconds and `Z`. */
export function utcTime(moment: Date): string {
  return moment.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** HMAC-SHA256 over the canonical bytes of the envelope without `signature`. */
export function signatureOf(unsigned: object, secret: string): string {
  const { signature: _ignored, ...rest } = unsigned as { signature?: unknown };
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(canonicalBytes(rest)).digest("hex");
}

/** A signed envelope for one command. */
export function buildEnvelope<O extends string>(input: EnvelopeInput<O>): Envelope {
  const issued = input.issuedAt ?? new Date();
  const expires = new Date(issued.getTime() + (input.ttlSeconds ?? 300) * 1000);
  const commandId = input.commandId ?? randomUUID();
  const unsigned = {
    format_version: 1 as const,
    command_id: commandId,
    idempotency_key: input.idempotencyKey ?? commandId,
    operation: input.operation,
    payload: input.payload as { [key: string]: Json },
    context: { ...input.context, timestamp: input.context.timestamp ?? utcTime(issued) },
    issued_at: utcTime(issued),
    expires_at: utcTime(expires),
    key_id: input.key.keyId,
  };
  return { ...unsigned, signature: signatureOf(unsigned, input.key.secret) };
}
