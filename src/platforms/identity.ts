/**
 * Who a VM is on the platform that owns it, from what the host already has. Pure: the readers
 * in src/sources hand over the domain XML (libvirt; here) or the QEMU command line and Proxmox
 * config (plain QEMU; qemu-identity.ts) once per new domain at discovery; the result is
 * attached to the domain.
 *
 * Bad metadata never stops a VM from being measured: a document that does not parse gives no
 * identity and a warning, a hostile value is bounded (values.ts) with a warning.
 */
import type { Element } from "@xmldom/xmldom";
import type { PlatformIdentity } from "../model/types.js";
import { KUBEVIRT_NAMESPACE, kubevirtIdentity } from "./kubevirt/identity.js";
import { pickValue, type MetadataPick } from "./metadata-picks.js";
import { findNovaInstance, novaIdentity } from "./openstack/identity.js";
import type { IdentityResult } from "./qemu-identity.js";
import { Warnings } from "./values.js";
import { child, children, DomainXmlError, parseDomainDocument, text } from "./xml.js";

export interface DomainXmlIdentity extends IdentityResult {
  /** The domain's `<uuid>` (lower case) and `<name>` as the document says. */
  uuid: string | null;
  name: string | null;
}

/** Does the domain's SMBIOS say KubeVirt made it (`<sysinfo>` manufacturer or family)? */
function smbiosSaysKubevirt(root: Element): boolean {
  for (const si of children(root, null, "sysinfo")) {
    for (const sys of children(si, null, "system")) {
      for (const e of children(sys, null, "entry")) {
        const n = e.getAttribute("name");
        if ((n === "manufacturer" || n === "family") && /^kubevirt$/i.test((e.textContent ?? "").trim())) return true;
      }
    }
  }
  return false;
}

/** The identity in a libvirt domain XML document (`virsh dumpxml`). */
export function identityFromDomainXml(xml: string, picks: readonly MetadataPick[] = []): DomainXmlIdentity {
  let root: Element;
  try {
    root = parseDomainDocument(xml);
  } catch (e) {
    if (e instanceof DomainXmlError)
      return { uuid: null, name: null, platform: undefined, warnings: [`platform metadata not read: ${e.message}`] };
    throw e;
  }
  const w = new Warnings();
  const uuidText =
    text(child(root, null, "uuid"))
      ?.trim()
      .toLowerCase() ?? null;
  const uuid = uuidText !== null && /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/.test(uuidText) ? uuidText : null;
  const name = text(child(root, null, "name"))?.trim() ?? null;
  const metadata = child(root, null, "metadata");

  let platform: PlatformIdentity | undefined;
  const nova = metadata ? findNovaInstance(metadata) : null;
  if (nova) {
    platform = novaIdentity(nova, uuid, w);
  } else if (
    name !== null &&
    ((metadata && child(metadata, KUBEVIRT_NAMESPACE, "kubevirt")) || smbiosSaysKubevirt(root))
  ) {
    platform = kubevirtIdentity(name) ?? undefined;
  }
  if (metadata && picks.length > 0) {
    const chosen: Record<string, string> = {};
    for (const p of picks) {
      const v = w.take(pickValue(metadata, p), `metadata ${p.key}`);
      if (v !== undefined) chosen[p.key] = v;
    }
    if (Object.keys(chosen).length > 0) platform = { ...(platform ?? { kind: "libvirt" }), metadata: chosen };
  }
  return { uuid, name, platform, warnings: w.list };
}
