/**
 * What libvirt's QEMU driver itself keeps about each running domain, read without asking
 * libvirt: its status file `<runDir>/<name>.xml` (`<domstatus state=… pid=…>` around the live
 * `<domain>`), rewritten by libvirt on every state change and removed when the domain stops.
 * Reading it is a file read: it neither talks to QEMU nor taints the domain.
 *
 * Used where a virsh process would cost more than the whole answer (`vsteal domstats NAME`):
 * anything unexpected (no file, not readable by this user, another layout, libvirt's driver
 * not running) gives `null`, and the caller asks virsh instead.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DomainState } from "../model/types.js";
import { isUuid, type DominfoRecord } from "./libvirt-parse.js";

/** A running domain as its status file has it: what `dominfo` + `vcpucount` say, and its QEMU. */
export interface StatusRecord extends DominfoRecord {
  /** The QEMU process (`<domstatus pid=…>`). */
  pid: number;
}

/** Longest status file read (they are ~10 KiB: the domain and QEMU's capabilities). */
const MAX_STATUS_BYTES = 4 * 1024 * 1024;

/** `<domstatus state=…>` (virDomainState as libvirt writes it) → the state as `virsh dominfo` prints it. */
const STATES: Readonly<Record<string, DomainState>> = {
  running: "running",
  blocked: "idle",
  paused: "paused",
  shutdown: "in shutdown",
  crashed: "crashed",
  pmsuspended: "pmsuspended",
};

const ENTITIES: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' };

/** Text or an attribute value with XML's references resolved; null when it is not XML. */
function unescape(s: string): string | null {
  if (!s.includes("&")) return s;
  let bad = false;
  const out = s.replace(
    /&(?:#x([0-9a-fA-F]{1,6})|#(\d{1,7})|([A-Za-z]{1,8}));|&/g,
    (_m, hex?: string, dec?: string, name?: string) => {
      const cp = hex !== undefined ? parseInt(hex, 16) : dec !== undefined ? Number(dec) : null;
      if (cp !== null && cp > 0 && cp <= 0x10ffff) return String.fromCodePoint(cp);
      const e = name === undefined ? undefined : ENTITIES[name];
      if (e === undefined) bad = true;
      return e ?? "";
    },
  );
  return bad ? null : out;
}

interface Element {
  attrs: Map<string, string>;
  text: string;
}

const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:'[^'<]*'|"[^"<]*"))*)\s*(\/?)>/y;
const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")/g;

/** Is `key` a wanted element or one of their ancestors? */
function wantedAbove(wanted: ReadonlySet<string>, key: string): boolean {
  for (const w of wanted) if (w === key || w.startsWith(`${key}/`)) return true;
  return false;
}

/**
 * The elements of a status file that matter, by path (`domstatus`, `domstatus/domain`,
 * `domstatus/domain/name`, …): a small scanner for the XML libvirt writes (comments, CDATA,
 * the domain's `<metadata>` with any namespaces, references). Null when the text is not
 * well-formed as far as it can tell: the caller then asks virsh.
 */
function scan(xml: string, wanted: ReadonlySet<string>): Map<string, Element> | null {
  const found = new Map<string, Element>();
  const path: string[] = [];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const textEnd = lt < 0 ? xml.length : lt;
    if (textEnd > i) {
      const here = found.get(path.join("/"));
      const t = unescape(xml.slice(i, textEnd));
      if (t === null || (path.length === 0 && t.trim() !== "")) return null;
      if (here && path.length > 0) here.text += t;
    }
    if (lt < 0) break;
    if (xml.startsWith("<!--", lt)) {
      const e = xml.indexOf("-->", lt + 4);
      if (e < 0) return null;
      i = e + 3;
    } else if (xml.startsWith("<![CDATA[", lt)) {
      const e = xml.indexOf("]]>", lt + 9);
      if (e < 0 || path.length === 0) return null;
      const here = found.get(path.join("/"));
      if (here) here.text += xml.slice(lt + 9, e);
      i = e + 3;
    } else if (xml.startsWith("<?", lt)) {
      const e = xml.indexOf("?>", lt + 2);
      if (e < 0) return null;
      i = e + 2;
    } else {
      TAG.lastIndex = lt;
      const m = TAG.exec(xml);
      if (m === null) return null;
      const [whole, close = "", name = "", attrText = "", selfClose = ""] = m;
      i = lt + whole.length;
      if (close !== "") {
        if (attrText !== "" || selfClose !== "" || path.pop() !== name) return null;
        continue;
      }
      if (path.length === 0 && found.size > 0) return null; // a second root
      path.push(name);
      const key = path.join("/");
      if (wanted.has(key) && !found.has(key)) {
        const attrs = new Map<string, string>();
        for (const a of attrText.matchAll(ATTR)) {
          const v = unescape(a[2] ?? a[3] ?? "");
          if (v === null) return null;
          attrs.set(a[1] ?? "", v);
        }
        found.set(key, { attrs, text: "" });
      } else if (path.length === 1) {
        return null; // not a status file
      } else if (path.length === 2 && selfClose === "" && !wantedAbove(wanted, key)) {
        // Beside the domain, libvirt's own bookkeeping (QEMU's capabilities are most of the
        // file): no name or value in it can hold a '<', so its end tag is where it ends.
        const end = xml.indexOf(`</${name}>`, i);
        if (end < 0) return null;
        i = end + name.length + 3;
        path.pop();
        continue;
      }
      if (selfClose !== "") path.pop();
    }
  }
  return path.length === 0 ? found : null;
}

