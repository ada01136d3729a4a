/**
 * The build pipeline with the real tools (mmdebstrap, patchelf, bwrap) through the built CLI:
 * SIGKILL during stages and --resume, a previous layer kept intact, a package Debian does not
 * have, a missing tool.
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountsUnder } from "../../src/exec/mounts.js";
import { nodeArchToArch } from "../../src/layer/id.js";
import { PidLock, processesOfRun } from "../../src/pipeline/lock.js";
import { loadSpec } from "../../src/spec/load.js";
import { localPrefix, resolveLayer } from "../../src/spec/resolve.js";
import { compatAsync, compatBin, projectRoot } from "../helpers/cli.js";

const SPEC = join(projectRoot, "examples/dev.yaml");
const ARCH = nodeArchToArch(process.arch)!;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "compat-build-it-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function targetOf(specFile: string, root: string): Promise<string> {
  const { spec } = await loadSpec(specFile);
  return localPrefix(resolveLayer(spec, ARCH), root);
}

type Event = Record<string, unknown>;

/**
 * Build with --json; SIGKILL the compat process once `stage` started and then `afterMs` passed, or
 * `when(runDir)` holds (polled).
 */
function buildKilledIn(stage: string, trigger: number | ((runDir: string) => boolean), args: string[]) {
  const events: Event[] = [];
  let runId = "";
  let runDir = "";
  const done = compatAsync(["build", SPEC, "--arch", ARCH, "--json", ...args], {
    cwd: work,
    onEvent: (e, child) => {
      events.push(e);
      if (e.event === "build-start") {
        runId = String(e.runId);
        runDir = String(e.runDir);
      }
      if (e.event !== "stage-start" || e.stage !== stage) return;
      if (typeof trigger === "number") {
        setTimeout(() => child.kill("SIGKILL"), trigger);
        return;
      }
      const poll = setInterval(() => {
        if (child.exitCode !== null || child.signalCode !== null) clearInterval(poll);
        else if (trigger(runDir)) {
          clearInterval(poll);
          child.kill("SIGKILL");
        }
      }, 100);
    },
  });
  return done.then((r) => ({ ...r, events, runId }));
}

const stageLogHas = (stage: string, text: string) => (runDir: string) => {
  try {
    return readFileSync(join(runDir, "stages", `${stage}.log`), "utf8").includes(text);
  } catch {
    return false;
  }
};

