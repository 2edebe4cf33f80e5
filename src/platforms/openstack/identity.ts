/**
 * Who a Nova instance is, from the `<nova:instance>` element Nova's libvirt driver writes into
 * the domain's `<metadata>` (namespace `http://openstack.org/xmlns/libvirt/nova/1.0`, or `…/1.1`
 * since Nova added ports to it): display name, flavor (name, vCPUs, memory), owner user and
 * project (names and ids). Nova's instance UUID is the domain's UUID. Pure.
 *
 * ```xml
 * <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
 *   <nova:name>web-1</nova:name>
 *   <nova:flavor name="m1.small"><nova:memory>2048</nova:memory><nova:vcpus>1</nova:vcpus>…</nova:flavor>
 *   <nova:owner><nova:user uuid="…">alice</nova:user><nova:project uuid="…">shop</nova:project></nova:owner>
 * </nova:instance>
 * ```
 */
import type { Element } from "@xmldom/xmldom";
import type { PlatformIdentity } from "../../model/types.js";
import type { Warnings } from "../values.js";
import { attr, child, children, text } from "../xml.js";

export const NOVA_NAMESPACES = [
  "http://openstack.org/xmlns/libvirt/nova/1.0",
  "http://openstack.org/xmlns/libvirt/nova/1.1",
] as const;

/** The `<nova:instance>` element under `<metadata>`, newest namespace first, or null. */
export function findNovaInstance(metadata: Element): Element | null {
  for (const ns of [...NOVA_NAMESPACES].reverse()) {
    const el = children(metadata, ns, "instance")[0];
    if (el) return el;
  }
  return null;
}

/** The identity in a `<nova:instance>` element; `uuid` is the domain's. */
export function novaIdentity(instance: Element, uuid: string | null, w: Warnings): PlatformIdentity {
  const ns = instance.namespaceURI;
  const flavor = child(instance, ns, "flavor");
  const owner = child(instance, ns, "owner");
  const user = owner ? child(owner, ns, "user") : null;
  const project = owner ? child(owner, ns, "project") : null;
  const id: PlatformIdentity = { kind: "openstack" };
  const set = <K extends keyof PlatformIdentity>(k: K, v: PlatformIdentity[K] | undefined): void => {
    if (v !== undefined) id[k] = v;
  };
  set("id", uuid ?? undefined);
  set("name", w.take(text(child(instance, ns, "name")), "nova:name"));
  set("project", w.take(text(project), "nova:owner/nova:project"));
  set("project_id", w.take(attr(project, "uuid"), "nova:owner/nova:project/@uuid"));
  set("user", w.take(text(user), "nova:owner/nova:user"));
  set("user_id", w.take(attr(user, "uuid"), "nova:owner/nova:user/@uuid"));
  set("flavor", w.take(attr(flavor, "name"), "nova:flavor/@name"));
  if (flavor) {
    set("flavor_vcpus", w.int(text(child(flavor, ns, "vcpus")), "nova:flavor/nova:vcpus", 1, 65_536));
    set("flavor_memory_mib", w.int(text(child(flavor, ns, "memory")), "nova:flavor/nova:memory", 0, 1 << 30));
  }
  return id;
}
