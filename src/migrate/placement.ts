/**
 * Where a VM's threads may run, as its libvirt domain XML says it, and the same XML rewritten
 * for another host's VM CPU set. Hosts that confine VMs to a set of CPUs (Nova's
 * `cpu_shared_set`, an operator's `<vcpu cpuset>` and `<emulatorpin>`) write that set into
 * every domain; a live migration copies the XML as it is, so without a rewrite a VM keeps the
 * source's CPU numbers on the target and may compete there for the wrong CPUs (or, with the
 * same numbers, for the target's host-reserved ones).
 *
 * Pure. libvirt writes its XML in one normalised form (attributes in single quotes, one
 * element per line), so only the start tags of the few elements concerned are touched and
 * everything else, the `<metadata>` of other tools above all, is kept byte for byte.
 */
import { formatCpuList, parseCpuList } from "../procfs/cpulist.js";

export interface Placement {
  /** `<vcpu cpuset>`: the default set of every vCPU, or null. */
  vcpu: string | null;
  /** `<vcpupin vcpu cpuset>` per vCPU. */
  vcpupin: { vcpu: number; cpuset: string }[];
  /** `<emulatorpin cpuset>`, or null. */
  emulatorpin: string | null;
  /** `<iothreadpin iothread cpuset>`. */
  iothreadpin: { iothread: number; cpuset: string }[];
}

/** A domain whose placement cannot be carried to another host's CPU set. */
export class PlacementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlacementError";
  }
}

/** Blanks out what must never be matched (`<metadata>` of other tools, comments), keeping offsets. */
function mask(xml: string): string {
  const blank = (m: string): string => m.replace(/[^\n]/g, " ");
  return xml
    .replace(/<metadata\b[\s\S]*?<\/metadata\s*>/g, blank)
    .replace(/<metadata\b[^>]*\/>/g, blank)
    .replace(/<!--[\s\S]*?-->/g, blank);
}

interface Tag {
  name: string;
  start: number;
  end: number;
  text: string;
}

/** Start (or empty) tags named `name`, outside the masked parts. */
function tags(xml: string, masked: string, name: string): Tag[] {
  const re = new RegExp(`<${name}(?=[\\s/>])[^>]*>`, "g");
  const out: Tag[] = [];
  for (let m = re.exec(masked); m !== null; m = re.exec(masked))
    out.push({ name, start: m.index, end: m.index + m[0].length, text: xml.slice(m.index, m.index + m[0].length) });
  return out;
}

const attrRe = (a: string): RegExp => new RegExp(`\\s${a}\\s*=\\s*(?:'([^']*)'|"([^"]*)")`);
function attr(tag: string, a: string): string | null {
  const m = attrRe(a).exec(tag);
  return m ? (m[1] ?? m[2] ?? "") : null;
}
function setAttr(tag: string, a: string, value: string): string {
  if (attrRe(a).test(tag)) return tag.replace(attrRe(a), ` ${a}='${value}'`);
  return tag.replace(/\s*(\/?>)$/, ` ${a}='${value}'$1`);
}

