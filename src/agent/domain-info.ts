import type { DomainSample } from "../model/types.js";
import { identityLabels } from "../platforms/labels.js";
import { escapeLabelValue } from "./exposition.js";

/**
 * `vsteal_domain_info`: one series per VM with who it is on its platform (labels from
 * src/platforms/labels.ts), value 1, to be joined on uuid with `group_left`. An info metric in
 * OpenMetrics, a gauge in the Prometheus text format.
 */
export function renderDomainInfo(domains: readonly DomainSample[], openMetrics: boolean): string {
  const help =
    "Who the VM is on the platform that owns it (OpenStack Nova, Proxmox VE, KubeVirt, or libvirt alone); join on uuid.";
  const head = openMetrics
    ? `# HELP vsteal_domain ${help}\n# TYPE vsteal_domain info\n`
    : `# HELP vsteal_domain_info ${help}\n# TYPE vsteal_domain_info gauge\n`;
  const seen = new Set<string>();
  const lines = [head];
  for (const d of domains) {
    const key = `${d.domain.name}\u0000${d.domain.uuid ?? ""}`;
    if (seen.has(key)) continue; // a VM restarted between sweeps shows once
    seen.add(key);
    const labels = [
      ["domain", d.domain.name],
      ["uuid", d.domain.uuid ?? ""],
      ...identityLabels(d.domain.platform, d.domain.source),
    ];
    lines.push(`vsteal_domain_info{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v ?? "")}"`).join(",")}} 1\n`);
  }
  return lines.join("");
}
