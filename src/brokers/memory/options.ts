/**
 * Checks of publish options shared by the brokers: a bad delay or priority is a caller bug, refused loudly
 * rather than clamped (RELIABILITY §5 row 15).
 */
import { ConfigError } from '../../core/errors.js';
import type { PublishOptions } from '../broker.js';

/** Publish options after checking: a delay of 0 means "now". */
export interface CheckedPublishOptions {
  delayMs: number;
  priority: number;
}

/**
 * Validates `delayMs` (finite, >= 0; any length, since brokers never arm a timer that long) and `priority`
 * (an integer 0..`maxPriority`), throwing `ConfigError` on bad values.
 */
export function checkPublishOptions(options: PublishOptions, maxPriority: number): CheckedPublishOptions {
  const delayMs = options.delayMs ?? 0;
  const priority = options.priority ?? 0;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new ConfigError(`delayMs must be a finite number >= 0, got ${String(delayMs)}`);
  }
  if (!Number.isInteger(priority) || priority < 0 || priority > maxPriority) {
    throw new ConfigError(`priority must be an integer 0-${maxPriority}, got ${String(priority)}`);
  }
  return { delayMs: Math.ceil(delayMs), priority };
}
