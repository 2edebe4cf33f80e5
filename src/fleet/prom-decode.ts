/**
 * Streaming decoder of Prometheus API answers, for fleets whose answers run to hundreds of MB.
 *
 * The body is read chunk by chunk and never held whole: a byte scanner follows the JSON's
 * nesting (strings and escapes included) and cuts the `data.result` array into batches of
 * whole elements, each batch read with the native JSON.parse; everything outside that array
 * (status, resultType, warnings, errors: small) is kept as a skeleton and parsed at the end.
 * Label names and values are interned, so the `host`, `instance` and `job` of 100,000 series
 * are a handful of strings. A body larger than the limit, or one that ends early, is an error
 * that says so; memory is bounded by the decoded series plus one batch.
 */

export class DecodeError extends Error {
  constructor(
    readonly kind: "too_large" | "truncated" | "malformed",
    message: string,
  ) {
    super(message);
    this.name = "DecodeError";
  }
}

/** Batches of about this many bytes of elements go to JSON.parse at once. */
const BATCH_BYTES = 1 << 20;

/**
 * Where one series of a Prometheus answer ends and the next begins, as every Prometheus-compatible
 * engine writes it (Go's encoding/json: no spaces). It cannot occur inside a JSON string (its
 * quote would be escaped there), so between series it is found with the native byte search
 * instead of the byte scanner. Found anywhere else (a valid JSON that is not a Prometheus answer
 * nesting it deeper), the cut leaves a batch whose brackets do not balance, and JSON.parse
 * refuses it: never a different answer, at worst an answer refused as not understood.
 */
const SERIES_BOUNDARY = Buffer.from('},{"metric":');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

export interface DecodedBody {
  /** The answer with `data.result` emptied (when it was streamed). */
  skeleton: unknown;
  /** The elements of `data.result` (vector and matrix: series; scalar and string: [t, v]), each through onElement; null when there was no data.result. */
  elements: unknown[] | null;
  bytes: number;
}

/**
 * Reads a response body: at most `maxBytes`, `data.result`'s elements parsed in batches as they
 * arrive. `onElement` may turn each element into its compact form (it is called once each).
 */