/** Canonical form of a CPU list (`0,1,2` → `0-2`); throws PlacementError on a bad one. */
export function canonicalCpus(list: string, what: string): string {
  try {
    const cpus = parseCpuList(list, what);
    if (cpus.length === 0) throw new PlacementError(`${what}: empty CPU list`);
    return formatCpuList(cpus);
  } catch (e) {
    if (e instanceof PlacementError) throw e;
    throw new PlacementError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The placement a domain XML asks for. */
export function placementOf(xml: string): Placement {
  const masked = mask(xml);
  const vcpu = tags(xml, masked, "vcpu")[0];
  const num = (s: string | null): number => (s !== null && /^[0-9]+$/.test(s) ? Number(s) : -1);
  return {
    vcpu: vcpu ? attr(vcpu.text, "cpuset") : null,
    vcpupin: tags(xml, masked, "vcpupin").map((t) => ({
      vcpu: num(attr(t.text, "vcpu")),
      cpuset: attr(t.text, "cpuset") ?? "",
    })),
    emulatorpin: tags(xml, masked, "emulatorpin").map((t) => attr(t.text, "cpuset"))[0] ?? null,
    iothreadpin: tags(xml, masked, "iothreadpin").map((t) => ({
      iothread: num(attr(t.text, "iothread")),
      cpuset: attr(t.text, "cpuset") ?? "",
    })),
  };
}

/**
 * The CPU set a domain is placed on when all its threads share one (the shared-set placement
 * Nova and most operators use), null when it is not confined at all.
 * @throws PlacementError when its vCPUs are pinned to different CPUs (dedicated pinning, which
 *   no set-level rewrite can carry to another host).
 */
export function sharedCpuSet(p: Placement): string | null {
  const sets = new Set<string>();
  if (p.vcpu !== null) sets.add(canonicalCpus(p.vcpu, "<vcpu cpuset>"));
  const pins = new Set(p.vcpupin.map((x) => canonicalCpus(x.cpuset, `<vcpupin vcpu='${x.vcpu}'>`)));
  if (pins.size > 1) {
    throw new PlacementError(
      `its vCPUs are pinned to different host CPUs (${p.vcpupin.map((x) => `vCPU ${x.vcpu}: ${x.cpuset}`).join(", ")}): dedicated pinning cannot be carried to another host's CPU set; move it by hand`,
    );
  }
  for (const s of pins) sets.add(s);
  if (p.emulatorpin !== null) sets.add(canonicalCpus(p.emulatorpin, "<emulatorpin>"));
  if (sets.size === 0) return null;
  return formatCpuList([...sets].flatMap((s) => parseCpuList(s)));
}

/**
 * The domain XML placed on `cpus` (the target's VM CPU set): `<vcpu cpuset>` (placement
 * static), every `<vcpupin>`, `<emulatorpin>` (added in `<cputune>` when missing) and every
 * `<iothreadpin>` name exactly that set. `<numatune>` is left alone.
 * @throws PlacementError for dedicated pinning or XML without a `<vcpu>` element.
 */
export function rewritePlacement(xml: string, cpus: string): string {
  const target = canonicalCpus(cpus, "target VM CPU set");
  const p = placementOf(xml);
  sharedCpuSet(p); // refuses dedicated pinning
  const masked = mask(xml);
  const vcpu = tags(xml, masked, "vcpu")[0];
  if (!vcpu) throw new PlacementError("the domain XML has no <vcpu> element");
  const edits: { start: number; end: number; text: string }[] = [];
  const placement = attr(vcpu.text, "placement");
  let vtag = setAttr(vcpu.text, "cpuset", target);
  if (placement !== null && placement !== "static") vtag = setAttr(vtag, "placement", "static");
  edits.push({ start: vcpu.start, end: vcpu.end, text: vtag });
  for (const name of ["vcpupin", "emulatorpin", "iothreadpin"]) {
    for (const t of tags(xml, masked, name))
      edits.push({ start: t.start, end: t.end, text: setAttr(t.text, "cpuset", target) });
  }
  if (p.emulatorpin === null) {
    const tune = tags(xml, masked, "cputune")[0];
    const indent = /\n([ \t]*)<vcpu\b/.exec(xml)?.[1] ?? "  ";
    if (tune && !tune.text.endsWith("/>")) {
      edits.push({ start: tune.end, end: tune.end, text: `\n${indent}${indent}<emulatorpin cpuset='${target}'/>` });
    } else if (tune) {
      edits.push({
        start: tune.start,
        end: tune.end,
        text: `<cputune>\n${indent}${indent}<emulatorpin cpuset='${target}'/>\n${indent}</cputune>`,
      });
    } else {
      // Right after the <vcpu> element (libvirt's schema takes <cputune> anywhere in <domain>).
      const close = masked.indexOf("</vcpu>", vcpu.end);
      const at = vcpu.text.endsWith("/>") || close < 0 ? vcpu.end : close + "</vcpu>".length;
      edits.push({
        start: at,
        end: at,
        text: `\n${indent}<cputune>\n${indent}${indent}<emulatorpin cpuset='${target}'/>\n${indent}</cputune>`,
      });
    }
  }
  edits.sort((a, b) => b.start - a.start);
  let out = xml;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
