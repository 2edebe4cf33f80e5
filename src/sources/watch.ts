import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, join } from "node:path";

/** Stops a watch. */
export type StopWatching = () => void;

export interface DirectoryWatchOptions {
  /** Which file names matter (e.g. `*.pid`); others are ignored. */
  names: (name: string) => boolean;
  /** How often to look again for a directory that does not exist (yet), ms. */
  retryMs?: number;
  /**
   * The directory is there but may not be watched (EACCES, EPERM: an unprivileged agent and a
   * root-only directory). Called once; the watch then gives up, and the caller may watch otherwise.
   */
  onDenied?: (code: string) => void;
  /** fs.watch, or a stand-in for tests. */
  watchFn?: (dir: string, opts: { persistent: boolean }) => FSWatcher;
}

/**
 * Calls `onChange` when a file whose name passes `names` appears, changes or goes in `dir`
 * (inotify, through fs.watch). Survives the directory not existing yet, and being removed and
 * made again (libvirtd restarted on an empty /run): it then looks for it every `retryMs` (a
 * stat), and calls `onChange` once it is back, since anything may have changed meanwhile.
 */
export function watchDirectory(dir: string, onChange: () => void, opts: DirectoryWatchOptions): StopWatching {
  const retryMs = opts.retryMs ?? 1000;
  let watcher: FSWatcher | null = null;
  let inode: number | null = null;
  let retry: NodeJS.Timeout | null = null;
  let stopped = false;

  const inodeNow = (): number | null => {
    try {
      const st = statSync(dir);
      return st.isDirectory() ? st.ino : null;
    } catch {
      return null;
    }
  };
  const lost = (): void => {
    watcher?.close();
    watcher = null;
    inode = null;
    onChange(); // what was in it is gone
    schedule();
  };
  const schedule = (): void => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = null;
      if (open()) onChange();
      else schedule();
    }, retryMs);
    retry.unref();
  };
  let denied = false;
  const open = (): boolean => {
    const ino = inodeNow();
    if (ino === null || denied) return false;
    try {
      const w = (opts.watchFn ?? watch)(dir, { persistent: false });
      w.on("change", (event, name) => {
        const file = typeof name === "string" ? name : null;
        // The directory itself removed (inotify IN_DELETE_SELF shows as a rename of its own name).
        if (event === "rename" && (file === null || file === basename(dir)) && inodeNow() !== inode) {
          lost();
          return;
        }
        if (file === null || opts.names(file)) onChange();
      });
      w.on("error", () => {
        if (watcher === w) lost();
      });
      watcher = w;
      inode = ino;
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if ((code === "EACCES" || code === "EPERM") && opts.onDenied) {
        denied = true;
        stopped = true;
        opts.onDenied(code);
      }
      return false; // else removed between the stat and the watch, or no inotify instances left
    }
  };

  if (!open()) schedule();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    watcher?.close();
    watcher = null;
  };
}

export interface ProcessWatchOptions {
  /** Is this process (by its `comm`) one to watch? Asked once per new pid. */
  isCandidate: (comm: string) => boolean;
  /** Poll period, ms (a readdir of /proc; comm read only for pids not seen before). */
  intervalMs?: number;
}

/**
 * Calls `onChange` when a candidate process (a QEMU) appears or exits. /proc cannot be watched
 * with inotify, so it is polled: one readdir of /proc per period, and a `comm` read only for
 * pids not seen before, which costs a few hundred µs on a host with a thousand processes.
 */
export function watchProcesses(procRoot: string, onChange: () => void, opts: ProcessWatchOptions): StopWatching {
  const intervalMs = opts.intervalMs ?? 500;
  /** pid → is it a candidate; every pid seen at the last poll. */
  let known = new Map<number, boolean>();
  const poll = (first: boolean): void => {
    let entries: string[];
    try {
      entries = readdirSync(procRoot);
    } catch {
      return;
    }
    const next = new Map<number, boolean>();
    let changed = false;
    for (const e of entries) {
      const c = e.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(e);
      let cand = known.get(pid);
      if (cand === undefined) {
        try {
          cand = opts.isCandidate(readFileSync(join(procRoot, e, "comm"), "latin1").trim());
        } catch {
          continue; // exited while we looked
        }
        if (cand) changed = true;
      }
      next.set(pid, cand);
    }
    for (const [pid, cand] of known) if (cand && !next.has(pid)) changed = true;
    known = next;
    if (changed && !first) onChange();
  };
  poll(true);
  const timer = setInterval(() => poll(false), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** QEMU processes (comm `qemu…` or Proxmox's `kvm`) appearing or exiting in procRoot. */
export function watchQemuProcesses(procRoot: string, onChange: () => void): StopWatching {
  return watchProcesses(procRoot, onChange, { isCandidate: (comm) => /^qemu/.test(comm) || comm === "kvm" });
}
