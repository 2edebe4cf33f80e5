import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PrometheusClient, PrometheusError } from "./prom-client.js";
import { decodeStreaming, DecodeError } from "./prom-decode.js";

async function* chunks(text: string, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  const b = Buffer.from(text);
  let at = 0;
  for (let i = 0; at < b.length; i++) {
    const n = Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? b.length);
    yield b.subarray(at, at + n);
    at += n;
  }
}

const labelValue = fc.string({ unit: "grapheme", maxLength: 12 }); // quotes, braces, brackets, backslashes, é …
const vectorBody = fc
  .array(
    fc.record({
      metric: fc.dictionary(fc.constantFrom("host", "instance", "vcpu", "a]b", 'q"'), labelValue),
      value: fc.tuple(fc.integer(), fc.double().map(String)),
    }),
    { maxLength: 30 },
  )
  .map((result) => ({ status: "success", data: { resultType: "vector", result }, warnings: ["w}]"] }));

describe("decodeStreaming", () => {
  it("gives what JSON.parse gives, however the body is cut into chunks", async () => {
    await fc.assert(
      fc.asyncProperty(
        vectorBody,
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        async (body, sizes) => {
          const text = JSON.stringify(body);
          const d = await decodeStreaming(chunks(text, sizes), 1 << 20);
          expect(d.elements).toEqual(body.data.result);
          expect(d.skeleton).toEqual({ ...body, data: { ...body.data, result: [] } });
          expect(d.bytes).toBe(Buffer.byteLength(text));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("jumps between series with the native search: the same answer, label values that look like a boundary included", async () => {
    const tricky = fc.oneof(labelValue, fc.constantFrom('},{"metric":', '"},{"metric":{"', "\\", '\\"'));
    const body = fc
      .array(
        fc.record({
          metric: fc.dictionary(fc.constantFrom("domain", "uuid", "vcpu", "instance"), tricky, { minKeys: 1 }),
          value: fc.tuple(fc.integer(), fc.double().map(String)),
        }),
        { minLength: 1, maxLength: 200 },
      )
      .map((result) => ({ status: "success", data: { resultType: "vector", result } }));
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 4 }),
        async (b, sizes) => {
          const text = JSON.stringify(b);
          const d = await decodeStreaming(chunks(text, sizes), 1 << 24);
          expect(d.elements).toEqual(b.data.result);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a boundary nested deeper than the series (valid JSON, not a Prometheus answer): the same answer or refused, never another", async () => {
    const nested = fc.array(
      fc.record({
        metric: fc.dictionary(fc.constantFrom("a", "b"), labelValue),
        value: fc.tuple(fc.integer(), fc.double().map(String)),
        x: fc.array(fc.constantFrom({}, { metric: {}, value: [1, "2"] }), { maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 20 },
    );
    await fc.assert(
      fc.asyncProperty(
        nested,
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }),
        async (result, sizes) => {
          const text = JSON.stringify({ status: "success", data: { resultType: "vector", result } });
          try {
            const d = await decodeStreaming(chunks(text, sizes), 1 << 24);
            expect(d.elements).toEqual(result);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
            expect((e as DecodeError).message).toMatch(
              /^data\.result is not valid JSON in the shape of a Prometheus answer/,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps the key order of VictoriaMetrics (isPartial first, stats after data) and answers without data.result", async () => {
    const vm =
      '{"status":"success","isPartial":false,"data":{"result":[{"metric":{"x":"1"},"value":[1,"2"]}],"resultType":"vector"},"stats":{"seriesFetched":"1"}}';
    const d = await decodeStreaming(chunks(vm, [7]), 1 << 20);
    expect(d.elements).toEqual([{ metric: { x: "1" }, value: [1, "2"] }]);
    expect(d.skeleton).toMatchObject({
      isPartial: false,
      data: { resultType: "vector", result: [] },
      stats: { seriesFetched: "1" },
    });
    const err = await decodeStreaming(chunks('{"status":"error","errorType":"bad_data","error":"x"}', [5]), 1 << 20);
    expect(err.elements).toBeNull();
  });

  it("a truncated answer is an error that says so, at every cut", async () => {
    const text = JSON.stringify({
      status: "success",
      data: { resultType: "vector", result: [{ metric: { a: "b" }, value: [1, "2"] }] },
    });
    for (let cut = 1; cut < text.length; cut++) {
      await expect(decodeStreaming(chunks(text.slice(0, cut), [3]), 1 << 20), `cut at ${cut}`).rejects.toBeInstanceOf(
        DecodeError,
      );
    }
  });

  it("stops at the size limit, without reading the rest", async () => {
    let read = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"status":"success","data":{"resultType":"vector","result":[');
      const one = Buffer.from('{"metric":{"host":"h"},"value":[1,"1"]},'.repeat(1000));
      for (;;) {
        read += one.length;
        yield one;
      }
    }
    await expect(decodeStreaming(endless(), 10 * 1024 * 1024)).rejects.toMatchObject({ kind: "too_large" });
    expect(read).toBeLessThan(11 * 1024 * 1024);
  });
});

describe("Prometheus client on bad answers", () => {
  const serving = (body: string, init: ResponseInit = { status: 200 }) =>
    new PrometheusClient({
      url: "http://prometheus.test",
      fetch: (async () => new Response(body, init)) as typeof fetch,
      maxResponseBytes: 1024 * 1024,
    });

  it("truncated: no result, a reason", async () => {
    const e = await serving('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"val')
      .query("up")
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PrometheusError);
    expect(e).toMatchObject({ kind: "invalid_response", message: expect.stringMatching(/ends early.*truncated/) });
  });

  it("huge: refused at the limit with a message naming the limit and what to do", async () => {
    const big = `{"status":"success","data":{"resultType":"vector","result":[${'{"metric":{"a":"b"},"value":[1,"1"]},'.repeat(40_000)}{"metric":{},"value":[1,"1"]}]}}`;
    await expect(serving(big).query("up")).rejects.toThrow(/larger than 1 MiB, the limit.*--selector/);
  });

  it("interns label values: 1,000 series share one host string", async () => {
    const body = JSON.stringify({
      status: "success",
      data: {
        resultType: "vector",
        result: Array.from({ length: 1000 }, (_, i) => ({
          metric: { host: "h-1", vcpu: String(i % 4) },
          value: [1, "0.5"],
        })),
      },
    });
    const a = await serving(body).vector("x");
    expect(a.result.samples).toHaveLength(1000);
    expect(new Set(a.result.samples.map((s) => s.labels.vcpu)).size).toBe(4);
    expect(a.result.samples.every((s) => s.v === 0.5 && s.labels.host === "h-1")).toBe(true);
  });
});

describe("Prometheus client limits", () => {
  it("keeps at most maxConcurrency queries in flight", async () => {
    let now = 0;
    let peak = 0;
    const c = new PrometheusClient({
      url: "http://prometheus.test",
      maxConcurrency: 2,
      fetch: (async () => {
        peak = Math.max(peak, ++now);
        await new Promise((r) => setTimeout(r, 5));
        now--;
        return new Response('{"status":"success","data":{"resultType":"vector","result":[]}}', {
          headers: { "content-type": "application/json" },
        });
      }) as typeof fetch,
    });
    await Promise.all(Array.from({ length: 9 }, () => c.vector("up")));
    expect(peak).toBe(2);
  });

  it("VictoriaMetrics' 503 (too many concurrent requests, text/plain) is an HTTP error quoting the server", async () => {
    const c = new PrometheusClient({
      url: "http://vm.test",
      fetch: (async () =>
        new Response(
          "couldn't start executing the request in 10 seconds, since -search.maxConcurrentRequests=4 concurrent requests are executed",
          { status: 503, headers: { "content-type": "text/plain" } },
        )) as typeof fetch,
    });
    await expect(c.query("up")).rejects.toMatchObject({
      kind: "http",
      status: 503,
      message: expect.stringMatching(/maxConcurrentRequests=4/),
    });
  });
});
