/**
 * Hostile files around a real agent: history left owned by root after switching the agent
 * to its unit's user (here: nobody, via setpriv), and a token file that is /dev/zero. The
 * witness is the file system: the root-owned files keep their bytes; what the agent could
 * move aside is moved aside, never overwritten.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CLI } from "../e2e/virsh.js";
import { spawnAgent, waitHealth } from "./agent.js";
import { describeIf, rootMissing } from "./env.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vsteal-rel-files-"));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];

describeIf(rootMissing)("history owned by root, agent running as nobody", () => {
  it(
    "directory not writable by the agent: history stays in memory, the root-owned files keep every byte",
    { timeout: 60_000 },
    async () => {
      const h = join(dir, "ro");
      spawnSync("mkdir", ["-m", "755", h]);
      writeFileSync(join(h, "history.snapshot"), "root's snapshot bytes", { mode: 0o600 });
      writeFileSync(join(h, "history.journal"), "root's journal bytes", { mode: 0o600 });
      const agent = await spawnAgent(["--source", "qemu", "--interval", "1", "--history.dir", h], { wrap: NOBODY });
      try {
        await waitHealth(agent.url, () => true, "an answer");
        expect(agent.stderr()).toMatch(
          /the snapshot \S+history\.snapshot exists but cannot be read: permission denied \(EACCES\); nor can it be moved aside: permission denied \(EACCES\); history is kept in memory only/,
        );
      } finally {
        await agent.stop();
      }
      expect(readFileSync(join(h, "history.snapshot"), "utf8")).toBe("root's snapshot bytes");
      expect(readFileSync(join(h, "history.journal"), "utf8")).toBe("root's journal bytes");
      expect(readdirSync(h).sort()).toEqual(["history.journal", "history.snapshot"]);
    },
  );

  it(
    "directory writable by the agent: the unreadable files are set aside, and a new history begins",
    { timeout: 60_000 },
    async () => {
      const h = join(dir, "rw");
      spawnSync("mkdir", ["-m", "777", h]);
      writeFileSync(join(h, "history.snapshot"), "root's snapshot bytes", { mode: 0o600 });
      const agent = await spawnAgent(["--source", "qemu", "--interval", "1", "--history.dir", h], { wrap: NOBODY });
      try {
        await waitHealth(agent.url, () => true, "an answer");
      } finally {
        await agent.stop();
      }
      const aside = readdirSync(h).filter((f) => f.startsWith("history.snapshot.unreadable-"));
      expect(aside.length).toBe(1);
      expect(readFileSync(join(h, aside[0]!), "utf8")).toBe("root's snapshot bytes");
      expect(agent.stderr()).toMatch(
        /the snapshot \S+ exists but cannot be read: permission denied \(EACCES\); moved to \S+history\.snapshot\.unreadable-/,
      );
    },
  );
});

it("the controller with /dev/zero as its token file refuses at once, naming the file", () => {
  const hosts = join(dir, "migrate.yaml");
  writeFileSync(hosts, 'uri_template: "qemu+ssh://{host}/system"\n');
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      "controller",
      "--prometheus",
      "http://127.0.0.1:1",
      "--apply",
      "--migrate-hosts",
      hosts,
      "--token-file",
      "/dev/zero",
      "--web.listen-address",
      "127.0.0.1:0",
    ],
    {
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/the token file \/dev\/zero is larger than 4 KiB/);
});
