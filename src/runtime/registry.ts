/**
 * The task registry (a Map: a name from a message selects code only by exact match, RELIABILITY S2) and the
 * routes that map task-name globs to options.
 */
import { CanvasError } from '../core/errors.js';
import { hasNoOptions, resolveOptions, validateOptions, type ResolvedOptions, type TaskOptions } from '../core/options.js';
import type { SignatureOptions } from '../canvas/values.js';
import type { Dispatch } from '../stores/store.js';
import type { TaskContext } from './context.js';

/** A handler as the registry keeps it. */
export type AnyHandler = (ctx: TaskContext, ...args: never[]) => unknown;

/** A registered task. */
export interface RegisteredTask {
  name: string;
  handler: AnyHandler;
  options: TaskOptions;
}

/** Glob on task names -> options. `*` matches any run of characters, `?` one character. */
export type Routes = Record<string, TaskOptions>;

interface CompiledRoute {
  pattern: RegExp;
  options: TaskOptions;
}

/** Tasks by name, routes, and app defaults: everything that decides a node's options. */
export class TaskRegistry {
  private readonly tasks = new Map<string, RegisteredTask>();
  private readonly resolved = new Map<string, ResolvedOptions>();
  private readonly dispatches = new Map<string, Dispatch>();
  private readonly routes: CompiledRoute[];

  constructor(private readonly defaults: TaskOptions, routes: Routes) {
    validateOptions(defaults, 'app defaults');
    this.routes = Object.entries(routes).map(([glob, options]) => {
      validateOptions(options, `route ${JSON.stringify(glob)}`);
      return { pattern: globToRegExp(glob), options };
    });
  }

  /** Registers a task; a second registration of the same name is a CanvasError. */
  add(task: RegisteredTask): void {
    if (typeof task.name !== 'string' || task.name.length === 0 || task.name.length > 255) {
      throw new CanvasError(`task name must be a string of 1-255 characters, got ${JSON.stringify(task.name)}`);
    }
    if (typeof task.handler !== 'function') throw new CanvasError(`task ${task.name}: the handler must be a function`);
    if (this.tasks.has(task.name)) throw new CanvasError(`task ${task.name} is already registered`);
    validateOptions(task.options, `task ${task.name}`);
    this.tasks.set(task.name, task);
  }

  /** The task registered under exactly this name. */
  get(name: string): RegisteredTask | undefined {
    return this.tasks.get(name);
  }

  /** Names of every registered task. */
  names(): string[] {
    return [...this.tasks.keys()];
  }

  /** Options of the first route whose glob matches the name. */
  route(name: string): TaskOptions | undefined {
    return this.routes.find((r) => r.pattern.test(name))?.options;
  }

  /** Every option of a node: app defaults < route < task < signature (the most specific wins). */
  resolve(taskName: string, signatureOptions: SignatureOptions): ResolvedOptions {
    const plain = hasNoOptions(signatureOptions);
    if (plain) {
      const cached = this.resolved.get(taskName);
      if (cached) return cached;
    }
    const options = resolveOptions(this.defaults, this.route(taskName), this.tasks.get(taskName)?.options, signatureOptions);
    // Tasks register before they run, so options of a task without signature overrides never change.
    if (plain && this.tasks.has(taskName)) this.resolved.set(taskName, Object.freeze(options) as ResolvedOptions);
    return options;
  }

  /** What the store keeps to send the node: queue, priority, countdown, redelivery bound. */
  dispatch(taskName: string, signatureOptions: SignatureOptions): Dispatch {
    const plain = hasNoOptions(signatureOptions);
    if (plain) {
      const cached = this.dispatches.get(taskName);
      if (cached) return cached;
    }
    const o = this.resolve(taskName, signatureOptions);
    const dispatch: Dispatch = { queue: o.queue, countdownMs: o.countdownMs, maxRedeliveries: o.maxRedeliveries, ...(o.priority !== undefined ? { priority: o.priority } : {}) };
    // As with resolve(): without signature overrides a registered task's dispatch never changes (shared, frozen).
    if (plain && this.tasks.has(taskName)) this.dispatches.set(taskName, Object.freeze(dispatch));
    return dispatch;
  }

  /** Every queue a route, a task or the defaults name (what a worker of all queues consumes). */
  knownQueues(): string[] {
    const queues = new Set<string>([this.defaults.queue ?? 'default']);
    for (const r of this.routes) if (r.options.queue) queues.add(r.options.queue);
    for (const t of this.tasks.values()) if (t.options.queue) queues.add(t.options.queue);
    return [...queues];
  }
}

/** Turns a task-name glob into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}