describe("compat build (integration)", () => {
  it(
    "survives SIGKILL during stages: no partial layer at the prefix path, the previous one intact, --resume completes",
    async () => {
      const root = join(work, "kill", "root");
      const runs = join(work, "kill", "runs");
      const target = await targetOf(SPEC, root);
      mkdirSync(target, { recursive: true });
      writeFileSync(join(target, "previous-layer"), "kept\n");
      const common = ["--root", root, "--runs-dir", runs];

      // 1: killed while mmdebstrap installs packages in the tree, with /proc, /sys, /dev/pts mounted
      // in it (root mode): its own mount namespace takes them away with it
      const first = await buildKilledIn(
        "bootstrap",
        stageLogHas("bootstrap", "I: installing essential packages"),
        common,
      );
      expect(first.signal).toBe("SIGKILL");
      const runDir = join(runs, first.runId);
      expect(readdirSync(target)).toEqual(["previous-layer"]);
      expect(mountsUnder(root)).toEqual([]);
      expect(existsSync(join(runDir, "stages/preflight.done"))).toBe(true);
      expect(existsSync(join(runDir, "stages/bootstrap.done"))).toBe(false);
      expect(existsSync(join(runDir, "result.json"))).toBe(false);

      // 2: resumed, killed while the tree is being relocated (soon after the stage starts: relocation now
      // takes about a second and a half on a quiet machine, so a later kill can come after it ended)
      const second = await buildKilledIn("relocate", 200, [...common, "--resume", first.runId]);
      expect(second.signal).toBe("SIGKILL");
      expect(second.events.filter((e) => e.event === "stage-skip").map((e) => e.stage)).toEqual([
        "preflight",
      ]);
      expect(second.events.find((e) => e.event === "build-start")?.resumed).toBe(true);
      expect(readdirSync(target)).toEqual(["previous-layer"]);
      expect(existsSync(join(runDir, "stages/bootstrap.done"))).toBe(true);
      expect(existsSync(join(runDir, "stages/relocate.done"))).toBe(false);

      // 3: resumed to the end
      const third = await compatAsync(["build", SPEC, "--arch", ARCH, ...common, "--resume", first.runId], {
        cwd: work,
      });
      expect(third.stderr).toContain("Resuming debian layer");
      expect(third.status, third.stderr).toBe(0);
      expect(third.stdout).toContain(`previous layer kept as: `);
      expect(existsSync(join(target, "usr/bin/python3"))).toBe(true);
      expect(existsSync(join(target, "previous-layer"))).toBe(false);
      const kept = join(target, "..", `.${ARCH}-001`);
      expect(readFileSync(join(kept, "previous-layer"), "utf8")).toBe("kept\n");
      const result = JSON.parse(readFileSync(join(runDir, "result.json"), "utf8")) as Event;
      expect(result.status).toBe("success");
      expect(result.previousLayer).toBe(kept);
      // nothing of the build is left beside the layer, and nothing of it still runs
      expect(readdirSync(join(target, "..")).sort()).toEqual([`.${ARCH}-001`, ARCH]);
      expect(processesOfRun(first.runId)).toEqual([]);
      // one record, at the run's SOURCE_DATE_EPOCH (the same across the resumes); the run's own record names the run
      const reprod = readdirSync(join(target, "reprod"));
      expect(reprod).toHaveLength(1);
      const record = JSON.parse(
        readFileSync(join(target, "reprod", reprod[0]!, "build.json"), "utf8"),
      ) as Event;
      const epoch = JSON.parse(readFileSync(join(runDir, "source-date-epoch.json"), "utf8")) as Event;
      expect(record.sourceDateEpoch).toBe(epoch.epoch);
      expect(record).not.toHaveProperty("runId");
      const facts = JSON.parse(readFileSync(join(runDir, "build-host.json"), "utf8")) as Event;
      expect(facts.runId).toBe(first.runId);
      expect(readFileSync(join(target, "reprod", reprod[0]!, "packages.txt"), "utf8")).toMatch(
        /^python3:\S+ \d/m,
      );
    },
    15 * 60_000,
  );

  it("names a package Debian does not have, in the first stage, and leaves no layer", async () => {
    const spec = join(work, "unknown.yaml");
    writeFileSync(
      spec,
      readFileSync(SPEC, "utf8").replace("packages: [bash,", "packages: [compat-no-such-package, bash,"),
    );
    const root = join(work, "unknown-root");
    const r = await compatAsync(
      ["build", spec, "--arch", ARCH, "--root", root, "--runs-dir", join(work, "runs-unknown")],
      {
        cwd: work,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("build failed in stage preflight");
    expect(r.stderr).toContain("has no package compat-no-such-package");
    // nothing was built: no run and no build directory are left, and the tail is in the message
    expect(r.stderr).toContain(
      "--- nothing was built: the run directory and the build directory were removed",
    );
    expect(r.stderr).toContain("hint: fix the spec and build again");
    expect(existsSync(await targetOf(spec, root))).toBe(false);
    expect(existsSync(root)).toBe(false);
    expect(readdirSync(join(work, "runs-unknown"))).toEqual([]);
  }, 300_000);

  it("stops on SIGINT: the running tool is stopped, the run is recorded as interrupted (exit 130)", async () => {
    const runs = join(work, "runs-int");
    const r = await compatAsync(
      ["build", SPEC, "--arch", ARCH, "--root", join(work, "int"), "--runs-dir", runs, "--json"],
      {
        cwd: work,
        onEvent: (e, child) => {
          if (e.event === "stage-start" && e.stage === "bootstrap")
            setTimeout(() => child.kill("SIGINT"), 3000);
        },
      },
    );
    expect(r.status).toBe(130);
    expect(r.stderr).toContain("build interrupted during stage bootstrap; continue with:");
    const runId = readdirSync(runs)[0]!;
    const result = JSON.parse(readFileSync(join(runs, runId, "result.json"), "utf8")) as Event;
    expect(result.status).toBe("interrupted");
    expect(result.stage).toBe("bootstrap");
    expect(processesOfRun(runId)).toEqual([]);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as Event).event)
        .at(-1),
    ).toBe("build-end");

    // the run cannot be resumed with another spec: it keeps the one it started with
    const spec = join(work, "changed.yaml");
    writeFileSync(spec, readFileSync(SPEC, "utf8").replace("packages: [bash,", "packages: [less, bash,"));
    const resumed = await compatAsync(
      ["build", spec, "--arch", ARCH, "--root", join(work, "int"), "--runs-dir", runs, "--resume", runId],
      { cwd: work },
    );
    expect(resumed.status).toBe(2);
    expect(resumed.stderr).toContain(`cannot resume run ${runId}`);
    expect(resumed.stderr).toMatch(
      /the spec changed since the run started \(spec hash [0-9a-f]{12} → [0-9a-f]{12}\)/,
    );
  }, 120_000);

  it("refuses a build of a layer another build is making, before it writes a run or a build directory", async () => {
    const root = join(work, "busy");
    const runs = join(work, "runs-busy");
    const target = await targetOf(SPEC, root);
    mkdirSync(dirname(target), { recursive: true });
    // this test process stands for the other build: alive, holding the layer's build lock
    const other = await PidLock.acquire(
      join(dirname(target), `.${ARCH}.build-lock`),
      `a build of ${target} (run 20260101-000000-${ARCH}-beef)`,
    );
    try {
      const r = await compatAsync(["build", SPEC, "--arch", ARCH, "--root", root, "--runs-dir", runs], {
        cwd: work,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        /a build of .* \(run 20260101-000000-\S+-beef\) is in progress \(pid \d+; lock /,
      );
      expect(readdirSync(dirname(target))).toEqual([`.${ARCH}.build-lock`]);
      expect(existsSync(runs)).toBe(false);
    } finally {
      await other.release();
    }
  });

  it("refuses a build when the file system has less free space than debian.requiredSpace, leaving nothing", async () => {
    const spec = join(work, "space.yaml");
    writeFileSync(
      spec,
      readFileSync(SPEC, "utf8").replace(
        "  variant: minbase",
        "  variant: minbase\n  requiredSpace: 100000 TB",
      ),
    );
    const root = join(work, "space-root");
    const runs = join(work, "runs-space");
    const r = await compatAsync(["build", spec, "--arch", ARCH, "--root", root, "--runs-dir", runs], {
      cwd: work,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /build failed in stage preflight: not enough free space for a debian layer: .* free at .*, the spec requires 100000 TB \(debian\.requiredSpace\)/,
    );
    expect(r.stderr).toMatch(/file system \/\S* \(\w+.*\): .* free of /);
    expect(existsSync(root)).toBe(false);
    expect(readdirSync(runs)).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "names a full disk in the headline (ENOSPC, the file system) and says how much the build directory holds",
    async () => {
      const spec = join(work, "small.yaml");
      writeFileSync(
        spec,
        readFileSync(SPEC, "utf8").replace("  variant: minbase", "  variant: minbase\n  requiredSpace: 1 MB"),
      );
      const mnt = join(work, "small-fs");
      mkdirSync(mnt);
      // a 120 MiB tmpfs in a mount namespace of the build's own: gone when the build exits
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(
          "unshare",
          [
            "-m",
            "sh",
            "-c",
            'mount -t tmpfs -o size=120m tmpfs "$1" && shift && exec "$@"',
            "sh",
            mnt,
            process.execPath,
            compatBin,
            "build",
            spec,
            "--arch",
            ARCH,
            "--root",
            join(mnt, "root"),
            "--runs-dir",
            join(work, "runs-small"),
          ],
          { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] },
        );
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stderr }));
      });
      expect(r.status, r.stderr).toBe(4);
      expect(r.stderr).toMatch(
        new RegExp(
          `error: build failed in stage bootstrap: no space left on device \\(ENOSPC\\) on ${mnt} \\(tmpfs\\): [\\d.]+ \\w+ free of 120 MiB: `,
        ),
      );
      expect(r.stderr).toMatch(
        /--- the build directory .*\.build-\S+ holds [\d.]+ \w+: continue with --resume, or remove it \(and the run\) with: compat prune/,
      );
      expect(r.stderr).toContain("hint: free some space there");
    },
    300_000,
  );

  // a layer of another CPU family builds under qemu-user; the preflight's refusals (before a run or
  // a work directory is written) are in foreign-arch.test.ts

  it("names the Debian package of a missing tool", async () => {
    const r = await compatAsync(
      [
        "build",
        SPEC,
        "--arch",
        ARCH,
        "--root",
        join(work, "notool"),
        "--runs-dir",
        join(work, "runs-notool"),
      ],
      {
        cwd: work,
        env: { ...process.env, PATH: join(work, "empty-bin") },
      },
    );
    expect(r.status).toBe(4);
    expect(r.stderr).toContain("build failed in stage preflight: mmdebstrap: command not found");
    expect(r.stderr).toContain("apt-get install mmdebstrap");
  });

  it("prints the plan without building anything with --dry-run", async () => {
    const root = join(work, "dry");
    const text = await compatAsync(["build", SPEC, "--arch", ARCH, "--root", root, "--dry-run"], {
      cwd: work,
    });
    expect(text.status).toBe(0);
    expect(text.stdout).toContain("relocate");
    expect(text.stdout).toContain("activate");
    expect(text.stdout).toMatch(/layer goes to +.*dry\/versions\/2025\.06\/compat\/linux/);
    const json = await compatAsync(["build", SPEC, "--arch", ARCH, "--root", root, "--dry-run", "--json"], {
      cwd: work,
    });
    const plan = JSON.parse(json.stdout) as { stages: { id: string }[]; target: string; prefix: string };
    expect(plan.stages.at(-1)?.id).toBe("activate");
    expect(plan.prefix).toBe("/cvmfs/software.example.org/versions/2025.06/compat/linux/" + ARCH);
    expect(existsSync(root)).toBe(false);
    expect(existsSync(join(work, "runs"))).toBe(false);
  });
});
