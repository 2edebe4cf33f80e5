/**
 * The contention model: from what the VMs on one host ask for, how much each vCPU runs and how
 * long it waits for other load. Pure and deterministic; no I/O.
 *
 * Inputs: the host's capacity in cores (CPUs minus reserved ones) and, per VM, its CFS weight
 * (libvirt gives every VM cpu.shares 1024, whatever its size) and per vCPU its demand — the
 * fraction of wall time it is runnable for reasons other than its own cap (usage + contention
 * delay) — and its cap.
 *
 * The CPU is shared as CFS group scheduling shares it: VMs get capacity in proportion to their
 * weights (weighted max-min fairness), a VM's share is split evenly among its runnable vCPUs,
 * and no vCPU thread runs on more than one core at a time. So a 1-vCPU VM gets twice the
 * per-vCPU share of a 2-vCPU VM next to it. Capacity nobody can use goes to whoever can.
 *
 * Two ways to treat a demand below 1:
 *
 * - `bursty` (default): a vCPU with demand 0.3 is runnable 30 % of the time, at full speed, and
 *   when it runs is independent of the other vCPUs. At any instant N vCPUs are runnable (N is
 *   Poisson-binomial); the host runs min(N, C) of them, so the host's expected wait is
 *   E[max(0, N − C)] whatever the weights — computed exactly, by dynamic programming over the
 *   vCPUs. Waiting starts before the host is full, as it does on real hosts.
 *   How that wait is split among the VMs does depend on the weights: it is the water-filling
 *   averaged over the joint on/off states of the VMs — all of them when there are few
 *   (≤ ENUMERATION_LIMIT), else `samples` states drawn by Latin hypercube sampling (each
 *   VM's number of runnable vCPUs follows its exact distribution over the states; which state
 *   gets which is fixed by a hash of the VM's id, so the result is deterministic, independent
 *   of input order, and a VM keeps its pattern when it moves). The split is scaled to the
 *   exact total; within a VM, waiting goes to its vCPUs in proportion to their demand.
 * - `fluid`: a vCPU with demand 0.3 asks for 0.3 of a core all the time: one water-filling.
 *   Nobody waits while total demand is below capacity.
 *
 * With demands of exactly 0 or 1 the two agree.
 */

/** libvirt's default cpu.shares for a VM (cgroup v1). */
export const DEFAULT_VM_WEIGHT = 1024;

export type ModelMode = "bursty" | "fluid";

export interface ModelOptions {
  mode: ModelMode;
  /** On/off states sampled for the split among VMs of a big host (`bursty`): a power of two, 8…1024. */
  samples: number;
}

export const DEFAULT_MODEL_OPTIONS: Readonly<ModelOptions> = { mode: "bursty", samples: 256 };

/** Up to this many joint on/off states of a host's VMs are enumerated exactly; beyond, sampled. */
export const ENUMERATION_LIMIT = 4096;

export interface ModelVcpu {
  /** Fraction of wall time the vCPU wants to run (usage + contention delay). */
  demand: number;
  /** Per-vCPU cap as a fraction of a core, null/undefined for none. */
  cap?: number | null;
}

export interface ModelVm {
  /** Stable identity (the VM's name): seeds its on/off pattern. */
  id: string;
  /** CFS weight; default 1024. */
  weight?: number;
  vcpus: readonly ModelVcpu[];
}

export interface VmPrediction {
  /** Per vCPU: predicted fraction of wall time it runs. */
  usage: number[];
  /** Per vCPU: predicted fraction of wall time it waits for other load (contention). */
  delay: number[];
}

export interface HostPrediction {
  vms: VmPrediction[];
  /** Σ delay, cores. */
  steal: number;
  /** Σ demand, cores. */
  demand: number;
  /** Σ usage, cores. */
  usage: number;
}

/** A vCPU's effective demand: within [0, 1] and never above its cap. */
export function effectiveDemand(v: ModelVcpu): number {
  let d = Number.isFinite(v.demand) ? v.demand : 0;
  if (v.cap !== null && v.cap !== undefined && Number.isFinite(v.cap)) d = Math.min(d, v.cap);
  return Math.min(1, Math.max(0, d));
}

