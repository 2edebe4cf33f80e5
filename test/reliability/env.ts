import { describe } from "vitest";

/**
 * How hard the reliability suites push. `npm test` runs them short (a few cycles, a few
 * seconds each), `npm run test:reliability` sets VSTEAL_RELIABILITY=full.
 */
export const MODE: "short" | "full" = process.env.VSTEAL_RELIABILITY === "full" ? "full" : "short";

/** `short` in short mode, `full` in full mode. */
export function byMode<T>(short: T, full: T): T {
  return MODE === "full" ? full : short;
}

const inCi = process.env.CI === "true" || process.env.CI === "1";

/**
 * describe() for tests that need something only some machines have (root, a tmpfs mount,
 * network namespaces). Like describeE2E: outside CI a missing prerequisite skips with the
 * reason; in CI it is a failure, since there the tests must run.
 */
export function describeIf(missing: string | null): typeof describe | typeof describe.skip {
  if (missing === null) return describe;
  if (inCi) throw new Error(`reliability test prerequisites missing in CI: ${missing}`);
  console.warn(`reliability tests skipped: ${missing}`);
  return describe.skip;
}

export const isRoot = process.getuid?.() === 0;

/** Reason root-only tests cannot run here, or null. */
export const rootMissing: string | null = isRoot
  ? null
  : "not root (needs mount, namespaces or other users' processes)";
