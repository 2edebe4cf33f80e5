#!/usr/bin/env node
/**
 * The `vsteal` command. A plain `vsteal domstats …` (what scripts call once a VM) runs from
 * here without loading the command-line library or any other command: that is most of its
 * start time. Every other command line — other commands, `--help`, anything domstats' own
 * reading does not accept — goes to the whole program (program.ts), which says what is wrong.
 * (No top-level await: the single executable of the .deb is this file as CommonJS.)
 */
import { parseDomstatsArgs } from "./domstats-args.js";
import { domstats } from "./domstats.js";
import { oneShotIo, run } from "./io.js";

const fast = process.argv[2] === "domstats" ? parseDomstatsArgs(process.argv.slice(3)) : null;
if (fast) void run(() => domstats(fast.names, fast.options, oneShotIo));
else void import("./program.js").then(({ runProgram }) => runProgram(process.argv));
