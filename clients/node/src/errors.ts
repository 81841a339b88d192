/** PluginServiceError: the one error family a plugin sees (contracts/errors.py). */

export type ErrorKind = "VALIDATION" | "NOT_FOUND" | "PERMISSION" | "RATE_LIMIT" | "RETRYABLE" | "FATAL";

const KINDS: ReadonlySet<string> = new Set(["VALIDATION", "NOT_FOUND", "PERMISSION", "RATE_LIMIT", "RETRYABLE", "FATAL"]);

/** The JSON shape of error.schema.json. */
export interface ErrorObject {
  kind: ErrorKind;
  code: string;
  message: string;
  retry_after_ms?: number | null;
  reason?: string | null;
  status?: number;
  details?: Record<string, unknown>;
}

/** A failed command, with the kind that decides whether retrying can help. */
export class PluginServiceError extends Error {
  override name = "PluginServiceError";
  readonly kind: ErrorKind;
  readonly code: string;
  readonly retryAfterMs: number | null;
  readonly reason: string | null;
  readonly status: number | null;
  readonly details: Record<string, unknown>;

  constructor(error: ErrorObject) {
    super(error.message);
    this.kind = error.kind;
    this.code = error.code;
    this.retryAfterMs = error.retry_after_ms ?? null;
    this.reason = error.reason ?? null;
    this.status = error.status ?? null;
    this.details = error.details ?? {};
  }

  /** True when the same command may succeed later (RATE_LIMIT, RETRYABLE). */
  get retryable(): boolean {
    return this.kind === "RATE_LIMIT" || this.kind === "RETRYABLE";
  }
}

function isErrorObject(value: unknown): value is ErrorObject {
  const v = value as Partial<ErrorObject> | null;
  return !!v && typeof v === "object" && typeof v.kind === "string" && KINDS.has(v.kind) && typeof v.code === "string" && typeof v.message === "string";
}

/**
 * The PluginServiceError in a stored FAILURE result. Accepts the documented
 * object and Celery's exception form (`exc_type` PluginServiceError with
 * `exc_message` [kind, code, message, ...]) that current workers store.
 */
export function errorFromResult(result: unknown): PluginServiceError {
  if (isErrorObject(result)) return new PluginServiceError(result);
  const r = (result ?? {}) as { exc_type?: unknown; exc_message?: unknown };
  const args = Array.isArray(r.exc_message) ? r.exc_message : [];
  const [kind, code, message] = args;
  if (r.exc_type === "PluginServiceError" && typeof kind === "string" && KINDS.has(kind) && typeof code === "string") {
    const extra = (args[3] && typeof args[3] === "object" ? args[3] : {}) as Record<string, unknown>;
    return new PluginServiceError({ kind: kind as ErrorKind, code, message: String(message ?? ""), ...extra });
  }
  return new PluginServiceError({ kind: "FATAL", code: "unreadable_result", message: "the stored failure is not a PluginServiceError" });
}
