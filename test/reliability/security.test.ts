/**
 * Who can reach the agent and what it gives away: loopback by default, TLS and basic auth
 * through --web.config.file, config errors refused at start, webhook secrets never logged.
 * Real agents, real sockets, a real self-signed certificate and bcrypt hash.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentRefuses, sleep, spawnAgent, waitHealth, type AgentProcess } from "./agent.js";
import { describeIf, rootMissing } from "./env.js";
import { FakeVm, fakeName } from "./fake-qemu.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vsteal-rel-sec-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** TCP sockets in LISTEN state that process `pid` holds, as "address:port" (from its netns's /proc/net/tcp{,6}). */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  const out: string[] = [];
  for (const [file, v6] of [
    ["tcp", false],
    ["tcp6", true],
  ] as const) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, "utf8");
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A" || !inodes.has(f[9]!)) continue; // 0A = LISTEN
      const [hexAddr = "", hexPort = ""] = (f[1] ?? "").split(":");
      out.push(`${v6 ? ipv6(hexAddr) : ipv4(hexAddr)}:${parseInt(hexPort, 16)}`);
    }
  }
  return out.sort();
}

/** /proc/net/tcp writes addresses as host-order (little-endian) 32-bit words. */
function ipv4(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");
}
function ipv6(hex: string): string {
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const le = hex.slice(w * 8, w * 8 + 8);
    const be = [3, 2, 1, 0].map((i) => le.slice(i * 2, i * 2 + 2)).join("");
    words.push(be.slice(0, 4), be.slice(4, 8));
  }
  return `[${words.map((x) => x.replace(/^0+(?=.)/, "")).join(":")}]`;
}

