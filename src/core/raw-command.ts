/**
 * A Redis command as its RESP bytes, built by one component for another to send on its own connection: the
 * Redis broker hands the publishes of a new workflow's roots to a Redis store on the same server, which sends
 * them right behind the create in the same write (src/runtime/app.ts `start`), so they can never overtake it.
 */

/** One command: its name (for logs and counts) and its RESP bytes (core/resp-command.ts respWire). */
export interface RawCommand {
  readonly name: string;
  readonly wire: Buffer;
}
