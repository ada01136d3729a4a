import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolError } from "../errors.js";
import { hostTopLevel, probeSandbox, runInLayer, sandboxArgs, sandboxUnavailable } from "./sandbox.js";

// A repository name of this run's own: a maintainer's host (a stratum 0, a CVMFS client) may have
// software.example.org or any common name under its /cvmfs, and nothing here may depend on that.
const REPO = `sandbox-${process.pid}-${randomBytes(3).toString("hex")}.example.org`;
const PREFIX = `/cvmfs/${REPO}/versions/2025.06/compat/linux/x86_64`;
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "compat-sandbox-"));
  chmodSync(scratch, 0o755);
  mkdirSync(join(scratch, "root"), { recursive: true });
  writeFileSync(join(scratch, "root", "hello"), "from the repository root\n");
});

afterAll(() => {
  execFileSync("rm", ["-rf", scratch]);
  // The sandbox's mount points live in its own tmpfs: nothing of this run's repository is on the
  // host (only its name is checked: a CVMFS server or other tests may change /cvmfs meanwhile).
  expect(existsSync(`/cvmfs/${REPO}`)).toBe(false);
});

describe("sandboxArgs", () => {
  const entries = [
    { name: "bin", kind: "symlink" as const, target: "usr/bin" },
    { name: "etc", kind: "dir" as const },
    { name: "usr", kind: "dir" as const },
  ];

  it("mirrors the host's top level read-only and puts a tmpfs at /cvmfs", () => {
    const args = sandboxArgs({ root: "/r", repository: REPO }, { cwd: "/" }, { entries, root: true });
    const s = args.join(" ");
    expect(s).toContain("--symlink usr/bin /bin");
    expect(s).toContain("--ro-bind /etc /etc");
    expect(s).toContain("--ro-bind /usr /usr");
    expect(s).toContain(`--tmpfs /cvmfs --bind /r /cvmfs/${REPO}`);
    expect(s).not.toContain("--unshare-user");
    // never binds the host's / (mount points would be created on the host)
    expect(s).not.toMatch(/--(ro-)?bind \/ \//);
  });

  it("adds a user namespace when not root or when a uid is asked for", () => {
    expect(sandboxArgs({ root: "/r", repository: REPO }, {}, { entries, root: false })).toContain(
      "--unshare-user",
    );
    const asUser = sandboxArgs(
      { prefixDir: "/p", prefix: PREFIX },
      { uid: 1001, gid: 1001 },
      { entries, root: true },
    );
    expect(asUser.join(" ")).toContain("--unshare-user --uid 1001 --gid 1001");
    expect(asUser.join(" ")).toContain(`--bind /p ${PREFIX}`);
  });

  it("starts in / when a private /tmp hides the caller's directory", () => {
    const saved = process.cwd();
    process.chdir(scratch); // under the host's /tmp
    try {
      const mount = { root: "/r", repository: REPO };
      expect(sandboxArgs(mount, { privateTmp: true }, { entries, root: true }).join(" ")).toMatch(
        /--tmpfs \/tmp --tmpfs \/var\/tmp .* --chdir \/$/,
      );
      expect(sandboxArgs(mount, {}, { entries, root: true }).at(-1)).toBe(process.cwd());
      expect(
        sandboxArgs(mount, { privateTmp: true, writable: [scratch] }, { entries, root: true }).at(-1),
      ).toBe(process.cwd());
    } finally {
      process.chdir(saved);
    }
  });

  it("refuses writable paths under /cvmfs and prefixes outside it", () => {
    expect(() =>
      sandboxArgs({ root: "/r", repository: REPO }, { writable: ["/cvmfs/x"] }, { entries, root: true }),
    ).toThrow(/sandbox owns/);
    expect(() => sandboxArgs({ prefixDir: "/p", prefix: "/opt/x" }, {}, { entries, root: true })).toThrow(
      /not under \/cvmfs/,
    );
    expect(() =>
      sandboxArgs({ prefixDir: "/p", prefix: "/cvmfs/../tmp/x" }, {}, { entries, root: true }),
    ).toThrow(/has a "\.\." component/);
  });

  it("never mirrors /proc, /dev or /cvmfs from the host", () => {
    const names = hostTopLevel().map((e) => e.name);
    expect(names).not.toContain("proc");
    expect(names).not.toContain("dev");
    expect(names).not.toContain("cvmfs");
    expect(names).toContain("usr");
  });
});

describe("runInLayer (real bwrap)", () => {
  it("shows the repository root at /cvmfs/<repository> and writes through to it", async () => {
    const r = await runInLayer({ root: join(scratch, "root"), repository: REPO }, [
      "sh",
      "-c",
      `cat /cvmfs/${REPO}/hello && echo made > /cvmfs/${REPO}/made && ls /cvmfs`,
    ]);
    expect(r.stdout).toBe(`from the repository root\n${REPO}\n`);
    expect(readFileSync(join(scratch, "root", "made"), "utf8")).toBe("made\n");
  });

  it("puts a prefix directory at its real path without creating anything on the host", async () => {
    const dir = join(scratch, "prefix-aside");
    mkdirSync(dir);
    const r = await runInLayer({ prefixDir: dir, prefix: PREFIX }, `echo $0 > ${PREFIX}/marker; pwd`, {
      cwd: PREFIX,
    });
    expect(r.stdout.trim()).toBe(PREFIX);
    expect(readFileSync(join(dir, "marker"), "utf8")).toBe("/bin/sh\n");
    // nothing was made on the host for this run's own repository name
    expect(existsSync(`/cvmfs/${REPO}`)).toBe(false);
  });

  it("keeps the host read-only except /tmp and the listed paths", async () => {
    const err = await runInLayer(
      { root: join(scratch, "root"), repository: REPO },
      "touch /etc/compat-sandbox-test",
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).stderrTail).toMatch(/Read-only file system/);
    const wdir = join(scratch, "work");
    mkdirSync(wdir);
    await runInLayer({ root: join(scratch, "root"), repository: REPO }, `touch ${wdir}/ok`, {
      writable: [wdir],
    });
    expect(existsSync(join(wdir, "ok"))).toBe(true);
  });

  it("gives build stages a /tmp and /var/tmp of their own, not the host's", async () => {
    const name = `compat-private-tmp-${process.pid}`;
    const hostFile = join(scratch, "host-tmp-file"); // scratch is under the host's /tmp
    writeFileSync(hostFile, "host\n");
    const r = await runInLayer(
      { root: join(scratch, "root"), repository: REPO },
      `test -e ${hostFile} && echo seen; ls -A /var/tmp | wc -l; touch /tmp/${name} /var/tmp/${name} && echo made`,
      { privateTmp: true },
    );
    expect(r.stdout).toBe("0\nmade\n");
    expect(existsSync(`/tmp/${name}`)).toBe(false);
    expect(existsSync(`/var/tmp/${name}`)).toBe(false);
  });

  it("binds the layer read-only on request", async () => {
    const err = await runInLayer(
      { root: join(scratch, "root"), repository: REPO },
      `touch /cvmfs/${REPO}/nope`,
      {
        readOnlyLayer: true,
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(existsSync(join(scratch, "root", "nope"))).toBe(false);
  });

  it("passes stdin, environment and the command's exit status", async () => {
    const r = await runInLayer(
      { root: join(scratch, "root"), repository: REPO },
      'read x; echo "$x $GREETING"; exit 7',
      {
        input: "hello\n",
        env: { PATH: "/usr/bin:/bin", GREETING: "world" },
        okStatuses: [7],
      },
    );
    expect(r.status).toBe(7);
    expect(r.stdout).toBe("hello world\n");
  });

  it("runs as another uid in a user namespace; files stay owned by the caller outside", async () => {
    const r = await runInLayer(
      { root: join(scratch, "root"), repository: REPO },
      `id -u; touch /cvmfs/${REPO}/by-user`,
      {
        uid: 1001,
        gid: 1001,
      },
    );
    expect(r.stdout.trim()).toBe("1001");
    const owner = execFileSync("stat", ["-c", "%u", join(scratch, "root", "by-user")], {
      encoding: "utf8",
    }).trim();
    expect(owner).toBe(String(process.getuid?.()));
  });
});

describe("unprivileged and broken sandboxes", () => {
  const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
  const isRoot = process.getuid?.() === 0;

  it.runIf(isRoot)("works for an unprivileged user through a user namespace", () => {
    const args = sandboxArgs(
      { root: join(scratch, "root"), repository: REPO },
      { cwd: "/" },
      {
        entries: hostTopLevel(),
        root: false,
      },
    );
    const out = execFileSync(
      asNobody[0]!,
      [...asNobody.slice(1), "bwrap", ...args, "--", "sh", "-c", `id -u; cat /cvmfs/${REPO}/hello`],
      {
        encoding: "utf8",
      },
    );
    expect(out).toBe("65534\nfrom the repository root\n");
  });

  it("names bubblewrap when bwrap is missing", async () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const err = (await probeSandbox().catch((e: unknown) => e)) as ToolError;
      expect(err).toBeInstanceOf(ToolError);
      expect(err.hint).toBe("install it with: apt-get install bubblewrap");
    } finally {
      process.env.PATH = saved;
    }
  });

  it.runIf(isRoot)("names the sysctl when user namespaces are not available", () => {
    // An outer sandbox where this user may not create user namespaces, as on a host with them disabled.
    const out = execFileSync(
      "bwrap",
      [
        "--bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-user",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--disable-userns",
        "--unshare-pid",
        "--",
        process.execPath,
        "--import",
        "tsx",
        join(import.meta.dirname, "testdata", "probe.ts"),
      ],
      { encoding: "utf8", cwd: process.cwd() },
    );
    const res = JSON.parse(out) as { ok: boolean; message: string; hint: string; exitCode: number };
    expect(res.ok).toBe(false);
    expect(res.exitCode).toBe(4);
    expect(res.message).toMatch(/user namespaces are not available/);
    expect(res.hint).toMatch(/sysctl -w user\.max_user_namespaces=/);
  });

  it("names the sysctl that is off", () => {
    const values: Record<string, string> = {
      "kernel.unprivileged_userns_clone": "0",
      "user.max_user_namespaces": "9",
    };
    const e = sandboxUnavailable("bwrap: No permissions to creating new namespace", (n) => values[n]);
    expect(e.hint).toContain("sysctl -w kernel.unprivileged_userns_clone=1");
    expect(e.hint).not.toContain("max_user_namespaces");
    const other = sandboxUnavailable(
      "bwrap: Can't find source path /x: No such file or directory",
      () => undefined,
    );
    expect(other.hint).toContain("bubblewrap");
  });
});
