/**
 * Workflow ids: 1-128 characters of `A-Z a-z 0-9 . _ : -` (RELIABILITY §5 row 16: a brace would move the
 * Redis hash tag, DESIGN inv 8).
 */
import { randomUUID } from 'node:crypto';
import { CanvasError } from '../core/errors.js';

const WORKFLOW_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether a value is a valid workflow id. */
export function isWorkflowId(value: unknown): value is string {
  return typeof value === 'string' && WORKFLOW_ID.test(value);
}

/** Refuses an invalid workflow id with CanvasError. */
export function assertWorkflowId(value: unknown): asserts value is string {
  if (!isWorkflowId(value)) {
    throw new CanvasError(`workflowId must be 1-128 characters of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(String(value)).slice(0, 140)}`);
  }
}

/** A fresh random workflow id. */
export function newWorkflowId(): string {
  return randomUUID();
}