const WANTED = new Set(
  ["", "/domain", "/domain/name", "/domain/uuid", "/domain/vcpu", "/domain/memory", "/domain/currentMemory"].map(
    (p) => `domstatus${p}`,
  ),
);

function positiveInt(s: string | undefined | null): number | null {
  return s != null && /^\s*\d{1,9}\s*$/.test(s) && Number(s) > 0 ? Number(s) : null;
}

/** A `<memory unit='KiB'>N</memory>` value in bytes; null when absent, undefined when not one (libvirt writes KiB). */
function kibBytes(el: Element | undefined): number | null | undefined {
  if (el === undefined) return null;
  const m = /^\s*(\d{1,13})\s*$/.exec(el.text);
  return m && (el.attrs.get("unit") ?? "KiB") === "KiB" ? Number(m[1]) * 1024 : undefined;
}

/**
 * Parses one status file (pure). Null when it is not a running domain's status as libvirt
 * writes it (6.x to 10.x): then nothing in it is trusted.
 */
export function parseStatusXml(xml: string): StatusRecord | null {
  if (xml.length > MAX_STATUS_BYTES) return null;
  const el = scan(xml, WANTED);
  if (el === null) return null;
  const root = el.get("domstatus");
  const dom = el.get("domstatus/domain");
  if (root === undefined || dom === undefined) return null;
  const state = STATES[root.attrs.get("state") ?? ""];
  const pid = positiveInt(root.attrs.get("pid"));
  const id = dom.attrs.get("id");
  const name = el.get("domstatus/domain/name")?.text;
  const uuid = el.get("domstatus/domain/uuid")?.text.trim().toLowerCase() ?? "";
  const vcpu = el.get("domstatus/domain/vcpu");
  const vcpuMaximum = positiveInt(vcpu?.text);
  const current = vcpu?.attrs.get("current");
  const vcpuCurrent = current === undefined ? vcpuMaximum : positiveInt(current);
  const maxMemoryBytes = kibBytes(el.get("domstatus/domain/memory"));
  const memoryBytes = kibBytes(el.get("domstatus/domain/currentMemory"));
  if (
    state === undefined ||
    pid === null ||
    id === undefined ||
    !/^\d{1,9}$/.test(id) ||
    name === undefined ||
    name === "" ||
    !isUuid(uuid) ||
    vcpuMaximum === null ||
    vcpuCurrent === null ||
    maxMemoryBytes === undefined ||
    memoryBytes === undefined
  )
    return null;
  return { uuid, name, id: Number(id), state, vcpuCurrent, vcpuMaximum, memoryBytes, maxMemoryBytes, pid };
}

function xmlEscape(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;")
    .replace(/"/g, "&quot;");
}

/** The file names libvirt may give a domain's run files: its name, or (libvirt 9) the XML-escaped name. */
export function runFileNames(name: string): string[] {
  return [...new Set([name, xmlEscape(name)])];
}

/** `virsh`'s reading of an argument as an id (virStrToLong_i: optional blanks and sign, digits). */
function asId(arg: string): number | null {
  const m = /^[ \t\n\v\f\r]*\+?(\d{1,9})$/.exec(arg);
  return m ? Number(m[1]) : null;
}

/** `virsh`'s reading of an argument as a UUID (32 hex digits, dashes anywhere between them). */
function asUuid(arg: string): string | null {
  const hex = arg.trim().replace(/-/g, "").toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex)
    ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    : null;
}

/** Is process `pid` alive in procRoot? */
function alive(procRoot: string, pid: number): boolean {
  try {
    readFileSync(join(procRoot, String(pid), "stat"));
    return true;
  } catch {
    return false;
  }
}

/**
 * The named domains (names, ids or UUIDs, looked up in virsh's order: id, then UUID, then
 * name) from libvirt's status files in `runDir`, or null when any of them is not found there
 * as a running domain (it may be shut off, unknown, or this user may not read the files): the
 * caller then asks virsh about all of them. Also null when libvirt's QEMU driver is not
 * running (`driver.pid`), since libvirt would then answer nothing at all.
 */
export function readStatusRecords(runDir: string, procRoot: string, args: readonly string[]): StatusRecord[] | null {
  const read = (file: string): StatusRecord | null => {
    let xml: string;
    try {
      xml = readFileSync(join(runDir, file), "utf8");
    } catch {
      return null;
    }
    const rec = parseStatusXml(xml);
    return rec !== null && alive(procRoot, rec.pid) ? rec : null;
  };
  let driver: number | null;
  try {
    driver = positiveInt(readFileSync(join(runDir, "driver.pid"), "latin1"));
  } catch {
    return null;
  }
  if (driver === null || !alive(procRoot, driver)) return null;

  let all: StatusRecord[] | null = null;
  const everyDomain = (): StatusRecord[] => {
    if (all !== null) return all;
    let files: string[];
    try {
      files = readdirSync(runDir).filter((f) => f.endsWith(".xml"));
    } catch {
      files = [];
    }
    all = files.map(read).filter((r): r is StatusRecord => r !== null);
    return all;
  };
  const out: StatusRecord[] = [];
  for (const arg of args) {
    const id = asId(arg);
    const uuid = asUuid(arg);
    const found =
      (id !== null ? everyDomain().find((r) => r.id === id) : undefined) ??
      (uuid !== null ? everyDomain().find((r) => r.uuid === uuid) : undefined) ??
      (/^\.{0,2}$|\//.test(arg) // never a domain's name (libvirt refuses '/'), never a path
        ? undefined
        : runFileNames(arg)
            .map((n) => read(`${n}.xml`))
            .find((r) => r !== null && r.name === arg));
    if (!found) return null;
    out.push(found);
  }
  return out;
}
