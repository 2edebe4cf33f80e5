/**
 * "Would this move undo a recent one?" — a pure helper for the controller, which adds
 * cooldowns and cycle detection across plans. The planner itself sees one snapshot only.
 */

export interface RecentMove {
  vm: string;
  from: string;
  to: string;
  /** When the move was made, ms since the epoch. */
  atMs: number;
}

export interface ProposedMove {
  vm: string;
  from: string;
  to: string;
}

/**
 * The recent move (within `windowMs` before `nowMs`) that the proposed move would undo, or
 * null. A move undoes an earlier one when it takes the VM back to a host it left within the
 * window: A→B then B→A, and also cycles such as A→B, B→C, then C→A. The earliest such move
 * is returned (the one the cycle started with).
 */
export function undoneRecentMove(
  move: ProposedMove,
  recent: readonly RecentMove[],
  nowMs: number,
  windowMs: number,
): RecentMove | null {
  let found: RecentMove | null = null;
  for (const r of recent) {
    if (r.vm !== move.vm) continue;
    if (r.atMs > nowMs || nowMs - r.atMs > windowMs) continue;
    if (r.from === move.to && (found === null || r.atMs < found.atMs)) found = r;
  }
  return found;
}

/** The VM moved within `windowMs` before `nowMs` (a cooldown), or null. */
export function lastMoveOf(
  vm: string,
  recent: readonly RecentMove[],
  nowMs: number,
  windowMs: number,
): RecentMove | null {
  let last: RecentMove | null = null;
  for (const r of recent) {
    if (r.vm !== vm || r.atMs > nowMs || nowMs - r.atMs > windowMs) continue;
    if (last === null || r.atMs > last.atMs) last = r;
  }
  return last;
}
