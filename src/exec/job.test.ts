/**
 * The job path on this host (`local`, real sh and setsid): what a build host reports is held to
 * what was copied. A hostile or broken job cannot place a file outside the collect dir, replace a
 * different file there, or have a file kept whose sha256 is not the one it reported.
 */
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
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { COMPAT_VERSION } from "../version.js";
import { type JobPlace, runJob } from "./job.js";

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