export function checkModelOptions(o: ModelOptions): void {
  if (o.mode !== "bursty" && o.mode !== "fluid")
    throw new RangeError(`model mode must be "bursty" or "fluid", got ${String(o.mode)}`);
  if (!Number.isInteger(o.samples) || o.samples < 8 || o.samples > 1024 || (o.samples & (o.samples - 1)) !== 0) {
    throw new RangeError(`model samples must be a power of two from 8 to 1024, got ${o.samples}`);
  }
}

// ------------------------------------------------------------ water-filling

/**
 * Weighted max-min fair division of `capacity` among claimants with the given caps and
 * weights: claimant j gets min(cap_j, λ·w_j) with λ chosen so that the capacity is used up
 * (or everyone is at their cap). Writes into `out`.
 */
export function waterFill(
  capacity: number,
  caps: ArrayLike<number>,
  weights: ArrayLike<number>,
  n: number,
  out: Float64Array | number[],
  order?: number[],
): void {
  let total = 0;
  for (let j = 0; j < n; j++) total += caps[j]!;
  if (total <= capacity) {
    for (let j = 0; j < n; j++) out[j] = caps[j]!;
    return;
  }
  const idx = order ?? [];
  idx.length = 0;
  let weightSum = 0;
  for (let j = 0; j < n; j++) {
    if (caps[j]! > 0 && weights[j]! > 0) {
      idx.push(j);
      weightSum += weights[j]!;
    } else out[j] = 0;
  }
  idx.sort((x, y) => caps[x]! / weights[x]! - caps[y]! / weights[y]! || x - y);
  let left = Math.max(0, capacity);
  let a = 0;
  for (; a < idx.length; a++) {
    const j = idx[a]!;
    const fair = (left * weights[j]!) / weightSum;
    if (caps[j]! > fair) break;
    out[j] = caps[j]!;
    left -= caps[j]!;
    weightSum -= weights[j]!;
  }
  for (; a < idx.length; a++) {
    const j = idx[a]!;
    out[j] = (left * weights[j]!) / weightSum;
  }
}

/**
 * waterFill for equal weights and whole-number caps (numbers of runnable vCPUs), in
 * O(n + largest cap): the level λ where Σ min(cap_j, λ) = capacity, found cap value by cap value.
 * `hist` is scratch of at least largest cap + 2 entries.
 */
export function waterFillEqual(
  capacity: number,
  caps: ArrayLike<number>,
  n: number,
  out: Float64Array,
  hist: Int32Array,
): void {
  let total = 0;
  let maxCap = 0;
  for (let j = 0; j < n; j++) {
    total += caps[j]!;
    if (caps[j]! > maxCap) maxCap = caps[j]!;
  }
  if (total <= capacity) {
    for (let j = 0; j < n; j++) out[j] = caps[j]!;
    return;
  }
  hist.fill(0, 0, maxCap + 1);
  let above = 0;
  for (let j = 0; j < n; j++) {
    hist[caps[j]!]!++;
    if (caps[j]! > 0) above++;
  }
  // S(c) = Σ_{cap ≤ c} cap + c·#{cap > c}; S(c + 1) = sumBelow + (c + 1)·above.
  let sumBelow = 0;
  let level = 0;
  for (let c = 0; c < maxCap; c++) {
    if (c > 0) {
      sumBelow += c * hist[c]!;
      above -= hist[c]!;
    }
    const sc = sumBelow + c * above;
    const next = sumBelow + (c + 1) * above;
    if (capacity < next) {
      level = c + (capacity - sc) / above;
      break;
    }
  }
  for (let j = 0; j < n; j++) out[j] = Math.min(caps[j]!, level);
}

// ------------------------------------------------------------- on/off states

/** FNV-1a, 32 bits. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

// ------------------------------------------------------------ the host total

/**
 * Expected number of runnable vCPUs that cannot run, E[max(0, N − C)], for independent vCPUs
 * runnable with probabilities `p` on `capacity` cores: Σp − C + Σ_{n<C} (C − n)·P(N = n),
 * with P(N = n) for n < C by dynamic programming (O(vCPUs × C)).
 */
