/**
 * Reproducible debian layers with the real tools: the shared dev layer (test/helpers/dev-layer.ts,
 * built once per run) and one more build of examples/dev.yaml through the CLI
 * (`compat build --check-reproducible --against`), at another time, into another root and run
 * directory, give an artifact with the same sha256. The artifact it is compared with has one file
 * planted, so the command must exit 3 naming exactly that file. (One extra build: the suite's time.)
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compat, compatAsync } from "../helpers/cli.js";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";

let dev: DevLayer;
let work: string;

beforeAll(async () => {
  dev = await devLayer();
  work = mkdtempSync(join(tmpdir(), "compat-reproducible-"));
}, 900_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function pack(prefix: string, out: string): { artifact: string; sha256: string } {
  const r = compat(["pack", prefix, "-o", join(work, out), "--json"]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { artifact: string; sha256: string };
}

const PLANTED = "etc/debian_version";

describe("a reproducible dev layer", () => {
  it(
    "a second build gives the dev layer's sha256; against an artifact with a planted file it exits 3 naming that file",
    async () => {
      const record = JSON.parse(
        readFileSync(
          join(dev.localPrefix, "reprod", readdirSync(join(dev.localPrefix, "reprod"))[0]!, "build.json"),
          "utf8",
        ),
      ) as Record<string, unknown>;
      // the layer's record holds what made the layer, nothing of the machine or the clock
      expect(record.sourceDateEpoch).toEqual(expect.any(Number));
      for (const k of ["host", "user", "kernel", "start", "end", "runId"])
        expect(record).not.toHaveProperty(k);
      expect(readdirSync(join(dev.localPrefix, "reprod"))).toEqual([
        new Date((record.sourceDateEpoch as number) * 1000)
          .toISOString()
          .replace(/^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+).*$/, "$1$2$3_$4$5$6UTC"),
      ]);
      // who built it, where and from what epoch source: the run's record
      const facts = JSON.parse(readFileSync(join(dev.runDir, "build-host.json"), "utf8")) as Record<
        string,
        unknown
      >;
      expect(facts).toMatchObject({ user: expect.any(String), host: expect.any(String) });
      expect(facts.sourceDateEpochFrom).toMatch(
        /^the Release files of bookworm, bookworm-updates, bookworm-security$/,
      );
      for (const f of ["etc/hostname", "var/cache/ldconfig/aux-cache", "var/log/dpkg.log"])
        expect(existsSync(join(dev.localPrefix, f)), f).toBe(false);

      const original = pack(dev.localPrefix, "original");

      // the same layer with one file changed (its mtime kept, so only its content differs)
      const copy = join(work, "planted", "2025.06/compat/linux/x86_64");
      mkdirSync(join(copy, ".."), { recursive: true });
      execFileSync("cp", ["-a", dev.localPrefix, copy]);
      const planted = join(copy, PLANTED);
      const { mtime } = statSync(planted);
      writeFileSync(planted, `${readFileSync(planted, "utf8").trim()}+planted\n`);
      utimesSync(planted, mtime, mtime);
      const against = pack(copy, "against");
      expect(against.sha256).not.toBe(original.sha256);
      rmSync(join(work, "planted"), { recursive: true, force: true });

      const runs = join(work, "runs");
      const r = await compatAsync(
        [
          "build",
          dev.specFile,
          "--check-reproducible",
          "--against",
          against.artifact,
          "--json",
          "--runs-dir",
          runs,
        ],
        { cwd: work },
      );
      expect(r.status, r.stderr.slice(-3000)).toBe(3);
      const lines = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      // the build's progress, each event naming its copy
      expect(lines.some((e) => e.copy === "B" && e.event === "stage-start" && e.stage === "bootstrap")).toBe(
        true,
      );
      const verdict = lines.at(-1) as {
        event: string;
        reproducible: boolean;
        copies: Array<{ copy: string; sha256: string; artifact: string; sourceDateEpoch: number }>;
        differing: Array<{ path: string; differs: string[] }>;
        packages: { added: unknown[]; removed: unknown[]; upgraded: unknown[]; downgraded: unknown[] } | null;
        workDir: string;
      };
      expect(verdict.event).toBe("reproducible");
      expect(verdict.reproducible).toBe(false);
      expect(verdict.differing).toEqual([{ path: PLANTED, differs: ["content"] }]);
      expect(verdict.packages).toMatchObject({ added: [], removed: [], upgraded: [], downgraded: [] });
      // the new build is the dev layer, byte for byte
      const built = verdict.copies.find((c) => c.copy === "B")!;
      expect(built.sha256).toBe(original.sha256);
      expect(built.sourceDateEpoch).toBe(record.sourceDateEpoch);
      expect(readFileSync(built.artifact).equals(readFileSync(original.artifact))).toBe(true);
      // kept for a look, and no layer of the check is left behind (the roots are removed)
      expect(existsSync(join(verdict.workDir, "verdict.json"))).toBe(true);
      expect(existsSync(join(verdict.workDir, "B", "root"))).toBe(false);

      // for people: a short verdict and the file
      const text = compat(["diff", original.artifact, against.artifact, "--files"]);
      expect(text.status).toBe(1);
      expect(text.stdout).toContain(`~ ${PLANTED}`);
    },
    30 * 60_000,
  );

  it("refuses options that do not go with --check-reproducible, before building anything", () => {
    for (const [args, message] of [
      [["--resume", "X"], /--resume does not go with it/],
      [["--root", "/tmp/x"], /--root does not go with it/],
      [["--dry-run"], /--dry-run does not go with it/],
    ] as const) {
      const r = compat([
        "build",
        dev.specFile,
        "--check-reproducible",
        ...args,
        "--runs-dir",
        join(work, "refused"),
      ]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const against = compat(["build", dev.specFile, "--against", "x.tar.zst"]);
    expect(against.status).toBe(2);
    expect(against.stderr).toMatch(/--against goes with --check-reproducible/);
    const missing = compat([
      "build",
      dev.specFile,
      "--check-reproducible",
      "--against",
      join(work, "dev-2025.06-compat-linux-x86_64-1700000000.tar.zst"),
      "--runs-dir",
      join(work, "refused"),
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
    const notArtifact = compat([
      "build",
      dev.specFile,
      "--check-reproducible",
      "--against",
      dev.specFile,
      "--runs-dir",
      join(work, "refused"),
    ]);
    expect(notArtifact.status).toBe(2);
    expect(notArtifact.stderr).toMatch(/not an artifact name/);
  });
});