export async function decodeStreaming(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
  onElement: (e: unknown) => unknown = (e) => e,
): Promise<DecodedBody> {
  const decoder = new TextDecoder("utf-8", { fatal: false }); // the skeleton, streamed
  const batchDecoder = new TextDecoder("utf-8", { fatal: false }); // whole batches
  const skeletonParts: string[] = [];
  const elements: unknown[] = [];
  let streamed = false;

  // Scanner state.
  let inString = false;
  let escape = false;
  const stack: number[] = []; // LBRACE or LBRACKET
  const keys: Array<string | null> = [];
  let keyBytes: number[] | null = null; // the string being read, when it may be a key
  let lastString: string | null = null;
  let inResult = false; // inside data.result (depth 3 and deeper)

  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let batchCut = false; // a cut in the batch was found by SERIES_BOUNDARY, not by the scanner
  let total = 0;

  const flushBatch = (): void => {
    if (batchBytes === 0) return;
    const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    const cut = batchCut;
    batch = [];
    batchBytes = 0;
    batchCut = false;
    let text = batchDecoder.decode(buf);
    text = text.replace(/^[\s,]+/, "");
    if (text === "") return;
    let arr: unknown[];
    try {
      arr = JSON.parse(`[${text}]`) as unknown[];
    } catch (e) {
      throw new DecodeError(
        "malformed",
        `data.result is not valid JSON${cut ? " in the shape of a Prometheus answer" : ""} (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    for (const x of arr) elements.push(onElement(x));
  };

  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes)
      throw new DecodeError(
        "too_large",
        `the answer is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB, the limit`,
      );
    let segStart = 0; // start of the part of this chunk not yet routed
    let nextBackslash = -1; // the next backslash at or after i (chunk.length: none), found lazily
    let lastBoundary = -2; // the last SERIES_BOUNDARY in this chunk (-1: none), found lazily
    for (let i = 0; i < chunk.length; i++) {
      if (inResult && !inString && stack.length === 3 && lastBoundary !== -1) {
        // Between two series of data.result: jump to the last boundary of the chunk, taking
        // every series up to it whole; the scanner goes on from there.
        if (lastBoundary === -2)
          lastBoundary = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).lastIndexOf(SERIES_BOUNDARY);
        if (lastBoundary > i) {
          batch.push(chunk.subarray(segStart, lastBoundary + 1));
          batchBytes += lastBoundary + 1 - segStart;
          batchCut = true;
          segStart = lastBoundary + 1;
          i = lastBoundary + 1; // the comma; the next series' '{' is scanned next
          lastBoundary = -1;
          if (batchBytes >= BATCH_BYTES) flushBatch();
          continue;
        }
        lastBoundary = -1;
      }
      if (inString && !escape && keyBytes === null) {
        // Inside a string no one needs the bytes of (most of a fleet's answer): jump to its end
        // with the native search, stopping at a backslash (the byte after it is escaped).
        if (nextBackslash < i) {
          nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = chunk.length;
        }
        let q = chunk.indexOf(QUOTE, i);
        if (q < 0) q = chunk.length;
        if (nextBackslash < q) {
          i = nextBackslash;
          escape = true;
        } else if (q < chunk.length) {
          i = q;
          inString = false;
        } else {
          i = chunk.length;
        }
        continue;
      }
      const c = chunk[i]!;
      if (inString) {
        if (escape) escape = false;
        else if (c === BACKSLASH) escape = true;
        else if (c === QUOTE) {
          inString = false;
          if (keyBytes) {
            lastString = keyBytes.length <= 64 ? Buffer.from(keyBytes).toString("utf8") : null;
            keyBytes = null;
          }
          continue;
        }
        if (keyBytes && keyBytes.length <= 64) keyBytes.push(c);
        continue;
      }
      switch (c) {
        case QUOTE:
          inString = true;
          // Only strings outside data.result can be keys we care about.
          keyBytes = inResult ? null : [];
          break;
        case COLON:
          if (!inResult && stack.length > 0) keys[stack.length - 1] = lastString;
          break;
        case LBRACE:
        case LBRACKET: {
          const depth = stack.length;
          stack.push(c);
          keys.push(null);
          if (
            !inResult &&
            c === LBRACKET &&
            depth === 2 &&
            stack[0] === LBRACE &&
            keys[0] === "data" &&
            stack[1] === LBRACE &&
            keys[1] === "result"
          ) {
            // Entering data.result: route what came before (up to and including '[') to the skeleton.
            skeletonParts.push(decoder.decode(chunk.subarray(segStart, i + 1), { stream: true }));
            segStart = i + 1;
            inResult = true;
            streamed = true;
          }
          break;
        }
        case RBRACE:
        case RBRACKET:
          stack.pop();
          keys.pop();
          if (inResult && stack.length === 3 && c === RBRACE) {
            // An element ended: cut the batch here when it is big enough.
            if (batchBytes + (i + 1 - segStart) >= BATCH_BYTES) {
              batch.push(chunk.subarray(segStart, i + 1));
              batchBytes += i + 1 - segStart;
              segStart = i + 1;
              flushBatch();
            }
          } else if (inResult && stack.length === 2) {
            // data.result closed: the rest is skeleton again.
            batch.push(chunk.subarray(segStart, i));
            batchBytes += i - segStart;
            flushBatch();
            segStart = i;
            inResult = false;
          }
          break;
      }
    }
    if (segStart < chunk.length) {
      if (inResult) {
        batch.push(chunk.subarray(segStart));
        batchBytes += chunk.length - segStart;
      } else {
        skeletonParts.push(decoder.decode(chunk.subarray(segStart), { stream: true }));
      }
    }
  }
  if (inResult || stack.length > 0 || inString) {
    throw new DecodeError(
      "truncated",
      `the answer ends early, after ${total} bytes (connection cut, or the server's answer was truncated)`,
    );
  }
  skeletonParts.push(decoder.decode());
  const text = skeletonParts.join("");
  let skeleton: unknown;
  try {
    skeleton = JSON.parse(text);
  } catch {
    throw new DecodeError(
      "malformed",
      `not JSON (got: ${text.replace(/\s+/g, " ").trim().slice(0, 200) || "nothing"})`,
    );
  }
  return { skeleton, elements: streamed ? elements : null, bytes: total };
}

/** One string per distinct value: the labels of many series share theirs. */
export class Interner {
  private readonly pool = new Map<string, string>();
  get(s: string): string {
    if (s.length <= 10) return s; // V8's JSON.parse already shares strings this short
    const have = this.pool.get(s);
    if (have !== undefined) return have;
    this.pool.set(s, s);
    return s;
  }
}
