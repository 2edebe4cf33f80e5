/**
 * /proc/<pid>/cmdline: the arguments, each followed by a NUL (the last NUL may be missing when
 * a process rewrote its argv). Empty for zombies and kernel threads, giving []. Bytes are
 * decoded as UTF-8 (invalid sequences become U+FFFD). Never fails; `file` is taken for symmetry.
 */
export function parseCmdline(data: string | Uint8Array, _file: string): string[] {
  const text = typeof data === "string" ? data : new TextDecoder("utf-8").decode(data);
  if (text === "") return [];
  const args = text.split("\0");
  if (text.endsWith("\0")) args.pop();
  return args;
}
