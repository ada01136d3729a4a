/**
 * The job path on this host (`local`, real sh and setsid): what a build host reports is held to
 * what was copied. A hostile or broken job cannot place a file outside the collect dir, replace a
 * different file there, or have a file kept whose sha256 is not the one it reported.
 */

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { COMPAT_VERSION } from "../version.js";
import { type JobPlace, jobScript, runJob, STOP_JOB } from "./job.js";

const base = mkdtempSync(join(tmpdir(), "compat-job-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const compat = join(base, "compat");
writeFileSync(compat, `#!/bin/sh\necho ${COMPAT_VERSION}\n`, { mode: 0o755 });
const place: JobPlace = { executor: { kind: "local" }, compat: [compat], workDir: join(base, "work") };
mkdirSync(place.workDir);

const job = (name: string, body: string[], collectTo: string) =>
  runJob(
    place,
    { name, files: [{ path: "in/a.txt", content: Buffer.from("sent\n") }], body },
    {
      onLine: () => {},
      collectTo,
    },
  );

describe("runJob on this host", () => {
  it("collects what the job reports, with the sha256 it reported, and removes the job dir", async () => {
    const dest = join(base, "ok");
    const r = await job(
      "ok",
      ['cp "$JOB/in/a.txt" "$JOB/out/a.txt"', '(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS"'],
      dest,
    );
    expect(r.files.map((f) => f.name)).toEqual(["a.txt"]);
    expect(readFileSync(join(dest, "a.txt"), "utf8")).toBe("sent\n");
    expect(readdirSync(join(place.workDir, "jobs"))).toEqual([]);
  });

  it("stops copying what a job hands back beyond the cap, and keeps nothing", async () => {
    const dest = join(base, "big");
    const big = runJob(
      place,
      {
        name: "big",
        files: [],
        body: [
          'head -c 3000 /dev/zero > "$JOB/out/a"',
          'head -c 3000 /dev/zero > "$JOB/out/b"',
          '(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS"',
        ],
      },
      { onLine: () => {}, collectTo: dest, maxOutputBytes: 5000 },
    );
    await expect(big).rejects.toThrow(
      /handed back over 5000 bytes of outputs \(at b\): nothing was collected/,
    );
    expect(readdirSync(dest)).toEqual([]);
  });

  it("keeps the cap itself when the build host's head does not (a hostile host): the copy is cut there", async () => {
    // the job's host runs this `head`: it ignores -c and streams far beyond the cap, then leaves a mark
    const bin = join(base, "hostile-bin");
    const mark = join(base, "hostile-head-finished");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "head"),
      `#!/bin/sh\ncase "$4" in */out/*) ;; *) exec /usr/bin/head "$@";; esac\n/usr/bin/head -c 200000000 /dev/zero && touch ${mark}\n`,
      { mode: 0o755 },
    );
    const dest = join(base, "hostile");
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const big = runJob(
        place,
        {
          name: "hostile",
          files: [],
          body: ['echo small > "$JOB/out/a"', '(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS"'],
        },
        { onLine: () => {}, collectTo: dest, maxOutputBytes: 5000 },
      );
      await expect(big).rejects.toThrow(
        /handed back over 5000 bytes of outputs \(at a\): nothing was collected/,
      );
    } finally {
      process.env.PATH = path;
    }
    expect(readdirSync(dest)).toEqual([]);
    expect(existsSync(mark)).toBe(false);
  });

  it("stops reading a SHA256SUMS past its cap when the build host's head does not", async () => {
    const bin = join(base, "hostile-sums-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "head"),
      `#!/bin/sh\ncase "$4" in */SHA256SUMS) exec yes "$(printf '%064d  a' 0)";; *) exec /usr/bin/head "$@";; esac\n`,
      { mode: 0o755 },
    );
    const dest = join(base, "hostile-sums");
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const sums = runJob(
        place,
        { name: "sums", files: [], body: ['echo small > "$JOB/out/a"', 'echo x > "$JOB/SHA256SUMS"'] },
        { onLine: () => {}, collectTo: dest },
      );
      await expect(sums).rejects.toThrow(/wrote a SHA256SUMS over 65536 bytes: nothing was collected/);
    } finally {
      process.env.PATH = path;
    }
    expect(existsSync(dest) ? readdirSync(dest) : []).toEqual([]);
  });

  it("refuses a reported name outside the collect dir, and keeps nothing", async () => {
    const dest = join(base, "escape");
    await expect(
      job(
        "escape",
        [
          'echo x > "$JOB/escaped"',
          'printf "%s  ../escaped\\n" "$(sha256sum < "$JOB/escaped" | cut -c1-64)" > "$JOB/SHA256SUMS"',
        ],
        dest,
      ),
    ).rejects.toThrow(/reported .*\.\.\/escaped.* in SHA256SUMS/);
    expect(existsSync(join(base, "escaped"))).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it("refuses a file whose sha256 is not the reported one, and keeps none of the job's files", async () => {
    const dest = join(base, "mismatch");
    await expect(
      job(
        "mismatch",
        [
          'echo good > "$JOB/out/a"',
          'echo bad > "$JOB/out/b"',
          '(cd "$JOB/out" && sha256sum -- a) > "$JOB/SHA256SUMS"',
          'printf "%s  b\\n" "$(echo other | sha256sum | cut -c1-64)" >> "$JOB/SHA256SUMS"',
        ],
        dest,
      ),
    ).rejects.toThrow(ValidationError);
    expect(readdirSync(dest)).toEqual([]);
  });

  it("does not let a job replace a different file already in the collect dir", async () => {
    const dest = join(base, "clobber");
    mkdirSync(dest);
    writeFileSync(join(dest, "a.txt"), "mine\n");
    await expect(
      job(
        "clobber",
        ['cp "$JOB/in/a.txt" "$JOB/out/a.txt"', '(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS"'],
        dest,
      ),
    ).rejects.toThrow(/would replace a different file/);
    expect(readFileSync(join(dest, "a.txt"), "utf8")).toBe("mine\n");
    expect(readdirSync(dest)).toEqual(["a.txt"]);
  });

  it("turns the job's exit status into the error kind (2 input, 3 check, else tool) and keeps its dir", async () => {
    await expect(job("bad-input", ["exit 2"], join(base, "x"))).rejects.toMatchObject({ exitCode: 2 });
    await expect(job("failed-check", ["exit 3"], join(base, "x"))).rejects.toMatchObject({ exitCode: 3 });
    await expect(job("tool", ["exit 7"], join(base, "x"))).rejects.toMatchObject({ exitCode: 4 });
    const kept = readdirSync(join(place.workDir, "jobs")).filter((d) =>
      /^(bad-input|failed-check|tool)-/.test(d),
    );
    expect(kept.length).toBe(3);
  });
});

