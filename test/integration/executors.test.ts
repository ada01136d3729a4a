/**
 * The ssh and Slurm executors with the real tools: OpenSSH's sshd on localhost (test/helpers/sshd.ts)
 * and a Slurm 22.05 cluster with munge (test/helpers/slurm.ts), both started here and stopped by PID.
 * The dev spec is built once through each (at the same time), and every assertion shares those two
 * builds; the faults each cost seconds (the time limit ~76 s, Slurm's granularity, run alongside).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolError } from "../../src/errors.js";
import { type JobPlace, runJob } from "../../src/exec/job.js";
import { commandLine, processesWithEnv } from "../../src/exec/processes.js";
import { type CliResult, compat, compatAsync, compatBin, projectRoot } from "../helpers/cli.js";
import { DEV_SPEC, devLayer } from "../helpers/dev-layer.js";
import { type Slurm, startSlurm } from "../helpers/slurm.js";
import { type Sshd, startSshd } from "../helpers/sshd.js";

const REMOTE_COMPAT = `node ${compatBin}`;
let dir: string;
let sshd: Sshd;
let slurm: Slurm;
let env: NodeJS.ProcessEnv;
let viaSsh: CliResult & { events: Array<Record<string, unknown>>; firstEventAt: number; endedAt: number };
let viaSlurm: CliResult;
let timeLimited: Promise<unknown>;

/** `--on ssh:localhost` through the test's sshd, this compat there, one work dir shared by the tests. */
const onSsh = (compat = REMOTE_COMPAT) => [
  "--on",
  "ssh:localhost",
  "--ssh-config",
  sshd.config,
  "--remote-compat",
  compat,
  "--work-dir",
  join(dir, "ssh-work"),
];
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const lastJson = (stdout: string) =>
  JSON.parse(
    stdout
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop() ?? "{}",
  ) as Record<string, unknown>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "compat-executors-"));
  sshd = await startSshd(join(dir, "sshd"), `/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, "localhost");
  slurm = await startSlurm(join(dir, "slurm"));
  env = slurm.env;
  // the time limit fault: Slurm checks limits every ~30 s and rounds up to minutes, so it runs beside the builds
  const place: JobPlace = {
    executor: { kind: "slurm", time: "1" },
    compat: ["node", compatBin],
    workDir: join(dir, "slurm-work"),
  };
  process.env.SLURM_CONF = slurm.conf;
  timeLimited = runJob(
    place,
    { name: "sleeper", files: [], body: ["sleep 600"] },
    { onLine: () => {}, collectTo: join(dir, "never") },
  ).then(
    () => new Error("the job was not stopped"),
    (e: unknown) => e,
  );
  const events: Array<Record<string, unknown>> = [];
  let firstEventAt = 0;
  const [ssh, sl] = await Promise.all([
    compatAsync(["build", DEV_SPEC, ...onSsh(), "-o", join(dir, "out-ssh"), "--json"], {
      env,
      onEvent: (e) => {
        if (e.event === "stage-end" && !firstEventAt) firstEventAt = Date.now();
        events.push(e);
      },
    }),
    compatAsync(
      [
        "build",
        DEV_SPEC,
        "--on",
        "slurm",
        "--work-dir",
        join(dir, "slurm-work"),
        "-o",
        join(dir, "out-slurm"),
      ],
      { env },
    ),
  ]);
  viaSsh = { ...ssh, events, firstEventAt, endedAt: Date.now() };
  viaSlurm = sl;
}, 20 * 60_000);

afterAll(async () => {
  await slurm?.stop();
  sshd?.stop();
  delete process.env.SLURM_CONF;
  if (dir && !process.env.KEEP_EXECUTOR_TEST_DIR) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("a build through ssh:localhost", () => {
  it("completes, its progress streamed back while it ran", () => {
    expect(viaSsh.status, viaSsh.stderr).toBe(0);
    const stages = viaSsh.events.filter((e) => e.event === "stage-end");
    expect(stages.length).toBeGreaterThan(3);
    // the first stage ended long before the command did: the events came as they happened
    expect(viaSsh.endedAt - viaSsh.firstEventAt).toBeGreaterThan(1000);
  });

  it("copies the artifact and the run record back, sha256 verified", () => {
    const r = lastJson(viaSsh.stdout);
    expect(r.event).toBe("collected");
    expect(r.where).toBe("ssh:localhost");
    const artifact = String(r.artifact);
    expect(artifact.startsWith(join(dir, "out-ssh"))).toBe(true);
    expect(sha256(artifact)).toBe(r.sha256);
    const manifest = JSON.parse(readFileSync(String(r.manifest), "utf8")) as { sha256: string; arch: string };
    expect(manifest.sha256).toBe(r.sha256);
    expect(manifest.arch).toBe("x86_64");
    expect(sha256(String(r.runRecord))).toBe(r.runRecordSha256);
    const members = execFileSync("tar", ["-tf", String(r.runRecord)], { encoding: "utf8" });
    expect(members).toMatch(/^runs\/[^/]+\/plan\.json$/m);
    expect(members).toMatch(/^runs\/[^/]+\/events\.jsonl$/m);
    // nothing left half-copied
    expect(readdirSync(join(dir, "out-ssh")).filter((f) => f.includes(".part"))).toEqual([]);
  });
});

describe("a build through slurm", () => {
  it("completes and its artifact is collected with its sha256 verified", () => {
    expect(viaSlurm.status, viaSlurm.stderr).toBe(0);
    expect(viaSlurm.stderr).toMatch(/submitted slurm job \d+/);
    const artifact = /^artifact: (.+)$/m.exec(viaSlurm.stdout)?.[1];
    const reported = /^sha256: ([0-9a-f]{64})/m.exec(viaSlurm.stdout)?.[1];
    expect(artifact && existsSync(artifact)).toBeTruthy();
    expect(sha256(artifact!)).toBe(reported);
  });

  it("gives the same artifact as the ssh build and as the local build, byte for byte (reproducible builds)", async () => {
    const artifactIn = (d: string) =>
      join(dir, d, readdirSync(join(dir, d)).find((n) => /\.tar\.zst$/.test(n))!);
    expect(sha256(artifactIn("out-slurm"))).toBe(sha256(artifactIn("out-ssh")));
    // the suite's shared dev layer, built here by `compat build` at another time, packed here
    const local = await devLayer();
    const packed = compat(["pack", local.localPrefix, "-o", join(dir, "out-local"), "--json"]);
    expect(packed.status, packed.stderr).toBe(0);
    expect((JSON.parse(packed.stdout) as { sha256: string }).sha256).toBe(sha256(artifactIn("out-ssh")));
  }, 900_000);

  it("--check-reproducible --on ssh: a build on the build host gives the bytes of the local build's artifact", async () => {
    const local = join(dir, "out-local");
    const artifact = join(local, readdirSync(local).find((n) => /\.tar\.zst$/.test(n))!);
    const r = await compatAsync(
      [
        "build",
        DEV_SPEC,
        "--check-reproducible",
        "--against",
        artifact,
        ...onSsh(),
        "--runs-dir",
        join(dir, "reproducible-runs"),
        "--json",
      ],
      { env },
    );
    expect(r.status, r.stderr).toBe(0);
    const verdict = lastJson(r.stdout);
    expect(verdict.event).toBe("reproducible");
    expect(verdict.reproducible).toBe(true);
    const copies = verdict.copies as Array<{ copy: string; sha256: string; artifact: string }>;
    expect(copies.map((c) => c.sha256)).toEqual([sha256(artifact), sha256(artifact)]);
    // the build host's copy was built in a root of its job's own: its layer is not beside the ssh build's
    const jobs = join(dir, "ssh-work", "jobs");
    expect(existsSync(jobs) ? readdirSync(jobs).filter((j) => j.startsWith("build-")) : []).toEqual([]);
  }, 900_000);

  it("gives the same layer as the ssh build: same packages, same members", () => {
    const manifests = ["out-ssh", "out-slurm"].map((d) => {
      const f = readdirSync(join(dir, d)).find((n) => n.endsWith(".manifest.json"))!;
      return JSON.parse(readFileSync(join(dir, d, f), "utf8")) as {
        packages: unknown[];
        members: number;
        files: number;
        topDir: string;
      };
    });
    expect(manifests[1]!.packages).toEqual(manifests[0]!.packages);
    expect(manifests[1]!.packages.length).toBeGreaterThan(50);
    expect([manifests[1]!.members, manifests[1]!.files, manifests[1]!.topDir]).toEqual([
      manifests[0]!.members,
      manifests[0]!.files,
      manifests[0]!.topDir,
    ]);
    const list = (d: string) => {
      const f = readdirSync(join(dir, d)).find((n) => /\.tar\.zst$/.test(n))!;
      return execFileSync("sh", ["-c", `zstd -dc "$1" | tar -t | sort`, "sh", join(dir, d, f)], {
        encoding: "utf8",
        maxBuffer: 256 << 20,
      });
    };
    expect(list("out-slurm")).toBe(list("out-ssh"));
  });
});

describe("compat check --on", () => {
  it("runs the check suite where the layer was built and brings the report back", async () => {
    const r = await compatAsync(["check", DEV_SPEC, ...onSsh(), "--json"], { env });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { summary: { executed: number; failed: number } };
    expect(report.summary.executed).toBeGreaterThan(5);
    expect(report.summary.failed).toBe(0);
  }, 120_000);
});

describe("faults", () => {
  it("a cancelled Slurm build leaves no job in squeue and no process", async () => {
    const work = join(dir, "slurm-cancel");
    let interrupted = false;
    const r = await compatAsync(
      ["build", DEV_SPEC, "--on", "slurm", "--work-dir", work, "-o", join(dir, "out-c")],
      {
        env,
        onStderr: (line, child) => {
          // the job runs compat on the node: stop it once its build has started a stage
          if (!interrupted && /\(\d+\/\d+\) /.test(line)) {
            interrupted = true;
            child.kill("SIGINT");
          }
        },
      },
    );
    expect(interrupted).toBe(true);
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/cancelled with scancel/);
    const squeue = spawnSync("squeue", ["-h"], { env, encoding: "utf8" });
    expect(squeue.status).toBe(0);
    expect(squeue.stdout.trim()).toBe("");
    // every process of the job carries SLURM_JOB_ID in its environment; none may be left, nor one under its work dir
    const jobId = /submitted slurm job (\d+)/.exec(r.stderr)?.[1];
    expect(jobId).toBeDefined();
    expect(processesWithEnv("SLURM_JOB_ID", jobId!).map((pid) => `${pid} ${commandLine(pid)}`)).toEqual([]);
    const left = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map((p) => commandLine(Number(p)))
      .filter((c) => c.includes(work));
    expect(left).toEqual([]);
    expect(existsSync(join(dir, "out-c"))).toBe(false);
  }, 300_000);

  it("a job Slurm kills at its time limit: a clear error naming the job, nothing collected", async () => {
    const e = await timeLimited;
    expect(e).toBeInstanceOf(ToolError);
    expect(String((e as Error).message)).toMatch(
      /^slurm job \d+ was killed by Slurm at its time limit \(time=1\)$/,
    );
    expect((e as ToolError).hint).toMatch(/give it more time/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  }, 300_000);

  it("a Slurm partition that does not exist is bad input (exit 2) naming it", async () => {
    const r = await compatAsync(
      ["build", DEV_SPEC, "--on", "slurm:partition=nosuch", "--work-dir", join(dir, "sw2")],
      {
        env,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /slurm refused the job for build-x86-64 \(slurm:partition=nosuch\): .*invalid partition/i,
    );
    expect(r.stderr).toMatch(/sinfo -s/);
  });

  it("an unreachable ssh host: exit 4, naming the host and what to do", async () => {
    const r = await compatAsync(["build", DEV_SPEC, "--on", "ssh:127.0.0.1:1", "-o", join(dir, "out-u")], {
      env,
    });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/cannot reach the build host ssh:127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/ssh -o BatchMode=yes 127\.0\.0\.1 true/);
    expect(existsSync(join(dir, "out-u"))).toBe(false);
  });

  it("a build host whose compat is another version is refused (ssh and slurm)", async () => {
    const other = join(dir, "other-compat");
    mkdirSync(other);
    cpSync(join(projectRoot, "dist"), join(other, "dist"), { recursive: true });
    const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string };
    writeFileSync(join(other, "package.json"), JSON.stringify({ ...pkg, version: "9.9.9-other" }));
    symlinkSync(join(projectRoot, "node_modules"), join(other, "node_modules"));
    const otherCompat = `node ${join(other, "dist/cli/bin.js")}`;
    const ssh = await compatAsync(["build", DEV_SPEC, ...onSsh(otherCompat)], { env });
    expect(ssh.status).toBe(3);
    expect(ssh.stderr).toMatch(/compat on ssh:localhost is version "9\.9\.9-other", this one is/);
    const sl = await compatAsync(
      ["build", DEV_SPEC, "--on", "slurm", "--remote-compat", otherCompat, "--work-dir", join(dir, "sw3")],
      { env },
    );
    expect(sl.status).toBe(3);
    expect(sl.stderr).toMatch(/compat 9\.9\.9-other on/);
    expect(sl.stderr).toMatch(/compat on slurm job \d+ is not version/);
  }, 120_000);

  it("compat update --on ssh: runs there with the build host's site config; its refusal comes back (exit 2)", async () => {
    const site = join(dir, "update-site.yaml");
    writeFileSync(site, `state: ${join(dir, "update-state")}\nlayers:\n  dev:\n    spec: ${DEV_SPEC}\n`);
    const r = await compatAsync(["update", "nosuch", ...onSsh(), "--remote-config", site], { env });
    expect(r.status, r.stderr).toBe(2);
    // the build host's own error, streamed, then where it failed
    expect(r.stderr).toMatch(/nosuch.*did you mean "dev"|no layer "?nosuch"?/i);
    expect(r.stderr).toMatch(/compat failed on ssh:localhost with exit status 2/);
    const noConfig = await compatAsync(["update", "dev", "--on", "ssh:localhost"], { env });
    expect(noConfig.status).toBe(2);
    expect(noConfig.stderr).toMatch(/give --remote-config/);
  });

  it("compat update without --on goes to the arch's executor in the site config, which updates there (--on local)", async () => {
    const site = join(dir, "update-executors.yaml");
    const executor = (extra: string) =>
      `state: ${join(dir, "update-state2")}\nlayers:\n  dev:\n    spec: ${DEV_SPEC}\n    arches: [x86_64]\n` +
      `executors:\n  x86_64:\n    on: ssh:localhost\n    sshConfig: ${sshd.config}\n    compat: ${REMOTE_COMPAT}\n${extra}`;
    writeFileSync(site, executor(`    config: ${site}\n`));
    const r = await compatAsync(["update", "dev", "--config", site], { env });
    // no target holds dev: the build host's own refusal, streamed back (it did not go on to ssh again)
    expect(r.stderr).toMatch(/compat failed on ssh:localhost with exit status 2/);
    expect(r.stderr.match(/ssh:localhost/g)?.length ?? 0).toBeLessThan(4);
    expect(r.status, r.stderr).toBe(2);
    writeFileSync(site, executor(""));
    const noConfig = await compatAsync(["update", "dev", "--config", site], { env });
    expect(noConfig.status).toBe(2);
    expect(noConfig.stderr).toMatch(/executors\.x86_64 ssh: the update needs the site config's path/);
    expect(noConfig.stderr).toMatch(/add config: .* to executors\.x86_64/);
  });

  it("--all-arches: an arch with no executor, and one whose build host cannot be reached, each in its row", async () => {
    const site = join(dir, "site.yaml");
    // the dev spec's arches: x86_64 (no executor), aarch64 (a host nothing listens on), riscv64 (no executor)
    writeFileSync(site, "state: state\nexecutors:\n  aarch64: ssh:127.0.0.1:1\n");
    const r = await compatAsync(["build", DEV_SPEC, "--all-arches", "--config", site, "--json"], {
      env,
      cwd: dir,
    });
    expect(r.status).not.toBe(0);
    const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows;
    expect(rows.map((x) => [x.arch, x.executor, x.result])).toEqual([
      ["x86_64", "-", "refused"],
      ["aarch64", "ssh:127.0.0.1:1", "failed"],
      ["riscv64", "-", "refused"],
    ]);
    expect(String(rows[0]!.error)).toMatch(
      /no executor for x86_64 in .*site\.yaml.*add executors: \{ x86_64:/,
    );
    expect(String(rows[1]!.error)).toMatch(/cannot reach the build host ssh:127\.0\.0\.1:1/);
    expect(String(rows[2]!.error)).toMatch(/no executor for riscv64/);
    const text = await compatAsync(["build", DEV_SPEC, "--all-arches", "--config", site], { env, cwd: dir });
    expect(text.stdout).toMatch(/^arch\s+executor\s+result\s+artifact sha256\s+time$/m);
    expect(text.stdout).toMatch(/^x86_64\s+-\s+refused\s+-\s+\d+ s$/m);
  }, 120_000);
});
