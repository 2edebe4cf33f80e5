/**
 * /proc/<pid>/task/<tid>/comm: the thread name (at most 15 bytes, TASK_COMM_LEN - 1) and "\n".
 * Any name is valid, even an empty one, so this parser never fails; `file` is taken for symmetry.
 */
export function parseComm(text: string, _file: string): string {
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}

/** `CPU <n>/KVM` (or `/TCG` without KVM), as QEMU names vCPU threads with debug-threads=on. */
const VCPU_THREAD = /^CPU (0|[1-9][0-9]{0,9})\/(?:KVM|TCG)$/;

/**
 * The vCPU number of a QEMU vCPU thread name (`CPU 3/KVM` → 3), or null for any other thread
 * (`qemu-system-x86`, `IO mon_iothread`, `ALL CPUs/TCG`, …). A trailing newline is tolerated.
 * The kernel keeps only 15 bytes of a name: `CPU 1234567/KVM` still fits, a longer one arrives
 * cut (`CPU 12345678/KV`) and is rejected rather than guessed.
 */
export function vcpuIndexFromComm(comm: string): number | null {
  const m = VCPU_THREAD.exec(comm.endsWith("\n") ? comm.slice(0, -1) : comm);
  if (m === null) return null;
  const n = Number(m[1]);
  return n <= 0x7fff_ffff ? n : null;
}