export function burstySteal(capacity: number, p: ArrayLike<number>, n: number = p.length): number {
  const C = Math.max(0, capacity);
  let mean = 0;
  let ones = 0;
  let active = 0;
  for (let i = 0; i < n; i++) {
    const x = p[i]!;
    mean += x;
    if (x >= 1) ones++;
    else if (x > 0) active++;
  }
  if (ones + active <= C + 1e-12) return 0;
  // P(N = n) for n = 0 … ⌈C⌉ − 1; vCPUs that are always on just shift N.
  const top = Math.ceil(C - 1e-12);
  const shift = ones;
  if (shift >= top) return Math.max(0, mean - C);
  const len = top - shift; // track m = N − shift for m < len
  const dist = new Float64Array(len);
  dist[0] = 1;
  for (let i = 0; i < n; i++) {
    const x = p[i]!;
    if (x <= 0 || x >= 1) continue;
    for (let m = len - 1; m >= 1; m--) dist[m] = dist[m]! * (1 - x) + dist[m - 1]! * x;
    dist[0] = dist[0]! * (1 - x);
  }
  let below = 0;
  for (let m = 0; m < len; m++) below += (C - (m + shift)) * dist[m]!;
  return Math.max(0, mean - C + below);
}

/** Predicted total contention delay of a host, cores: the planner's objective. */
export function hostSteal(
  capacity: number,
  demands: ArrayLike<number>,
  mode: ModelMode = "bursty",
  n: number = demands.length,
): number {
  if (mode === "fluid") {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += demands[i]!;
    return Math.max(0, sum - Math.max(0, capacity));
  }
  return burstySteal(capacity, demands, n);
}

// ------------------------------------------------------------ the split among VMs

/** Distribution of how many of these vCPUs are on (Poisson-binomial), index = count. */
function onCountDistribution(p: readonly number[]): number[] {
  let dist = [1];
  for (const x of p) {
    const next = new Array<number>(dist.length + 1).fill(0);
    for (let m = 0; m < dist.length; m++) {
      next[m]! += dist[m]! * (1 - x);
      next[m + 1]! += dist[m]! * x;
    }
    dist = next;
  }
  return dist;
}

/** Expected waiting of each VM (Σ over its vCPUs, cores), before scaling to the exact total. */
function splitByEnumeration(
  capacity: number,
  demands: readonly (readonly number[])[],
  weights: readonly number[],
): number[] {
  const n = demands.length;
  const dists = demands.map(onCountDistribution);
  const waited = new Array<number>(n).fill(0);
  const caps = new Float64Array(n);
  const alloc = new Float64Array(n);
  const counts = new Array<number>(n).fill(0);
  const equal = weights.every((w) => w === weights[0]);
  const hist = new Int32Array(Math.max(0, ...demands.map((d) => d.length)) + 2);
  const recurse = (j: number, prob: number): void => {
    if (prob === 0) return;
    if (j === n) {
      let on = 0;
      for (let l = 0; l < n; l++) {
        caps[l] = counts[l]!;
        on += counts[l]!;
      }
      if (on <= capacity + 1e-12) return;
      if (equal) waterFillEqual(capacity, caps, n, alloc, hist);
      else waterFill(capacity, caps, weights, n, alloc);
      for (let l = 0; l < n; l++) waited[l]! += prob * (caps[l]! - alloc[l]!);
      return;
    }
    const d = dists[j]!;
    for (let m = 0; m < d.length; m++) {
      counts[j] = m;
      recurse(j + 1, prob * d[m]!);
    }
  };
  recurse(0, 1);
  return waited;
}

/**
 * The split by sampling, for hosts with too many joint states to enumerate: `samples` states,
 * each VM's number of runnable vCPUs drawn from its own distribution by Latin hypercube
 * sampling (a hashed permutation of the states per VM: exact marginals, independent VMs).
 */