describe("stopping a job on this host", () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("an interrupt stops the job's processes (the stop command is one dash and bash accept)", async () => {
    const pidFile = join(base, "sleeper.pid");
    const ctl = new AbortController();
    const running = runJob(
      place,
      { name: "interrupted", files: [], body: [`sh -c 'echo $$ > ${pidFile}; exec sleep 300' || exit $?`] },
      { onLine: () => {}, collectTo: join(base, "interrupted"), signal: ctl.signal },
    );
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(alive(pid)).toBe(true);
    ctl.abort();
    // unstopped, the sleeper would hold the job's output open for 300 s: the test's timeout fails it
    await expect(running).rejects.toThrow(/was stopped/);
    for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  }, 30_000);

  it("an interrupt before the job starts runs nothing", async () => {
    const marker = join(base, "never-ran");
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      runJob(
        place,
        { name: "aborted", files: [], body: [`touch ${marker}`] },
        { onLine: () => {}, collectTo: join(base, "aborted"), signal: ctl.signal },
      ),
    ).rejects.toThrow(/was stopped/);
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a job.pid that is not a process group of its own", () => {
    for (const [content, shell] of [
      ["1", "dash"],
      ["1", "bash"],
      ["0", "dash"],
      ["-1", "dash"],
      ["1 2", "bash"],
      ["", "dash"],
    ] as const) {
      const f = join(base, "job.pid");
      writeFileSync(f, content);
      const r = spawnSync(shell, ["-c", STOP_JOB, "sh", f], { encoding: "utf8" });
      expect(r.status, `${shell} ${JSON.stringify(content)}`).toBe(2);
    }
  });
});

