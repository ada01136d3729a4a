import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { type BuildEvent, formatDuration, HumanProgress, JsonEvents } from "./progress.js";

const time = "2025-06-11T09:30:12.000Z";
const events: BuildEvent[] = [
  {
    time,
    event: "build-start",
    runId: "R",
    runDir: "runs/R",
    resumed: true,
    flavor: "debian",
    arch: "x86_64",
    prefix: "/cvmfs/x.org/versions/1/compat/linux/x86_64",
    target: "compat-root/x.org/versions/1/compat/linux/x86_64",
    stages: [
      { id: "preflight", description: "check", done: true },
      { id: "bootstrap", description: "mmdebstrap", done: false },
    ],
  },
  { time, event: "stage-skip", stage: "preflight", index: 1, total: 2, reason: "done in an earlier attempt" },
  { time, event: "stage-start", stage: "bootstrap", index: 2, total: 2, description: "mmdebstrap" },
  { time, event: "stage-note", stage: "bootstrap", message: "downloading" },
  { time, event: "stage-end", stage: "bootstrap", index: 2, total: 2, durationMs: 42_300 },
  {
    time,
    event: "build-end",
    status: "success",
    runId: "R",
    runDir: "runs/R",
    durationMs: 65_000,
    layer: "L",
  },
];

function collect(tty: boolean, wait = 0): Promise<string> {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => {
    text += c.toString();
  });
  const p = new HumanProgress(out, tty);
  return (async () => {
    for (const e of events) {
      p.emit(e);
      if (e.event === "stage-note" && wait) await new Promise((r) => setTimeout(r, wait));
    }
    p.close();
    return text;
  })();
}

describe("progress", () => {
  it("prints plain lines when stderr is not a terminal", async () => {
    const text = await collect(false);
    expect(text).not.toContain("\r");
    expect(text.split("\n")).toEqual([
      "Resuming debian layer /cvmfs/x.org/versions/1/compat/linux/x86_64 (x86_64), run R (1 of 2 stages done before)",
      "  run directory: runs/R",
      "  stages: preflight (done) → bootstrap",
      "- [1/2] preflight  (done in an earlier attempt)",
      "  [2/2] bootstrap: mmdebstrap",
      "  [2/2] bootstrap: downloading",
      "✓ [2/2] bootstrap  42.3 s",
      "Layer built in 1 min 5 s: L",
      "",
    ]);
  });

  it("redraws the running stage with a spinner and its elapsed time on a terminal", async () => {
    const text = await collect(true, 350);
    const ESC = String.fromCharCode(27);
    expect(text).toContain(`\r${ESC}[K⠋ [2/2] bootstrap  0.0 s`);
    expect(text).toMatch(/[⠙⠹⠸] \[2\/2\] bootstrap {2}0\.[1-9] s {2}downloading/);
    expect(text).toContain("✓ [2/2] bootstrap  42.3 s\n");
  });

  it("writes one JSON object per line for machines", () => {
    const out = new PassThrough();
    const j = new JsonEvents(out);
    for (const e of events) j.emit(e);
    const lines = (out.read() as Buffer).toString().trimEnd().split("\n");
    expect(lines).toHaveLength(events.length);
    expect(lines.map((l) => (JSON.parse(l) as BuildEvent).event)).toEqual(events.map((e) => e.event));
  });

  it("formats durations for people", () => {
    expect(formatDuration(950)).toBe("0.9 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(3 * 3_600_000 + 60_000)).toBe("3 h 1 min");
  });
});
