import { describe, expect, it } from "vitest";
import { lastMoveOf, undoneRecentMove, type RecentMove } from "./recent-moves.js";

const MIN = 60_000;
const now = 1_000 * MIN;
const recent: RecentMove[] = [
  { vm: "web-1", from: "hv01", to: "hv07", atMs: now - 20 * MIN },
  { vm: "web-1", from: "hv07", to: "hv03", atMs: now - 10 * MIN },
  { vm: "db-1", from: "hv02", to: "hv05", atMs: now - 90 * MIN },
];

describe("undoneRecentMove", () => {
  it("finds a move straight back (A→B, then B→A)", () => {
    expect(undoneRecentMove({ vm: "web-1", from: "hv03", to: "hv07" }, recent, now, 30 * MIN)).toEqual(recent[1]);
  });

  it("finds a cycle back to where the VM started (A→B→C, then C→A), naming the first move", () => {
    expect(undoneRecentMove({ vm: "web-1", from: "hv03", to: "hv01" }, recent, now, 30 * MIN)).toEqual(recent[0]);
  });

  it("ignores moves older than the window, other VMs, and moves to new places", () => {
    expect(undoneRecentMove({ vm: "web-1", from: "hv03", to: "hv01" }, recent, now, 15 * MIN)).toBeNull();
    expect(undoneRecentMove({ vm: "db-1", from: "hv05", to: "hv02" }, recent, now, 60 * MIN)).toBeNull();
    expect(undoneRecentMove({ vm: "db-1", from: "hv05", to: "hv02" }, recent, now, 120 * MIN)).toEqual(recent[2]);
    expect(undoneRecentMove({ vm: "web-1", from: "hv03", to: "hv09" }, recent, now, 60 * MIN)).toBeNull();
    expect(undoneRecentMove({ vm: "web-2", from: "hv07", to: "hv01" }, recent, now, 60 * MIN)).toBeNull();
  });

  it("ignores moves in the future of `now` (clock skew)", () => {
    expect(undoneRecentMove({ vm: "web-1", from: "hv03", to: "hv07" }, recent, now - 15 * MIN, 30 * MIN)).toBeNull();
  });

  it("lastMoveOf: the latest move of the VM within the window (a cooldown)", () => {
    expect(lastMoveOf("web-1", recent, now, 30 * MIN)).toEqual(recent[1]);
    expect(lastMoveOf("db-1", recent, now, 30 * MIN)).toBeNull();
  });
});
