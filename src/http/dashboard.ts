import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context, Hono } from "hono";
import { setDashboardHeaders } from "./security-headers.js";

/** Where `npm run build` puts the dashboard: dist/web, beside dist/http where this module is built. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../web/", import.meta.url));

const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  [".html", "text/html; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".css", "text/css; charset=utf-8"],
  [".svg", "image/svg+xml"],
  [".png", "image/png"],
  [".ico", "image/x-icon"],
  [".txt", "text/plain; charset=utf-8"],
]);

/** A built file's name: one path segment of plain characters, no dot files. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** esbuild's `[name]-[hash]` names: their content never changes, so browsers may keep them. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z0-9]+$/;
const MAX_FILE_BYTES = 16 * 1024 * 1024;

interface WebFile {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
  cacheControl: string;
}

/**
 * The allow-list: the regular files directly in `root` with a known type, read once. Nothing else
 * is ever served, so no request path (`..`, `%2e%2e`, encoded slashes, NUL, backslashes) can reach
 * another file; symbolic links and subdirectories are skipped. Returns null when the root is missing.
 */
export function loadWebFiles(root: string): Map<string, WebFile> | null {
  if (root === DEFAULT_WEB_ROOT) {
    const embedded = embeddedWebFiles();
    if (embedded) return embedded;
  }
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return null;
  }
  const files = new Map<string, WebFile>();
  for (const name of names) {
    const type = webFileType(name);
    if (!type) continue;
    const path = join(root, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > MAX_FILE_BYTES) continue; // symlinks are not files to lstat
    files.set(name, webFile(name, type, new Uint8Array(readFileSync(path))));
  }
  return files;
}

function webFileType(name: string): string | null {
  const type = CONTENT_TYPES.get(extname(name).toLowerCase());
  return type && SAFE_NAME.test(name) && !name.includes("..") ? type : null;
}

function webFile(name: string, type: string, body: Uint8Array<ArrayBuffer>): WebFile {
  return {
    body,
    type,
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
    cacheControl: HASHED_NAME.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
  };
}

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding?: string): ArrayBuffer | string;
}

/**
 * The dashboard a single executable carries (the .deb's /usr/bin/vsteal, scripts/package.mjs):
 * node:sea assets `web/<name>`, listed one a line in the asset `web/.files`. Null when not one.
 */
function embeddedWebFiles(): Map<string, WebFile> | null {
  let sea: SeaModule;
  try {
    sea = createRequire(import.meta.url)("node:sea") as SeaModule;
    if (!sea.isSea()) return null;
  } catch {
    return null; // Node before 20.12: no single executables
  }
  let list: string;
  try {
    list = sea.getAsset("web/.files", "utf8") as string;
  } catch {
    return null;
  }
  const files = new Map<string, WebFile>();
  for (const name of list.split("\n")) {
    const type = webFileType(name);
    if (!type) continue;
    const body = new Uint8Array(sea.getAsset(`web/${name}`) as ArrayBuffer);
    if (body.length <= MAX_FILE_BYTES) files.set(name, webFile(name, type, body));
  }
  return files;
}

function send(c: Context, f: WebFile): Response {
  setDashboardHeaders(c);
  c.header("Cache-Control", f.cacheControl);
  c.header("ETag", f.etag);
  const inm = c.req.header("if-none-match");
  if (inm !== undefined && inm.split(",").some((t) => t.trim() === f.etag)) return c.body(null, 304);
  c.header("Content-Type", f.type);
  return c.body(f.body, 200);
}

/**
 * Serves the dashboard (`npm run build` → dist/web) at `/` on the agent's app, or on the fleet
 * controller's (`server: "controller"`; the page asks /api/v1/health which one it talks to),
 * with the dashboard's security headers. Mount it after the API so that /api/v1/… and the metrics path keep their own routes.
 */
export function mountDashboard(app: Hono, opts: { webRoot?: string; server?: "agent" | "controller" } = {}): void {
  const root = opts.webRoot ?? DEFAULT_WEB_ROOT;
  const files = loadWebFiles(root);
  const index = files?.get("index.html");

  app.get("/", (c) => {
    if (!files || !index) {
      setDashboardHeaders(c);
      c.header("Cache-Control", "no-cache");
      return c.text(
        `The vsteal dashboard is not built (no index.html in ${root}).\n` +
          `Build it with \`npm run build\` (or \`node scripts/build-web.mjs\`) and restart the ${opts.server ?? "agent"}.\n` +
          (opts.server === "controller"
            ? "The JSON API is at /api/v1/plan, /api/v1/plans, /api/v1/fleet and /api/v1/health.\n"
            : "The JSON API is at /api/v1/host, /api/v1/domains and /api/v1/health.\n"),
        503,
      );
    }
    return send(c, index);
  });

  app.get("/:file", (c) => {
    // Only names in the allow-list: a Map, so `__proto__` and friends are just unknown names.
    const f = files?.get(c.req.param("file"));
    return f ? send(c, f) : c.notFound();
  });
}
