/**
 * Type-level helpers that make the canvas typed end to end (API.md "Types"). Nothing here exists at run time.
 */
import type { AnyCanvas, Canvas, NoParent } from './values.js';

/** The result type of a canvas. */
export type ResultOf<C> = C extends { readonly __types?: { result: infer R } } ? R : never;

/**
 * Refuses, at compile time, a handler that returns nothing: `undefined` is no JSON value (API.md), so at run
 * time such a handler's node fails for good with SerializationError. A task without a result returns `null`.
 * Intersected with the handler's type: `unknown` (no constraint) for any other return type, `never` included.
 */
export type JsonReturn<R> = [R] extends [never]
  ? unknown // a handler that always throws
  : [R] extends [void]
    ? 'a task handler must return a JSON value: return null for a task without a result'
    : unknown;

/** The parent result a canvas can take as input. */
export type InputOf<C> = C extends { readonly __types?: { input: (input: infer I) => void } } ? I : never;

/** All but the first element of a tuple. */
export type Tail<A extends readonly unknown[]> = A extends readonly [unknown, ...infer T] ? T : [];

/** The first element of a tuple. */
export type Head<A extends readonly unknown[]> = A extends readonly [infer H, ...unknown[]] ? H : never;

/** `A | B` becomes `A & B`. */
export type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Steps after the first: each must accept the previous step's result, else it is replaced by what would. */
type CheckLater<S extends readonly unknown[], Prev> = S extends readonly [infer H, ...infer T]
  ? [[Prev] extends [InputOf<H>] ? H : Canvas<ResultOf<H>, Prev>, ...CheckLater<T, ResultOf<H>>]
  : S;

/** What a chain's steps must be: the first anything, every later one able to take its predecessor's result. */
export type CheckChain<S extends readonly unknown[]> = S extends readonly [infer H, ...infer T] ? [H, ...CheckLater<T, ResultOf<H>>] : S;

/** The result of a chain: its last step's. */
export type ChainResult<S extends readonly unknown[]> = S extends readonly [...unknown[], infer L] ? ResultOf<L> : unknown;

/** The result of a group: the tuple (or array) of its members' results. */
export type GroupResult<M extends readonly unknown[]> = { -readonly [K in keyof M]: ResultOf<M[K]> };

/** What a group accepts: what every member accepts. An empty group accepts anything. */
export type GroupInput<M extends readonly unknown[]> = [M[number]] extends [never] ? unknown : UnionToIntersection<InputOf<M[number]>>;

/** A body that can take `Input`, or the type that would. */
export type CheckBody<B, Input> = [Input] extends [InputOf<B>] ? B : Canvas<ResultOf<B>, Input>;

/** A canvas that needs no parent result: what `app.start()` takes. */
export type StartableCanvas<R> = Canvas<R, NoParent>;

/** Used in constraints: any canvas at all. */
export type SomeCanvas = AnyCanvas;
