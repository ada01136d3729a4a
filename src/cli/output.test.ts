import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { writeJson } from "./output.js";

describe("writeJson (printJson's pieces)", () => {
  const pieces = (v: unknown) => {
    const out: string[] = [];
    writeJson(v, (s) => out.push(s));
    return out;
  };
  const cases: [string, unknown][] = [
    ["empty object", {}],
    ["empty array", []],
    ["primitives", [5, "s\nwith a newline", null, true]],
    ["undefined and functions", { a: undefined, b: [1, undefined, () => 1], c: () => 2, d: Symbol("x") }],
    ["a Date and toJSON", { at: new Date(0), custom: { toJSON: () => "mine" } }],
    [
      "a report with a long array of findings",
      {
        summary: { objects: 3 },
        abi: {
          findings: Array.from({ length: 500 }, (_, i) => ({
            object: `/o/${i}`,
            what: "libz.so.1",
            nested: { i },
          })),
          skipped: [],
        },
      },
    ],
    [
      "nested long arrays",
      Array.from({ length: 100 }, (_, i) => Array.from({ length: 70 }, (_, j) => i * j)),
    ],
  ];
  for (const [name, value] of cases)
    it(`gives JSON.stringify(value, null, 2): ${name}`, () => {
      expect(pieces(value).join("")).toBe(JSON.stringify(value, null, 2));
    });

  it("hands a long array on in many pieces, not one string", () => {
    expect(pieces({ list: Array.from({ length: 1000 }, (_, i) => ({ i })) }).length).toBeGreaterThan(1000);
  });
});

describe("printJson on standard output", () => {
  // a child prints a report of ~8 MB; stdout is touched first, so a pipe is non-blocking (EAGAIN when full)
  const child = (extra = "") => `
    import { printJson } from ${JSON.stringify(new URL("./output.ts", import.meta.url).pathname)};
    process.stdout.write("first line\\n");
    printJson({ findings: Array.from({ length: 40000 }, (_, i) => ({ i, message: "m".repeat(180) + i })) });
    ${extra}`;
  const run = (script: string, consume: (out: Readable) => Promise<string>) =>
    new Promise<{ status: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      p.stderr.on("data", (d) => {
        err += d;
      });
      const out = consume(p.stdout);
      p.on("close", async (status) => resolve({ status, out: await out, err }));
    });

  it("writes the whole report, in order, to a pipe read slowly (full pipe: the rest through the stream)", async () => {
    const r = await run(child(), async (out) => {
      const chunks: Buffer[] = [];
      out.pause();
      await new Promise((w) => setTimeout(w, 300)); // the pipe fills meanwhile
      for await (const c of out) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    });
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out.startsWith("first line\n{\n")).toBe(true);
    const report = JSON.parse(r.out.slice("first line\n".length)) as { findings: { i: number }[] };
    expect(report.findings.map((f) => f.i)).toEqual(Array.from({ length: 40000 }, (_, i) => i));
  });

  it("stops writing, without an error and with the command's exit status, when the reader goes away (| head)", async () => {
    for (const delay of [0, 300]) {
      // at once, and after the pipe filled (a reader that is slow, then gone); then more output through the stream
      const r = await run(
        child('process.stdout.write("more\\n"); process.exitCode = 3; process.stderr.write("done\\n");'),
        async (out) => {
          out.pause();
          await new Promise((w) => setTimeout(w, delay));
          out.resume();
          const first = await new Promise<string>((resolve) => out.once("data", (d) => resolve(String(d))));
          out.destroy();
          return first;
        },
      );
      expect(r.out.startsWith("first line")).toBe(true);
      expect(r.err).toBe("done\n");
      expect(r.status).toBe(3);
    }
  });
});