describe("the work dir on a shared filesystem", () => {
  const at = (workDir: string) =>
    runJob(
      { ...place, workDir },
      { name: "shared", files: [], body: ['echo ran > "$JOB/out/a"'] },
      { onLine: () => {}, collectTo: join(base, "shared-out") },
    );

  it("refuses a work dir or jobs/ others may write, naming the chmod that fixes it", async () => {
    const open = join(base, "group-writable");
    mkdirSync(open);
    chmodSync(open, 0o775);
    await expect(at(open)).rejects.toThrow(
      new RegExp(`${open} is writable by group or others: chmod go-w ${open}`),
    );
    expect(existsSync(join(open, "jobs"))).toBe(true);
    expect(readdirSync(join(open, "jobs"))).toEqual([]);
    const jobs = join(base, "jobs-open");
    mkdirSync(join(jobs, "jobs"), { recursive: true });
    chmodSync(join(jobs, "jobs"), 0o1777);
    await expect(at(jobs)).rejects.toThrow(/jobs is writable by group or others/);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "refuses a work dir of another user (as root: one chowned to nobody)",
    async () => {
      const theirs = join(base, "theirs");
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 65534, 65534);
      await expect(at(theirs)).rejects.toThrow(/theirs is not owned by root: chown root /);
    },
  );

  it("refuses a work dir that is a symbolic link", async () => {
    const real = join(base, "real-work");
    mkdirSync(real);
    symlinkSync(real, join(base, "linked-work"));
    await expect(at(join(base, "linked-work"))).rejects.toThrow(/is a symbolic link/);
  });

  it("makes the job dir private", async () => {
    const w = join(base, "private");
    mkdirSync(w, { mode: 0o755 });
    await expect(
      runJob(
        { ...place, workDir: w },
        {
          name: "private",
          files: [],
          body: [
            'stat -c %a "$JOB" > "$JOB/out/mode"',
            '(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS"',
          ],
        },
        { onLine: () => {}, collectTo: join(base, "private-out") },
      ),
    ).resolves.toBeDefined();
    expect(readFileSync(join(base, "private-out", "mode"), "utf8").trim()).toBe("700");
    expect(statSync(join(w, "jobs")).mode & 0o777).toBe(0o700);
  });
});

describe("what the job and its executor hand over is not interpreted", () => {
  it("a compat command is not evaluated by the job's shell when it cannot run", () => {
    const marker = join(base, "PWNED");
    const evil = `/nonexistent$(touch ${marker})/compat`;
    const dir = join(place.workDir, "jobs", "quoted");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "job.sh"), jobScript({ ...place, compat: [evil] }, "quoted", []));
    const r = spawnSync("sh", [join(dir, "job.sh")], { encoding: "utf8" });
    rmSync(dir, { recursive: true });
    expect(r.status).toBe(98);
    expect(r.stdout).toContain(`cannot run ${evil} on`);
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a Slurm work dir with % (sbatch would write the log elsewhere)", async () => {
    await expect(
      runJob(
        { ...place, executor: { kind: "slurm" }, workDir: join(base, "w%j") },
        { name: "pct", files: [], body: [] },
        { onLine: () => {}, collectTo: join(base, "pct") },
      ),
    ).rejects.toThrow(/holds % or/);
  });

  it("collects only plain files: a link to a file of this host is refused", async () => {
    const secret = join(base, "host-secret");
    writeFileSync(secret, "secret\n");
    const dest = join(base, "linked");
    await expect(
      job(
        "linked",
        [
          `ln -s ${secret} "$JOB/out/a"`,
          `printf "%s  a\\n" "$(sha256sum < ${secret} | cut -c1-64)" > "$JOB/SHA256SUMS"`,
        ],
        dest,
      ),
    ).rejects.toThrow();
    expect(existsSync(join(dest, "a"))).toBe(false);
  });

  it("a FIFO in the outputs is refused, not waited on", async () => {
    await expect(
      job(
        "fifo",
        ['mkfifo "$JOB/out/a"', `printf "%s  a\\n" "$(echo x | sha256sum | cut -c1-64)" > "$JOB/SHA256SUMS"`],
        join(base, "fifo"),
      ),
    ).rejects.toThrow();
  }, 20_000);
});
