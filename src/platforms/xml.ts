/**
 * Namespace-aware reading of a libvirt domain XML document (pure): the document is parsed with
 * a real XML parser, elements are matched by namespace URI and local name, never by prefix
 * (libvirt and Nova may write any prefix).
 */
import { DOMParser, type Element } from "@xmldom/xmldom";

/** Longest domain XML read (a domain with hundreds of devices is well under 1 MiB). */
export const MAX_DOMAIN_XML_BYTES = 4 * 1024 * 1024;

export class DomainXmlError extends Error {}

/** Parses a domain XML document; throws DomainXmlError when it is not well-formed or not a domain. */
export function parseDomainDocument(xml: string): Element {
  if (xml.length > MAX_DOMAIN_XML_BYTES)
    throw new DomainXmlError(`domain XML is ${xml.length} bytes, more than ${MAX_DOMAIN_XML_BYTES}`);
  let root: Element | null;
  try {
    const doc = new DOMParser({
      onError: (level, msg) => {
        if (level !== "warning") throw new DomainXmlError(msg.split("\n")[0] ?? msg);
      },
    }).parseFromString(xml, "text/xml");
    root = doc.documentElement;
  } catch (e) {
    throw new DomainXmlError(
      `domain XML is not well-formed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
    );
  }
  if (!root || root.localName !== "domain")
    throw new DomainXmlError(`not a libvirt domain XML (root element ${root ? `<${root.tagName}>` : "missing"})`);
  return root;
}

/** Child elements of `el`, optionally only those in namespace `ns` (null: no namespace) with local name `local`. */
export function children(el: Element, ns?: string | null, local?: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    const e = n as Element;
    if (ns !== undefined && (e.namespaceURI ?? null) !== ns) continue;
    if (local !== undefined && e.localName !== local) continue;
    out.push(e);
  }
  return out;
}

export function child(el: Element, ns: string | null, local: string): Element | null {
  return children(el, ns, local)[0] ?? null;
}

/** The text of an element (its descendants' text, as XPath string() has it). */
export function text(el: Element | null): string | null {
  return el ? (el.textContent ?? "") : null;
}

export function attr(el: Element | null, name: string): string | null {
  return el && el.hasAttribute(name) ? el.getAttribute(name) : null;
}