function splitBySampling(
  capacity: number,
  ids: readonly string[],
  demands: readonly (readonly number[])[],
  weights: readonly number[],
  samples: number,
): number[] {
  const n = demands.length;
  const onCount: Uint16Array[] = demands.map((ds, j) => lhsCounts(ids[j]!, onCountDistribution(ds), samples));
  // Scale each VM's on-time to its exact demand.
  const scale = demands.map((ds, j) => {
    let total = 0;
    for (let k = 0; k < samples; k++) total += onCount[j]![k]!;
    const demand = ds.reduce((a, b) => a + b, 0);
    return total > 0 ? (demand * samples) / total : 0;
  });
  const equal = weights.every((w) => w === weights[0]);
  const waited = new Array<number>(n).fill(0);
  const caps = new Float64Array(n);
  const alloc = new Float64Array(n);
  let maxCap = 0;
  for (const ds of demands) maxCap = Math.max(maxCap, ds.length);
  const hist = new Int32Array(maxCap + 2);
  for (let k = 0; k < samples; k++) {
    let on = 0;
    for (let j = 0; j < n; j++) {
      caps[j] = onCount[j]![k]!;
      on += caps[j]!;
    }
    if (on <= capacity + 1e-12) continue;
    if (equal) waterFillEqual(capacity, caps, n, alloc, hist);
    else waterFill(capacity, caps, weights, n, alloc);
    for (let j = 0; j < n; j++) waited[j]! += ((caps[j]! - alloc[j]!) * scale[j]!) / samples;
  }
  return waited;
}

/** Per state, how many vCPUs of VM `id` are on: its distribution sampled by a hashed Latin hypercube. */
function lhsCounts(id: string, dist: readonly number[], samples: number): Uint16Array {
  const out = new Uint16Array(samples);
  const u = lhsUniforms(id, samples);
  const cdf: number[] = [];
  let acc = 0;
  for (const x of dist) cdf.push((acc += x));
  for (let k = 0; k < samples; k++) {
    let m = 0;
    while (m < cdf.length - 1 && u[k]! >= cdf[m]!) m++;
    out[k] = m;
  }
  return out;
}

/** (σ(k) + jitter) / K for a hashed permutation σ of 0 … K − 1 (K a power of two). */
export function lhsUniforms(id: string, samples: number): Float64Array {
  const bits = Math.log2(samples);
  const mask = samples - 1;
  const seed = hash32(id);
  const a1 = (mix32(seed ^ 0x9e3779b9) | 1) & mask;
  const b1 = mix32(seed ^ 0x85ebca6b) & mask;
  const a2 = (mix32(seed ^ 0xc2b2ae35) | 1) & mask;
  const b2 = mix32(seed ^ 0x27d4eb2f) & mask;
  const a3 = (mix32(seed ^ 0x165667b1) | 1) & mask;
  const jitter = mix32(seed ^ 0xd3a2646c) / 4294967296;
  const s1 = Math.max(1, bits >> 1);
  const s2 = Math.max(1, (bits + 1) >> 1);
  const out = new Float64Array(samples);
  for (let k = 0; k < samples; k++) {
    let x = (Math.imul(k, a1) + b1) & mask;
    x ^= x >>> s1;
    x = (Math.imul(x, a2) + b2) & mask;
    x ^= x >>> s2;
    x = Math.imul(x, a3) & mask;
    out[k] = (x + jitter) / samples;
  }
  return out;
}

/**
 * The model as one pure function: host capacity in cores and the VMs on it → per-vCPU
 * predicted usage and contention delay.
 */
