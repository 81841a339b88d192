/** capgate's Node.js client: canonical form, signing, publishing, results. */

export { canonicalBytes, canonicalText, CanonicalError, type Json } from "./canonical.js";
export { buildEnvelope, signatureOf, utcTime, type CommandContext, type Envelope, type EnvelopeInput, type ExecutionKind, type PayloadOf, type SigningKey } from "./envelope.js";
export { commandMessage, type OutgoingMessage } from "./message.js";
export { errorFromResult, PluginServiceError, type ErrorKind, type ErrorObject } from "./errors.js";
export { CATALOG, queueFor, taskNameFor, type OperationInfo, type OperationName, type Payloads } from "./catalog.js";
export { CapgateClient, ResultTimeoutError, type ClientOptions, type CommandResult } from "./client.js";
