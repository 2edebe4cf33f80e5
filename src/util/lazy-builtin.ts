import { createRequire } from "node:module";

let requireHere: NodeJS.Require | undefined;

/**
 * A built-in Node module loaded when first used rather than at start: for the heavy ones a
 * command mostly does not need (node:child_process brings net, dgram and Node's streams;
 * node:fs/promises its file handles), each a few ms of every `vsteal domstats`. Take the type with
 * `import type * as M from "node:…"` and ask `lazyBuiltin<typeof M>("node:…")`.
 */
export function lazyBuiltin<T>(name: `node:${string}`): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= (requireHere ??= createRequire(import.meta.url))(name) as T);
}
