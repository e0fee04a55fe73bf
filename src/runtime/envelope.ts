/**
 * Message bodies: encoding an {@link Envelope} and checking a received body before anything trusts it
 * (RELIABILITY §5 rows 1-3): size first, then UTF-8 and JSON, then shape and version. A body that fails
 * gets a reason code for the dead letter; nothing here throws.
 */
import type { Envelope } from '../brokers/broker.js';
import { plainEnvelopeBytes } from './envelope-bytes.js';
import { isWorkflowId } from './ids.js';

/** Current envelope version. */
export const ENVELOPE_VERSION = 1;

/** Encodes an envelope as a message body. */
export function encodeEnvelope(envelope: Omit<Envelope, 'v'>): Buffer {
  const plain = plainEnvelopeBytes(ENVELOPE_VERSION, envelope.workflowId, envelope.nodeId, envelope.attempt, envelope.task);
  if (plain !== undefined) return plain;
  // The same text as JSON.stringify of { v, workflowId, nodeId, attempt, task }, without the object.
  return Buffer.from(`{"v":${ENVELOPE_VERSION},"workflowId":${JSON.stringify(envelope.workflowId)},"nodeId":${JSON.stringify(envelope.nodeId)},"attempt":${JSON.stringify(envelope.attempt)},"task":${JSON.stringify(envelope.task)}}`);
}

/** A body that cannot be processed, and why. */
export interface Rejection {
  reason: 'too_large' | 'malformed' | 'invalid_envelope' | 'unsupported_version';
  detail: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const NODE_ID = /^[A-Za-z0-9._:-]{1,512}$/;

/** Checks and decodes a body; never throws. */
export function decodeEnvelope(body: Buffer, maxBytes: number): { envelope: Envelope } | Rejection {
  if (body.length > maxBytes) return { reason: 'too_large', detail: `${body.length} bytes is over the limit of ${maxBytes}` };
  let value: unknown;
  try {
    // Plain JSON.parse: only known fields are copied out below, so a __proto__ key cannot reach anything.
    value = JSON.parse(decoder.decode(body));
  } catch (error) {
    return { reason: 'malformed', detail: error instanceof Error ? error.message.slice(0, 200) : 'unparseable body' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'malformed', detail: 'body is not a JSON object' };
  const e = value as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) {
    return typeof e.v === 'number'
      ? { reason: 'unsupported_version', detail: `envelope version ${e.v}; this worker reads version ${ENVELOPE_VERSION}` }
      : { reason: 'invalid_envelope', detail: 'missing envelope version' };
  }
  if (!isWorkflowId(e.workflowId)) return { reason: 'invalid_envelope', detail: 'workflowId is missing or invalid' };
  if (typeof e.nodeId !== 'string' || !NODE_ID.test(e.nodeId)) return { reason: 'invalid_envelope', detail: 'nodeId is missing or invalid' };
  if (typeof e.attempt !== 'number' || !Number.isSafeInteger(e.attempt) || e.attempt < 1) return { reason: 'invalid_envelope', detail: 'attempt is not a positive integer' };
  if (typeof e.task !== 'string' || e.task.length === 0 || e.task.length > 255) return { reason: 'invalid_envelope', detail: 'task is missing or invalid' };
  return { envelope: { v: ENVELOPE_VERSION, workflowId: e.workflowId, nodeId: e.nodeId, attempt: e.attempt, task: e.task } };
}