export function predictHost(
  capacity: number,
  vms: readonly ModelVm[],
  options: Partial<ModelOptions> = {},
): HostPrediction {
  const o: ModelOptions = { ...DEFAULT_MODEL_OPTIONS, ...options };
  checkModelOptions(o);
  const C = Math.max(0, Number.isFinite(capacity) ? capacity : 0);
  const demands = vms.map((vm) => vm.vcpus.map(effectiveDemand));
  const weights = vms.map((vm) =>
    vm.weight !== undefined && Number.isFinite(vm.weight) && vm.weight > 0 ? vm.weight : DEFAULT_VM_WEIGHT,
  );
  const vmDemand = demands.map((ds) => ds.reduce((a, b) => a + b, 0));
  const demand = vmDemand.reduce((a, b) => a + b, 0);
  let vmWait: number[];
  if (o.mode === "fluid") {
    const alloc = new Float64Array(vms.length);
    waterFill(C, vmDemand, weights, vms.length, alloc);
    vmWait = vmDemand.map((d, j) => Math.max(0, d - alloc[j]!));
    // Inside a VM, capacity goes evenly to its vCPUs (max-min fair).
    const vmsOut = demands.map((ds, j) => {
      const inside = new Float64Array(ds.length);
      waterFill(
        alloc[j]!,
        ds,
        ds.map(() => 1),
        ds.length,
        inside,
      );
      return { usage: ds.map((_, i) => inside[i]!), delay: ds.map((d, i) => Math.max(0, d - inside[i]!)) };
    });
    return finish(vmsOut, demand);
  }
  const total = burstySteal(C, demands.flat());
  if (total <= 0) {
    return finish(
      demands.map((ds) => ({ usage: ds.slice(), delay: ds.map(() => 0) })),
      demand,
    );
  }
  let states = 1;
  for (const ds of demands) {
    states *= ds.filter((p) => p > 0).length + 1;
    if (states > ENUMERATION_LIMIT) break;
  }
  const raw =
    states <= ENUMERATION_LIMIT
      ? splitByEnumeration(C, demands, weights)
      : splitBySampling(
          C,
          vms.map((v) => v.id),
          demands,
          weights,
          o.samples,
        );
  // An overload too rare for the samples to meet (a total of, say, 1e-6 cores) leaves the
  // sampled split empty: then split by demand.
  const basis = raw.some((w) => w > 0) ? raw : vmDemand;
  const basisSum = basis.reduce((a, b) => a + b, 0);
  // Scale the split to the exact total; a VM never waits longer than it is runnable.
  vmWait = basis.map((w, j) => Math.min(vmDemand[j]!, basisSum > 0 ? (w * total) / basisSum : 0));
  const vmsOut = demands.map((ds, j) => {
    const d = vmDemand[j]!;
    // Within a VM, waiting goes to the vCPUs in proportion to their demand.
    const delay = ds.map((x) => (d > 0 ? (vmWait[j]! * x) / d : 0));
    return { usage: ds.map((x, i) => Math.max(0, x - delay[i]!)), delay };
  });
  return finish(vmsOut, demand);
}

function finish(vms: VmPrediction[], demand: number): HostPrediction {
  let steal = 0;
  let usage = 0;
  for (const v of vms) {
    for (const d of v.delay) steal += d;
    for (const u of v.usage) usage += u;
  }
  return { vms, steal, demand, usage };
}

/**
 * A host's predicted total contention delay, kept up to date as vCPUs are added: the whole
 * distribution of the number of runnable vCPUs (what burstySteal computes), so that "what if
 * this VM came here" costs O(vCPUs of the VM × capacity) and "what if it left" O(vCPUs of the
 * VM × vCPUs of the host) — removal divides the vCPU out again, forwards for p ≤ ½ and
 * backwards for p > ½, where each step shrinks rounding errors instead of growing them.
 */
export class StealAccumulator {
  readonly capacity: number;
  readonly mode: ModelMode;
  /** P(N = m) for m = 0 … len − 1. */
  private dist: Float64Array;
  private len = 1;
  private mean = 0;
  private count = 0;
  private readonly top: number;

  constructor(capacity: number, mode: ModelMode = "bursty") {
    this.capacity = Math.max(0, Number.isFinite(capacity) ? capacity : 0);
    this.mode = mode;
    this.top = Math.ceil(this.capacity - 1e-12);
    this.dist = new Float64Array(16);
    this.dist[0] = 1;
  }

