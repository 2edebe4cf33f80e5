/**
 * The whole command line: every command declared with commander. main.ts loads it for every
 * command line but a plain `vsteal domstats …`.
 */
import { Command } from "commander";
import { createRequire } from "node:module";
import { failCommand } from "./io.js";
import { registerAgent } from "./agent-command.js";
import { registerApply } from "./apply-command.js";
import { registerBench } from "./bench-command.js";
import { registerController } from "./controller-command.js";
import { registerDomstats } from "./domstats-command.js";
import { registerDrain } from "./drain-command.js";
import { registerPlan } from "./plan-command.js";
import { registerTop } from "./top-command.js";

/** The bundles (scripts/build-cli.mjs, the single executable) set this at build time. */
declare const VSTEAL_VERSION: string | undefined;
const version =
  typeof VSTEAL_VERSION === "string"
    ? VSTEAL_VERSION
    : (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

const program = new Command()
  .name("vsteal")
  .description("Per-vCPU steal time (run-queue delay) of every VM on a KVM host")
  .version(version)
  .showHelpAfterError("(run with --help for usage)");

// Every command is added the same way: its *-command.ts declares the command and its options
// and imports the code that runs it only when it runs (a chunk of its own in the bundle).
for (const register of [
  registerDomstats,
  registerAgent,
  registerBench,
  registerTop,
  registerPlan,
  registerController,
  registerApply,
  registerDrain,
])
  register(program);

/** Runs the whole command line (every command, its help and its errors) on `argv`. */
export function runProgram(argv: readonly string[]): Promise<void> {
  return program.parseAsync([...argv]).then(() => undefined, failCommand);
}
