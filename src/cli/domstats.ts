import type { DomainSample, RatesSample, Sample } from "../model/types.js";
import { computeRates } from "../collect/rates.js";
import { Sampler } from "../collect/sampler.js";
import type { SourceName } from "../sources/auto.js";
import { LibvirtUnavailableError, SourceError, UnknownDomainError } from "../sources/errors.js";
import { LibvirtSource } from "../sources/libvirt.js";
import type { QemuSource } from "../sources/qemu.js";
import { domstatsRecords, formatDomstatsJson, formatDomstatsText } from "./domstats-format.js";
import { reportProblems, type Io } from "./io.js";

export interface DomstatsOptions {
  vcpu?: boolean;
  raw?: boolean;
  json?: boolean;
  connect?: string;
  source?: SourceName;
  interval?: number;
  procRoot?: string;
}

/** Does DOMAIN (a name, a UUID or an id, as virsh takes them) name this domain? */
function matches(d: DomainSample, arg: string): boolean {
  return (
    d.domain.name === arg ||
    d.domain.uuid === arg.toLowerCase() ||
    (d.domain.id !== null && String(d.domain.id) === arg)
  );
}

/**
 * `vsteal domstats`: the `--vcpu` group of `virsh domstats`, read from /proc. Returns the exit
 * code: 0 when everything asked for was printed, 1 when a named domain is unknown (the others
 * are still printed).
 */
/** libvirt is absent or does not answer: where `--source auto` falls back to plain QEMU. */
function isUnavailable(e: unknown): boolean {
  return e instanceof LibvirtUnavailableError || (e instanceof SourceError && /virsh not found/.test(e.message));
}

/**
 * A sampler with its first discovery done. Named running domains are read from libvirt's
 * status files when this user may read them (no virsh process at all), else discovered in one
 * virsh run; platform identity, caps, memory, affinity and throttling are not read (domstats
 * prints none of them). `--source auto` does not
 * ping libvirt first: it falls back to plain QEMU when discovery finds libvirt unavailable.
 */
async function discoveredSampler(names: readonly string[], opts: DomstatsOptions): Promise<Sampler> {
  const make = (source: LibvirtSource | QemuSource): Sampler =>
    new Sampler({
      source,
      procRoot: opts.procRoot,
      readWait: true,
      discoveryIntervalMs: Number.POSITIVE_INFINITY,
      cgroupMounts: null, // no throttling counters: domstats prints none
    });
  const which = opts.source ?? "auto";
  if (which !== "qemu") {
    const sampler = make(
      new LibvirtSource({
        uri: opts.connect,
        procRoot: opts.procRoot,
        domains: names.length > 0 ? names : undefined,
        platformIdentity: false,
        resources: false,
      }),
    );
    try {
      await sampler.refresh();
      return sampler;
    } catch (e) {
      sampler.close();
      if (which === "libvirt" || !isUnavailable(e)) throw e;
    }
  }
  const { QemuSource } = await import("../sources/qemu.js");
  const sampler = make(new QemuSource(opts.procRoot));
  try {
    await sampler.refresh();
  } catch (e) {
    sampler.close();
    throw e;
  }
  return sampler;
}

export async function domstats(names: readonly string[], opts: DomstatsOptions, io: Io): Promise<number> {
  const sampler = await discoveredSampler(names, opts);
  try {
    const first = sampler.sweep();
    let last: Sample = first;
    let rates: RatesSample | undefined;
    if (opts.interval !== undefined) {
      await new Promise((r) => setTimeout(r, opts.interval! * 1000));
      last = sampler.sweep();
      rates = computeRates(first, last);
    }
    reportProblems(io, [...first.problems, ...(last === first ? [] : last.problems)]);
    let chosen = last.domains;
    let code = 0;
    if (names.length > 0) {
      chosen = [];
      for (const n of names) {
        const d = last.domains.find((x) => matches(x, n));
        if (d) chosen.push(d);
        else {
          io.err(`vsteal: ${new UnknownDomainError(n).message}`);
          code = 1;
        }
      }
    } else {
      // virsh's order: running domains by id, then inactive ones by name.
      chosen = [...chosen].sort(
        (a, b) =>
          (a.domain.id ?? Number.MAX_SAFE_INTEGER) - (b.domain.id ?? Number.MAX_SAFE_INTEGER) ||
          a.domain.name.localeCompare(b.domain.name),
      );
    }
    const records = domstatsRecords(chosen, rates);
    io.out(opts.json ? formatDomstatsJson(records) : formatDomstatsText(records));
    return code;
  } finally {
    sampler.close();
  }
}