describeIf(rootMissing)("loopback by default (root: the agent runs in a network namespace of its own)", () => {
  it("without --web.listen-address the agent listens on 127.0.0.1:9977 and nowhere else", async () => {
    // Port 9977 may be taken on this host by other sessions' agents: a private network
    // namespace has its own ports and its own /proc/PID/net/tcp.
    const agent = await spawnAgent(["--source", "qemu", "--history.dir", "", "--interval", "1"], {
      ownListenAddress: true,
      wrap: ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"'],
    });
    try {
      expect(agent.url).toBe("http://127.0.0.1:9977");
      expect(listeningSockets(agent.child.pid!)).toEqual(["127.0.0.1:9977"]);
    } finally {
      await agent.stop();
    }
  });

  it("the listening-socket reader itself sees an all-interfaces listener (the control)", async () => {
    const agent = await spawnAgent(
      ["--source", "qemu", "--history.dir", "", "--interval", "1", "--web.listen-address", ":9977"],
      {
        ownListenAddress: true,
        wrap: ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"'],
      },
    );
    try {
      expect(listeningSockets(agent.child.pid!)).toEqual(["0.0.0.0:9977"]);
    } finally {
      await agent.stop();
    }
  });
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function httpsGet(url: string, opts: { ca: Buffer; auth?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: opts.ca,
        headers: opts.auth ? { authorization: `Basic ${Buffer.from(opts.auth).toString("base64")}` } : {},
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("TLS and basic auth through --web.config.file", () => {
  let agent: AgentProcess;
  let cert: Buffer;
  const PASSWORD = "correct horse battery staple";

  beforeAll(async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "1",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        join(dir, "tls.key"),
        "-out",
        join(dir, "tls.crt"),
      ],
      { stdio: "ignore" },
    );
    cert = readFileSync(join(dir, "tls.crt"));
    const hash = bcrypt.hashSync(PASSWORD, 10);
    writeFileSync(
      join(dir, "web.yml"),
      `tls_server_config:\n  cert_file: ${join(dir, "tls.crt")}\n  key_file: ${join(dir, "tls.key")}\nbasic_auth_users:\n  prometheus: ${hash}\n`,
    );
    agent = await spawnAgent([
      "--web.config.file",
      join(dir, "web.yml"),
      "--source",
      "qemu",
      "--history.dir",
      "",
      "--interval",
      "1",
    ]);
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it("serves https", () => {
    expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("the right password: 200 on /metrics and the API", async () => {
    const m = await httpsGet(`${agent.url}/metrics`, { ca: cert, auth: `prometheus:${PASSWORD}` });
    expect(m.status).toBe(200);
    expect(m.body).toMatch(/^vsteal_host_cpus \d+$/m);
    // Twice: the second one is answered from the remembered (hashed) credentials.
    expect((await httpsGet(`${agent.url}/api/v1/health`, { ca: cert, auth: `prometheus:${PASSWORD}` })).status).toBe(
      200,
    );
  });

  it("no credentials, a wrong password, an unknown user, a malformed header: 401 with a challenge, nothing served", async () => {
    for (const auth of [undefined, `prometheus:${PASSWORD}x`, "prometheus:", `nobody:${PASSWORD}`, "no-colon", ""]) {
      for (const path of ["/metrics", "/api/v1/domains", "/"]) {
        const r = await httpsGet(`${agent.url}${path}`, { ca: cert, auth });
        expect(r.status, `${path} with ${JSON.stringify(auth)}`).toBe(401);
        expect(r.headers["www-authenticate"]).toMatch(/^Basic /);
        expect(r.body).not.toMatch(/vsteal_|domains/);
      }
    }
  });

  it("plain http to the TLS port gets no data", async () => {
    const port = new URL(agent.url).port;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/metrics", timeout: 10_000 }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(`status ${res.statusCode}: ${body.slice(0, 100)}`));
      });
      req.on("timeout", () => {
        req.destroy();
        resolve("timeout");
      });
      req.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      req.end();
    });
    expect(outcome).not.toMatch(/^status 2/);
    expect(outcome).not.toMatch(/vsteal_/);
  });
});

describe("config errors are refused at start with file:line: field", () => {
  const cases: Array<{ name: string; file: string; flag: string; text: string; want: RegExp; secret?: string }> = [
    {
      name: "web config: bad YAML",
      file: "web-bad-yaml.yml",
      flag: "--web.config.file",
      text: "basic_auth_users:\n  prometheus: [unclosed\n",
      want: /web-bad-yaml\.yml:\d+: not valid YAML/,
    },
    {
      name: "web config: unknown field",
      file: "web-unknown-field.yml",
      flag: "--web.config.file",
      text: "tls_server_config:\n  cert_file: /x.crt\n  key_file: /x.key\n  cert_flie: /y\n",
      want: /web-unknown-field\.yml:4: tls_server_config\.cert_flie: unknown field/,
    },
    {
      name: "web config: a password instead of a bcrypt hash",
      file: "web-not-bcrypt.yml",
      flag: "--web.config.file",
      text: "basic_auth_users:\n  prometheus: hunter2-plain-password\n",
      want: /web-not-bcrypt\.yml:2: basic_auth_users\.prometheus: expected a bcrypt hash/,
      secret: "hunter2-plain-password",
    },
    {
      name: "alerts config: a duration in words",
      file: "alerts-bad-for.yml",
      flag: "--alerts.config",
      text: 'rules:\n  - name: X\n    metric: host_demand_ratio\n    op: ">"\n    threshold: 1\n    for: 3 minutes\n',
      want: /alerts-bad-for\.yml:6: rules\[0\]\.for: expected a duration like 30s, 5m or 1h30m, or seconds like 0\.5, got "3 minutes"/,
    },
    // Config that would start but could not work (hostile-input review, class 5).
    {
      name: "web config: bcrypt cost 31 (seconds of CPU per login)",
      file: "web-cost.yml",
      flag: "--web.config.file",
      text: `basic_auth_users:\n  prometheus: "$2y$31$${"a".repeat(53)}"\n`,
      want: /web-cost\.yml:2: basic_auth_users\.prometheus: bcrypt cost 31 is outside 4–14/,
    },
    {
      name: "web config: a response header Node would refuse on every request",
      file: "web-header.yml",
      flag: "--web.config.file",
      text: 'http_server_config:\n  headers:\n    "X Frame": DENY\n',
      want: /web-header\.yml:3: http_server_config\.headers\["X Frame"\]: not a valid HTTP header name/,
    },
    {
      name: "web config: client certificates required but no CA to verify them",
      file: "web-noca.yml",
      flag: "--web.config.file",
      text: "tls_server_config:\n  cert_file: /x.crt\n  key_file: /x.key\n  client_auth_type: RequireAndVerifyClientCert\n",
      want: /web-noca\.yml:1: tls_server_config\.client_ca_file: required with client_auth_type/,
    },
    {
      name: "alerts config: a webhook URL with credentials",
      file: "alerts-cred.yml",
      flag: "--alerts.config",
      text: 'rules:\n  - name: X\n    metric: host_demand_ratio\n    op: ">"\n    threshold: 1\n    for: 3m\n    webhooks:\n      - url: "https://ops:pa55word-in-url@hooks.example/x"\n',
      want: /alerts-cred\.yml:8: rules\[0\]\.webhooks\[0\]\.url: must not hold credentials/,
      secret: "pa55word-in-url",
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const file = join(dir, c.file);
      writeFileSync(file, c.text);
      const r = await agentRefuses([c.flag, file, "--source", "qemu"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(c.want);
      expect(r.stderr).not.toMatch(/listening on/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      if (c.secret) expect(r.stderr).not.toContain(c.secret);
    });
  }
});

describe("no secrets in logs", () => {
  let hook: Server;
  const received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  let vm: FakeVm;

  beforeAll(async () => {
    hook = createServer((req, res) => {
      received.push({ url: req.url ?? "", headers: req.headers });
      req.resume();
      res.statusCode = 503; // a failing receiver: the notifier retries and logs its failures
      res.end("down\n");
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    // Something that uses CPU, so host demand is above 0 everywhere this runs.
    vm = await FakeVm.start({ name: fakeName("secret"), vcpus: 1, busy: 30 });
  });
  afterAll(async () => {
    hook?.close();
    await vm?.kill();
  });

  it(
    "a webhook's token, URL path and query and ${ENV} values never reach stderr, the API or the metrics",
    { timeout: 60_000 },
    async () => {
      const port = (hook.address() as AddressInfo).port;
      const secrets = ["SECRET123", "PATHSECRET456", "QSECRET789", "ENVSECRET321"];
      const file = join(dir, "alerts-secret.yml");
      writeFileSync(
        file,
        [
          "webhooks:",
          `  - url: http://127.0.0.1:${port}/hook/PATHSECRET456?token=QSECRET789`,
          '    headers: {Authorization: "Bearer SECRET123", X-Extra: "${REL_WEBHOOK_TOKEN}"}',
          "    timeout: 1s",
          "    retries: 2",
          "rules:",
          "  - name: HostBusy",
          "    metric: host_demand_ratio",
          '    op: ">"',
          "    threshold: 0",
          "    for: 0s",
          "",
        ].join("\n"),
      );
      const agent = await spawnAgent(
        ["--alerts.config", file, "--source", "qemu", "--interval", "1", "--history.dir", ""],
        { env: { REL_WEBHOOK_TOKEN: "ENVSECRET321" } },
      );
      try {
        await waitHealth(agent.url, (h) => h.sweeps >= 2, "2 sweeps");
        // Fired, delivered three times (1 + 2 retries) to a receiver that fails, failure logged.
        for (let i = 0; i < 150 && !/webhook delivery failed/.test(agent.stderr()); i++) await sleep(200);
        expect(agent.stderr()).toMatch(/alert firing/);
        expect(agent.stderr()).toMatch(/webhook delivery failed/);
        expect(received.length).toBeGreaterThanOrEqual(3);
        // The secrets were really in use...
        expect(received[0]?.headers.authorization).toBe("Bearer SECRET123");
        expect(received[0]?.headers["x-extra"]).toBe("ENVSECRET321");
        expect(received[0]?.url).toBe("/hook/PATHSECRET456?token=QSECRET789");
        // ...and are nowhere a reader of the agent sees them.
        const api = await Promise.all(
          ["/api/v1/alerts", "/api/v1/health", "/metrics", "/api/v1/host"].map(async (p) =>
            (await fetch(`${agent.url}${p}`)).text(),
          ),
        );
        await agent.stop();
        const err = agent.stderr();
        for (const s of secrets) {
          expect(err, `stderr holds ${s}`).not.toContain(s);
          for (const body of api) expect(body).not.toContain(s);
        }
        expect(err).toMatch(/HostBusy#0/); // webhooks are named by rule and position
      } finally {
        await agent.stop();
      }
    },
  );
});

describe("flags that would start but could not work are refused at start", () => {
  for (const [args, want] of [
    [["--web.telemetry-path", "/api/v1/host"], /--web\.telemetry-path "\/api\/v1\/host": would shadow the JSON API/],
    [["--web.telemetry-path", "/metrics?x=1"], /--web\.telemetry-path "\/metrics\?x=1": must be a path only/],
    [["--interval", "30d"], /--interval.*must be at most 24d20h31m23s/],
    [["--reserved-cpus", "100000"], /--reserved-cpus 100000: not below the \d+ CPUs? VMs may use/],
  ] as const) {
    it(args.join(" "), async () => {
      const r = await agentRefuses([...args, "--source", "qemu"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(want);
      expect(r.stderr).not.toMatch(/listening on/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
