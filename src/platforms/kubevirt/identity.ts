/**
 * Who a KubeVirt VM is: virt-launcher names the libvirt domain `<namespace>_<name>` after the
 * VirtualMachineInstance. An underscore alone proves nothing (any libvirt domain may have one),
 * so the name is only read as KubeVirt's when there is evidence: KubeVirt's `<kubevirt
 * xmlns="http://kubevirt.io">` element in the domain's `<metadata>`, or "KubeVirt" on the QEMU
 * command line (the SMBIOS manufacturer and family virt-launcher sets, its private socket
 * paths). Pure.
 */
import type { PlatformIdentity } from "../../model/types.js";

export const KUBEVIRT_NAMESPACE = "http://kubevirt.io";

/** A DNS-1123 label (namespace) and a DNS-1123 subdomain (VMI name), as Kubernetes allows them. */
const DOMAIN_NAME = /^([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)_([a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)$/;

/** Namespace and VMI name from a domain name, or null when it is not of KubeVirt's form. */
export function kubevirtIdentity(domainName: string): PlatformIdentity | null {
  const m = DOMAIN_NAME.exec(domainName);
  if (!m) return null;
  return { kind: "kubevirt", namespace: m[1]!, name: m[2]! };
}

/** Does a QEMU command line come from virt-launcher? */
export function isKubevirtArgv(argv: readonly string[]): boolean {
  return argv.some((a) => /kubevirt/i.test(a));
}
