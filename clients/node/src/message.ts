/** The Celery protocol-2 message Kombu's Redis transport reads (docs/wire-format.md 8.2). */

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

import type { Envelope } from "./envelope.js";

const EMPTY_EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };

/** One message ready for `LPUSH <queue>`: its queue, task id and JSON text. */
export interface OutgoingMessage {
  queue: string;
  taskId: string;
  text: string;
}

/**
 * The message carrying `envelope` to `queue`. The single positional argument
 * is the envelope *text*; the task id is the command id, so the result, the
 * audit trail and the message share one id. `argsrepr` names only the size:
 * Flower shows it and the payload may hold a message body.
 */
export function commandMessage(envelope: Envelope, queue: string, origin = `capgate-node@${hostname()}`): OutgoingMessage {
  const taskId = envelope.command_id;
  const envelopeText = JSON.stringify(envelope);
  const body = Buffer.from(JSON.stringify([[envelopeText], {}, EMPTY_EMBED]), "utf8");
  const message = {
    body: body.toString("base64"),
    "content-encoding": "utf-8",
    "content-type": "application/json",
    headers: {
      lang: "py",
      task: `capgate.${envelope.operation}`,
      id: taskId,
      root_id: taskId,
      parent_id: null,
      group: null,
      argsrepr: `(<envelope ${Buffer.byteLength(envelopeText, "utf8")} bytes>,)`,
      kwargsrepr: "{}",
      origin,
      retries: 0,
      eta: null,
      expires: null,
      timelimit: [null, null],
      ignore_result: false,
    },
    properties: {
      correlation_id: taskId,
      reply_to: "",
      delivery_mode: 2,
      delivery_info: { exchange: "capgate", routing_key: queue },
      priority: 0,
      body_encoding: "base64",
      delivery_tag: randomUUID(),
    },
  };
  return { queue, taskId, text: JSON.stringify(message) };
}
