import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { describe } from "vitest";

/**
 * e2e tests need root, /dev/kvm and a reachable libvirt with the testbed up. Outside CI they
 * skip with the reason; in CI (CI=true) a missing prerequisite is a failure, not a skip.
 */
export function e2eMissing(): string | null {
  if (process.getuid?.() !== 0) return "not root (e2e tests read other processes' /proc and drive libvirt)";
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    if (process.env.VSTEAL_TESTBED_TCG !== "1")
      return "no usable /dev/kvm (set VSTEAL_TESTBED_TCG=1 to test under TCG)";
  }
  try {
    execFileSync("virsh", ["-c", "qemu:///system", "uri"], { stdio: "ignore", timeout: 10_000 });
  } catch {
    return "libvirt not reachable: run scripts/testbed up";
  }
  return null;
}

const missing = e2eMissing();
const inCi = process.env.CI === "true" || process.env.CI === "1";
if (missing && inCi) throw new Error(`e2e prerequisites missing in CI: ${missing}`);
if (missing) console.warn(`e2e tests skipped: ${missing}`);

/** describe() that runs only where the testbed can run. */
export const describeE2E = missing ? describe.skip : describe;
