/** Publish commands to capgate's Redis broker and await their results. */

import { Redis } from "ioredis";

import { queueFor } from "./catalog.js";
import { buildEnvelope, type Envelope, type EnvelopeInput } from "./envelope.js";
import { errorFromResult } from "./errors.js";
import { commandMessage } from "./message.js";

/** What a settled command returns: the worker's verdict_result. */
export interface CommandResult<R = unknown> {
  command_id: string;
  outcome: string;
  attempt: number;
  response: R | null;
}

/** Connection settings: capgate's CAPGATE_BROKER_URL and CAPGATE_RESULT_BACKEND. */
export interface ClientOptions {
  brokerUrl: string;
  resultUrl: string;
  origin?: string;
}

/** Raised when no final result appeared within the wait. */
export class ResultTimeoutError extends Error {
  override name = "ResultTimeoutError";
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A capgate client: one broker connection, one result-backend connection. */
export class CapgateClient {
  private readonly broker: Redis;
  private readonly results: Redis;
  private readonly origin: string | undefined;

  constructor(options: ClientOptions) {
    this.broker = new Redis(options.brokerUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.results = new Redis(options.resultUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.origin = options.origin;
  }

  /** Publish a signed envelope on its operation's queue; returns the task id. */
  async publish(envelope: Envelope): Promise<string> {
    const [taskId] = await this.publishBatch([envelope]);
    return taskId as string;
  }

  /**
   * Publish several envelopes in one round trip. Each goes to its own
   * operation's queue; within a queue they are taken in the order given.
   */
  async publishBatch(envelopes: readonly Envelope[]): Promise<string[]> {
    const messages = envelopes.map((e) => commandMessage(e, queueFor(e.operation), this.origin));
    const pipeline = this.broker.multi();
    for (const m of messages) pipeline.lpush(m.queue, m.text);
    const replies = await pipeline.exec();
    for (const [error] of replies ?? []) if (error) throw error;
    return messages.map((m) => m.taskId);
  }

  /** Build, sign and publish one command. */
  async send<O extends string>(input: EnvelopeInput<O>): Promise<Envelope> {
    const envelope = buildEnvelope(input);
    await this.publish(envelope);
    return envelope;
  }

  /**
   * Wait for the final result of `taskId`: the result on SUCCESS, a
   * PluginServiceError thrown on FAILURE, ResultTimeoutError after `timeoutMs`.
   * RETRY is not final: the worker will run the command again.
   */
  async result<R = unknown>(taskId: string, timeoutMs = 30_000, pollMs = 100): Promise<CommandResult<R>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const raw = await this.results.get(`celery-task-meta-${taskId}`);
      if (raw) {
        const meta = JSON.parse(raw) as { status?: string; result?: unknown };
        if (meta.status === "SUCCESS") return meta.result as CommandResult<R>;
        if (meta.status === "FAILURE") throw errorFromResult(meta.result);
      }
      if (Date.now() >= deadline) throw new ResultTimeoutError(`no final result for ${taskId} within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  /** Close both connections. */
  async close(): Promise<void> {
    await Promise.all([this.broker.quit().catch(() => undefined), this.results.quit().catch(() => undefined)]);
  }
}
