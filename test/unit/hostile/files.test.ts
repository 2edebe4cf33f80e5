/**
 * Class 6 of the hostile-input review: files the program writes. Reports, audit logs and
 * history never follow a symbolic link planted in their place; a history file that exists
 * but cannot be read is set aside (or, when even that fails, left alone), never replaced.
 * (The root-owned-file case with the agent as another user is in
 * test/reliability/files-hostile.test.ts.)
 */
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeSample, wave, type DomainSpec } from "../../fixtures/history/samples.js";
import { History, JOURNAL_FILE, SNAPSHOT_FILE } from "../../../src/history/history.js";
import { FileAuditLog } from "../../../src/migrate/audit-log.js";
import { SafeWriteError, writeFileAtomic } from "../../../src/util/safe-write.js";
import type { HistoryProblem } from "../../../src/history/types.js";

const root = mkdtempSync(join(tmpdir(), "vsteal-hostile-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};
/** A file standing for /etc/shadow: what a planted link points at. Must never change. */
const victim = (d: string): string => {
  const v = join(d, "victim");
  writeFileSync(v, "precious\n");
  return v;
};

const DOMS: DomainSpec[] = [{ name: "kvm-a", vcpus: 2 }];
const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);

describe("never through a planted symbolic link", () => {
  it("the audit log: a link in its place is refused at start, its target untouched", () => {
    const d = fresh();
    const v = victim(d);
    symlinkSync(v, join(d, "migrations.jsonl"));
    expect(() => new FileAuditLog(join(d, "migrations.jsonl"))).toThrow(SafeWriteError);
    expect(() => new FileAuditLog(join(d, "migrations.jsonl"))).toThrow(
      /cannot write the audit log .*migrations\.jsonl: it is a symbolic link, and vsteal never writes through one/,
    );
    expect(readFileSync(v, "utf8")).toBe("precious\n");
  });

  it("the audit log appends to a real file as before", () => {
    const d = fresh();
    const log = new FileAuditLog(join(d, "a.jsonl"));
    log.write({
      time: "t",
      actor: "x",
      action: "plan_start",
      plan_id: "p",
      move: null,
      vm: null,
      from: null,
      to: null,
      result: "started",
      reason: "",
      duration_ms: null,
    });
    expect(readFileSync(join(d, "a.jsonl"), "utf8").split("\n").length).toBe(2);
  });

  it("reports (simulate --report): a link in place of index.html is replaced, not written through", () => {
    const d = fresh();
    const v = victim(d);
    symlinkSync(v, join(d, "index.html"));
    writeFileAtomic(join(d, "index.html"), "<html></html>", "the report");
    expect(readFileSync(v, "utf8")).toBe("precious\n");
    expect(lstatSync(join(d, "index.html")).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(d, "index.html"), "utf8")).toBe("<html></html>");
    expect(readdirSync(d).sort()).toEqual(["index.html", "victim"]);
  });

  it("history: links planted at the snapshot's and the journal's temporary names are never followed", async () => {
    const d = fresh();
    const v = victim(root);
    const h = new History({ intervalS: 5, dir: d, now: () => T0 });
    await h.open();
    for (let i = 0; i < 5; i++) h.record(makeSample(T0 + i * 5000, DOMS, (a, b) => wave(i, a, b)));
    symlinkSync(v, join(d, `${SNAPSHOT_FILE}.tmp`));
    symlinkSync(v, join(d, `${JOURNAL_FILE}.tmp`));
    const r = await h.flush();
    expect(r.ok).toBe(true);
    expect(readFileSync(v, "utf8")).toBe("precious\n");
    expect(lstatSync(join(d, SNAPSHOT_FILE)).isFile()).toBe(true);
    expect(lstatSync(join(d, JOURNAL_FILE)).isFile()).toBe(true);
    h.close();
  });

  it("history: a journal that is a link is not reopened through it", async () => {
    const d = fresh();
    const v = victim(root);
    const a = new History({ intervalS: 5, dir: d, now: () => T0 });
    await a.open();
    a.record(makeSample(T0, DOMS, (x, y) => wave(0, x, y)));
    await a.flush();
    a.close();
    // Someone replaces the journal by a link to a file that happens to look like one.
    writeFileSync(v, readFileSync(join(d, JOURNAL_FILE)));
    const before = readFileSync(v);
    rmSync(join(d, JOURNAL_FILE));
    symlinkSync(v, join(d, JOURNAL_FILE));
    const b = new History({ intervalS: 5, dir: d, now: () => T0 + 10_000 });
    await b.open();
    b.record(makeSample(T0 + 10_000, DOMS, (x, y) => wave(2, x, y)));
    await b.flush();
    b.close();
    expect(Buffer.compare(readFileSync(v), before)).toBe(0);
  });
});

describe("history files that exist but cannot be read", () => {
  it("are set aside under a name that says so, never silently replaced", async () => {
    const d = fresh();
    // A directory where the snapshot should be: it exists, it cannot be read as a file.
    mkdirSync(join(d, SNAPSHOT_FILE));
    writeFileSync(join(d, SNAPSHOT_FILE, "keep-me"), "x");
    const problems: HistoryProblem[] = [];
    const h = new History({ intervalS: 5, dir: d, now: () => T0, onError: (p) => problems.push(p) });
    const report = await h.open();
    expect(report.snapshot.status).toBe("set-aside");
    const aside = readdirSync(d).filter((f) => f.startsWith(`${SNAPSHOT_FILE}.unreadable-`));
    expect(aside.length).toBe(1);
    expect(readFileSync(join(d, aside[0]!, "keep-me"), "utf8")).toBe("x");
    expect(report.problems.map((p) => p.message).join("\n")).toMatch(
      /the snapshot \S+ exists but cannot be read: not a regular file; moved to \S+unreadable-/,
    );
    h.close();
  });
});
