import type { DomainSample, RatesSample, VcpuRates } from "../model/types.js";
import { domainKey } from "../model/domain-key.js";
import { stringifyExact } from "../util/json.js";
import { safeText } from "../util/safe-text.js";

/** One domain's stats as virsh domstats names them, in virsh's order. */
export interface DomstatsRecord {
  name: string;
  uuid: string | null;
  id: number | null;
  state: string;
  params: Array<[string, bigint | number]>;
}

/** libvirt's virVcpuState: VIR_VCPU_RUNNING. */
const VCPU_RUNNING = 1;

/**
 * Builds the `--vcpu` group of `virsh domstats` from a sample (and rates, with --interval):
 * vcpu.current, vcpu.maximum, then for each online vCPU state, time (ns), wait, delay;
 * rates add vcpu.N.delay.ratio and vcpu.N.time.ratio after them.
 */
export function domstatsRecords(domains: readonly DomainSample[], rates?: RatesSample): DomstatsRecord[] {
  const rateOf = new Map<string, VcpuRates>();
  for (const d of rates?.domains ?? []) {
    const dk = domainKey(d.domain);
    for (const v of d.vcpus) rateOf.set(`${dk}|${v.vcpu}`, v);
  }
  return domains.map((d) => {
    const params: Array<[string, bigint | number]> = [
      ["vcpu.current", d.domain.vcpuCurrent],
      ["vcpu.maximum", d.domain.vcpuMaximum],
    ];
    const dk = domainKey(d.domain);
    for (const v of d.vcpus) {
      const p = `vcpu.${v.vcpu}`;
      params.push(
        [`${p}.state`, VCPU_RUNNING],
        [`${p}.time`, v.time],
        [`${p}.wait`, v.wait ?? 0n],
        [`${p}.delay`, v.delay],
      );
      const r = rateOf.get(`${dk}|${v.vcpu}`);
      if (rates) {
        // A vCPU without a rate (thread replaced during the interval) gets none rather than a wrong one.
        if (r) params.push([`${p}.delay.ratio`, r.delay], [`${p}.time.ratio`, r.usage]);
      }
    }
    return { name: d.domain.name, uuid: d.domain.uuid, id: d.domain.id, state: d.domain.state, params };
  });
}

function formatValue(v: bigint | number): string {
  if (typeof v === "bigint") return v.toString();
  return Number.isInteger(v) ? String(v) : v.toFixed(6);
}

/** virsh's text layout: `Domain: 'NAME'`, two-space indented key=value lines, a blank line after each. */
export function formatDomstatsText(records: readonly DomstatsRecord[]): string {
  let out = "";
  for (const r of records) {
    out += `Domain: '${safeText(r.name)}'\n`;
    for (const [k, v] of r.params) out += `  ${k}=${formatValue(v)}\n`;
    out += "\n";
  }
  return out;
}

/** JSON for programs: counters as exact integers (ns), ratios as numbers. */
export function formatDomstatsJson(records: readonly DomstatsRecord[]): string {
  return (
    stringifyExact(
      records.map((r) => ({
        domain: r.name,
        uuid: r.uuid,
        id: r.id,
        state: r.state,
        stats: Object.fromEntries(r.params),
      })),
      2,
    ) + "\n"
  );
}
