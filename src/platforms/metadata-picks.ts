/**
 * Chosen elements of a domain's `<metadata>` by namespace and path (`--domain-metadata
 * KEY={NAMESPACE}PATH`), for shops that tag VMs their own way. Pure.
 *
 * `team={http://example.com/ns/ops}owner/team` takes the text of `<team>` inside `<owner>`, the
 * element of that namespace directly under `<metadata>`; a last step `@name` takes an attribute
 * instead (`cost={http://example.com/ns/ops}owner/@costcenter`). Steps below the first match
 * elements of the same namespace or of none, whatever their prefix.
 */
import type { Element } from "@xmldom/xmldom";
import { attr, children, text } from "./xml.js";

export interface MetadataPick {
  /** The key in the identity's `metadata` and, as `meta_<key>`, the info series' label. */
  key: string;
  ns: string;
  /** Local names of elements, the first one directly under `<metadata>`. */
  path: string[];
  /** An attribute of the last element instead of its text. */
  attr: string | null;
}

const KEY = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;
const NAME = /^[A-Za-z_][\w.-]*$/;

export class MetadataPickError extends Error {}

/** Parses `KEY={NAMESPACE}PATH`; throws MetadataPickError with what to write instead. */
export function parseMetadataPick(spec: string): MetadataPick {
  const m = /^([^=]+)=\{([^}]+)\}(.+)$/.exec(spec.trim());
  const example = "team={http://example.com/ns/ops}owner/team";
  if (!m)
    throw new MetadataPickError(
      `--domain-metadata ${JSON.stringify(spec)}: expected KEY={NAMESPACE}PATH, e.g. ${example}`,
    );
  const [, key = "", ns = "", rest = ""] = m;
  if (!KEY.test(key))
    throw new MetadataPickError(
      `--domain-metadata ${JSON.stringify(spec)}: KEY must be a label name (letters, digits, _; not starting with a digit), got ${JSON.stringify(key)}`,
    );
  const steps = rest.split("/");
  let attrName: string | null = null;
  const last = steps[steps.length - 1] ?? "";
  if (last.startsWith("@")) {
    attrName = last.slice(1);
    steps.pop();
    if (!NAME.test(attrName))
      throw new MetadataPickError(
        `--domain-metadata ${JSON.stringify(spec)}: bad attribute name ${JSON.stringify(attrName)}`,
      );
  }
  if (steps.length === 0 || steps.some((s) => !NAME.test(s))) {
    throw new MetadataPickError(
      `--domain-metadata ${JSON.stringify(spec)}: PATH must be element names separated by / (optionally ending in /@attribute), e.g. ${example}`,
    );
  }
  return { key, ns, path: steps, attr: attrName };
}

/** The value a pick selects under `<metadata>`, or null when absent. */
export function pickValue(metadata: Element, p: MetadataPick): string | null {
  let cur: Element | null = children(metadata, p.ns, p.path[0]!)[0] ?? null;
  for (const step of p.path.slice(1)) {
    if (!cur) return null;
    const c: Element | null = cur;
    cur = children(c, p.ns, step)[0] ?? children(c, null, step)[0] ?? null;
  }
  if (!cur) return null;
  return p.attr !== null ? attr(cur, p.attr) : text(cur);
}