  /** Adds one vCPU of (effective) demand p. */
  add(p: number): void {
    if (!(p > 0)) return;
    const q = Math.min(1, p);
    this.mean += q;
    this.count++;
    if (this.mode === "fluid") return;
    if (this.len + 1 > this.dist.length) {
      const d = new Float64Array(this.dist.length * 2);
      d.set(this.dist);
      this.dist = d;
    }
    const d = this.dist;
    d[this.len] = 0;
    for (let m = this.len; m >= 1; m--) d[m] = d[m]! * (1 - q) + d[m - 1]! * q;
    d[0] = d[0]! * (1 - q);
    this.len++;
  }

  addAll(ps: ArrayLike<number>): void {
    for (let i = 0; i < ps.length; i++) this.add(ps[i]!);
  }

  /** Σ demand, cores. */
  get demand(): number {
    return this.mean;
  }

  steal(): number {
    return stealFrom(this.capacity, this.mode, this.dist, Math.min(this.len, this.top), this.mean, this.count);
  }

  /** The steal if these vCPUs were added too (nothing changes). */
  stealWith(ps: ArrayLike<number>, scratch?: Float64Array): number {
    let mean = this.mean;
    let count = this.count;
    for (let i = 0; i < ps.length; i++) {
      if (ps[i]! > 0) {
        mean += Math.min(1, ps[i]!);
        count++;
      }
    }
    if (this.mode === "fluid") return Math.max(0, mean - this.capacity);
    if (count <= this.capacity + 1e-12) return 0;
    // Only P(N = m) for m below capacity matters: a truncated copy is enough.
    const n = this.top;
    const d = scratch !== undefined && scratch.length >= n ? scratch : new Float64Array(n);
    for (let m = 0; m < n; m++) d[m] = m < this.len ? this.dist[m]! : 0;
    for (let i = 0; i < ps.length; i++) {
      const q = Math.min(1, ps[i]!);
      if (!(q > 0)) continue;
      for (let m = n - 1; m >= 1; m--) d[m] = d[m]! * (1 - q) + d[m - 1]! * q;
      if (n > 0) d[0] = d[0]! * (1 - q);
    }
    return stealFrom(this.capacity, this.mode, d, n, mean, count);
  }

  /** The steal if these vCPUs (added before) were taken away (nothing changes). */
  stealWithout(ps: ArrayLike<number>, scratch?: Float64Array): number {
    let mean = this.mean;
    let count = this.count;
    for (let i = 0; i < ps.length; i++) {
      if (ps[i]! > 0) {
        mean -= Math.min(1, ps[i]!);
        count--;
      }
    }
    if (this.mode === "fluid") return Math.max(0, mean - this.capacity);
    if (count <= this.capacity + 1e-12) return 0;
    let len = this.len;
    const d = scratch !== undefined && scratch.length >= len ? scratch : new Float64Array(len);
    for (let m = 0; m < len; m++) d[m] = this.dist[m]!;
    for (let i = 0; i < ps.length; i++) {
      const q = Math.min(1, ps[i]!);
      if (!(q > 0)) continue;
      len--;
      if (q <= 0.5) {
        // Forwards: old[m] = (D[m] − q·old[m−1]) / (1 − q).
        let prev = 0;
        for (let m = 0; m < len; m++) {
          const v = (d[m]! - q * prev) / (1 - q);
          d[m] = v;
          prev = v;
        }
      } else {
        // Backwards: old[m−1] = (D[m] − (1 − q)·old[m]) / q, from old[len] = 0.
        let next = 0;
        let dm = d[len]!;
        for (let m = len; m >= 1; m--) {
          const v = (dm - (1 - q) * next) / q;
          dm = d[m - 1]!;
          d[m - 1] = v;
          next = v;
        }
      }
    }
    return stealFrom(this.capacity, this.mode, d, Math.min(len, this.top), mean, count);
  }
}

function stealFrom(
  capacity: number,
  mode: ModelMode,
  dist: Float64Array,
  n: number,
  mean: number,
  count: number,
): number {
  if (mode === "fluid") return Math.max(0, mean - capacity);
  if (count <= capacity + 1e-12) return 0;
  let below = 0;
  for (let m = 0; m < n; m++) below += (capacity - m) * dist[m]!;
  return Math.max(0, mean - capacity + below);
}
