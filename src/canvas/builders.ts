/**
 * The canvas constructors users write: `chain`, `group`, `chord`, `sig`. Each validates its input and returns
 * an immutable value whose type parameters carry the canvas result and accepted input.
 */
import { CanvasError } from '../core/errors.js';
import { validateOptions, type TaskOptions } from '../core/options.js';
import type { JsonValue } from '../core/json.js';
import { Chain, Chord, Group, Signature, storedOptions, type AnyCanvas, type NoParent } from './values.js';
import type { ChainResult, CheckBody, CheckChain, GroupInput, GroupResult, Head, InputOf, ResultOf, Tail } from './typing.js';

/**
 * Runs steps in order, each receiving the previous step's result; the chain's result is the last step's.
 * A mutable step that cannot take its predecessor's result is a compile-time error.
 * @example chain(fetchOrder.s(42), charge.s(), group(email.s(), ship.s()))
 */
export function chain<const S extends readonly [AnyCanvas, ...AnyCanvas[]]>(
  ...steps: S & CheckChain<S>
): Chain<ChainResult<S>, InputOf<S[0]>> {
  return new Chain<ChainResult<S>, InputOf<S[0]>>(steps as readonly AnyCanvas[]);
}

/**
 * Runs members in parallel; the result is the array of member results in declaration order. Takes members as
 * arguments or as one array.
 * @example group(resize.s(id, 'small'), resize.s(id, 'large'))
 */
export function group<const M extends readonly AnyCanvas[]>(members: M): Group<GroupResult<M>, GroupInput<M>>;
export function group<const M extends readonly AnyCanvas[]>(...members: M): Group<GroupResult<M>, GroupInput<M>>;
export function group(...members: unknown[]): Group<unknown, never> {
  const list = members.length === 1 && Array.isArray(members[0]) ? (members[0] as unknown[]) : members;
  return new Group(list as AnyCanvas[]);
}

/**
 * Runs the header in parallel, then the body with the header's result array: `chain(group(header), body)`.
 * An empty header calls the body with `[]`.
 * @example chord(ids.map((id) => score.s(id)), rank.s())
 */
export function chord<R, I, B extends AnyCanvas>(header: Group<R, I>, body: B & CheckBody<B, R>): Chord<ResultOf<B>, I>;
export function chord<const H extends readonly AnyCanvas[], B extends AnyCanvas>(header: H, body: B & CheckBody<B, GroupResult<H>>): Chord<ResultOf<B>, GroupInput<H>>;
export function chord(header: readonly AnyCanvas[] | Group<unknown, never>, body: AnyCanvas): Chord<unknown, never> {
  const members = header instanceof Group ? header.members : header;
  if (!Array.isArray(members) && !(header instanceof Group)) throw new CanvasError('chord header must be an array or a group');
  return new Chord(members as readonly AnyCanvas[], body);
}

/**
 * Tasks declared here (by declaration merging) make `sig()` by name typed:
 * @example
 * declare module 'braid' {
 *   interface TaskRegistry { 'emails.send': { args: [to: string]; result: boolean } }
 * }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface TaskRegistry {}

type RegisteredArgs<N> = N extends keyof TaskRegistry ? (TaskRegistry[N] extends { args: infer A extends readonly unknown[] } ? A : never) : never;
type RegisteredResult<N> = N extends keyof TaskRegistry ? (TaskRegistry[N] extends { result: infer R } ? R : unknown) : unknown;

/** Options of `sig()`: task options plus `immutable`. */
export type SigOptions = TaskOptions & { immutable?: boolean };

/**
 * A signature by task name, for tasks this process does not import. Typed when the name is declared in
 * {@link TaskRegistry}, else `unknown`. `options.immutable` makes it ignore the parent's result.
 * @example sig('emails.send', ['a@b.c'], { queue: 'emails' })
 */
export function sig<N extends keyof TaskRegistry>(name: N, args: RegisteredArgs<N>, options?: SigOptions & { immutable?: false }): Signature<RegisteredResult<N>, NoParent>;
export function sig<N extends keyof TaskRegistry>(name: N, args: Tail<RegisteredArgs<N>>, options?: SigOptions & { immutable?: false }): Signature<RegisteredResult<N>, Head<RegisteredArgs<N>>>;
export function sig<N extends keyof TaskRegistry>(name: N, args: RegisteredArgs<N>, options: SigOptions & { immutable: true }): Signature<RegisteredResult<N>, unknown>;
export function sig<N extends string>(name: N extends keyof TaskRegistry ? never : N, args?: readonly JsonValue[], options?: SigOptions): Signature<unknown, unknown>;
export function sig(name: string, args: readonly unknown[] = [], options: SigOptions = {}): Signature<unknown, unknown> {
  const { immutable = false, ...taskOptions } = options;
  validateOptions(taskOptions, `sig(${JSON.stringify(name)})`);
  return new Signature(name, args, immutable, storedOptions(taskOptions));
}
