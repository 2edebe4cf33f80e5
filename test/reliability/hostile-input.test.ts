/**
 * The hostile-input review against the built CLI and a real agent: options that do nothing
 * in a mode are refused, a wrong method on an existing path is 405, file-system errors are
 * said in words. Real processes, real sockets; the witness is what a person sees (exit code
 * and stderr) and what the server answers.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../e2e/virsh.js";
import { agentRefuses, spawnAgent, waitHealth, type AgentProcess } from "./agent.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vsteal-rel-hostile-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vsteal = (args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 30_000, input: "" });

describe("options that do nothing in a mode are refused", () => {
  it("plan --snapshot with --window/--hosts", () => {
    const snap = join(dir, "s.json");
    writeFileSync(
      snap,
      JSON.stringify({ version: 1, time: "2026-11-25T12:00:00Z", window_s: 300, hosts: [], vms: [] }),
    );
    const r = vsteal(["plan", "--snapshot", snap, "--window", "10m", "--hosts", "/nonexistent"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "vsteal: --window, --hosts do nothing with --snapshot (they shape a snapshot built from --prometheus): drop them\n",
    );
    expect(vsteal(["plan", "--snapshot", snap]).status).toBe(0);
  });

  it("apply --no-recheck with --prometheus", () => {
    const r = vsteal([
      "apply",
      join(dir, "p.json"),
      "--hosts",
      "/nonexistent",
      "--no-recheck",
      "--prometheus",
      "http://127.0.0.1:1",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^vsteal: --prometheus does nothing with --no-recheck/);
  });

  it("controller without --apply given --audit-log and --token-file", () => {
    const r = vsteal([
      "controller",
      "--prometheus",
      "http://127.0.0.1:1",
      "--once",
      "--audit-log",
      join(dir, "a.jsonl"),
      "--token-file",
      "/dev/null",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^vsteal: --token-file, --audit-log do nothing without --apply/);
  });
});

describe("a real agent", () => {
  let agent: AgentProcess;
  beforeAll(async () => {
    agent = await spawnAgent(["--source", "qemu", "--history.dir", "", "--interval", "1"]);
    await waitHealth(agent.url, () => true, "an answer");
  });
  afterAll(async () => {
    await agent.stop();
  });

  it("answers 405 with Allow for a wrong method on an existing path, 404 on a missing one", async () => {
    for (const path of ["/metrics", "/api/v1/host", "/api/v1/domains", "/api/v1/history", "/"]) {
      const r = await fetch(`${agent.url}${path}`, { method: "POST", body: "x" });
      expect(r.status, path).toBe(405);
      expect(r.headers.get("allow")).toBe("GET, HEAD");
    }
    expect((await fetch(`${agent.url}/api/v1/nope`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`${agent.url}/api/v1/host`)).status).toBe(200);
  });
});

it("--history.dir naming a file: said in words, not EEXIST", async () => {
  const f = join(dir, "not-a-dir");
  writeFileSync(f, "x");
  const r = await agentRefuses(["--source", "qemu", "--history.dir", join(f, "sub")]);
  // agentRefuses passes --history.dir "" first; the later one wins.
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(
    /cannot create --history\.dir .*not-a-dir\/sub: (a part of the path is not a directory|it already exists)/,
  );
  expect(r.stderr).not.toMatch(/E[A-Z]{3,}:/); // not "EEXIST: file already exists, mkdir …"
});
