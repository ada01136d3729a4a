/**
 * startprefix run for real with this machine's bash and env, linked into a fake prefix (the debian
 * layer's own startprefix is run under bwrap in test/integration).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLeaving } from "../checks/shell.js";
import { ENV_FILE, renderStartprefix, writeStartprefix } from "./startprefix.js";

describe("renderStartprefix", () => {
  it("says what it is told to call the layer (Gentoo Prefix), Prefix by default", () => {
    const g = renderStartprefix({ prefix: "/p", flavor: "gentoo", word: "Gentoo Prefix", env: [] });
    expect(g).toContain(`echo "Leaving Gentoo Prefix with exit status \${status}"`);
    expect(g).toContain(`echo "Entering Gentoo Prefix \${EPREFIX}"`);
    const d = renderStartprefix({ prefix: "/p", flavor: "debian", env: [] });
    expect(d).toContain(`echo "Leaving Prefix with exit status \${status}"`);
    expect(d.split("\n")[0]).toBe("#!/p/bin/bash");
  });

  it("writes prefix paths as $EPREFIX and quotes the rest", () => {
    const s = renderStartprefix({
      prefix: "/cvmfs/r/p",
      flavor: "debian",
      env: [{ name: "X", value: '/cvmfs/r/p/a:/cvmfs/r/p/b "$`\\', why: "test" }],
    });
    expect(s).toContain(`\t"X=\${EPREFIX}/a:\${EPREFIX}/b \\"\\$\\\`\\\\" # test`);
  });

  it("refuses variables it sets itself and bad names", () => {
    expect(() =>
      renderStartprefix({ prefix: "/p", flavor: "debian", env: [{ name: "PATH", value: "/x" }] }),
    ).toThrow(/sets PATH itself/);
    expect(() =>
      renderStartprefix({ prefix: "/p", flavor: "debian", env: [{ name: "A-B", value: "/x" }] }),
    ).toThrow(/not a variable name/);
  });
});

describe("startprefix, run", () => {
  let prefix: string;
  const start = (input: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync(join(prefix, "startprefix"), [], {
      input,
      encoding: "utf8",
      env: {
        HOME: "/root",
        USER: "tester",
        TERM: "dumb",
        SHELL: "/bin/sh",
        PATH: "/usr/bin:/bin",
        SECRET: "host-only",
        ...env,
      },
    });

  beforeAll(async () => {
    prefix = mkdtempSync(join(tmpdir(), "startprefix-"));
    mkdirSync(join(prefix, "bin"));
    mkdirSync(join(prefix, "usr/bin"), { recursive: true });
    mkdirSync(join(prefix, "etc/profile.d"), { recursive: true });
    symlinkSync("/bin/bash", join(prefix, "bin/bash"));
    symlinkSync("/usr/bin/env", join(prefix, "usr/bin/env"));
    writeFileSync(
      join(prefix, "etc/profile.d/hello.sh"),
      "hello_from_profile() { echo profile-function; }\nPROFILE_VAR=set\n",
    );
    await writeStartprefix(prefix, {
      prefix,
      flavor: "debian",
      env: [{ name: "LOCPATH", value: `${prefix}/usr/lib/locale`, why: "locales" }],
    });
  });
  afterAll(() => rmSync(prefix, { recursive: true, force: true }));

  it("runs the command in a clean environment with the layer's variables and reports its status", () => {
    const r = start(
      `echo "E=$EPREFIX L=$LOCPATH S=$SHELL U=$USER X=\${SECRET:-unset}"; echo "P=$PATH"; exit 7`,
    );
    const { stdout, exitStatus } = parseLeaving(r.stdout);
    expect(exitStatus).toBe(7);
    expect(r.status).toBe(7);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toBe(`Entering Prefix ${prefix}`);
    expect(lines[1]).toBe(`E=${prefix} L=${prefix}/usr/lib/locale S=${prefix}/bin/bash U=tester X=unset`);
    expect(lines[2]).toBe(
      `P=${prefix}/usr/bin:${prefix}/usr/sbin:${prefix}/bin:${prefix}/sbin:/usr/bin:/bin`,
    );
  });

  it("reads the layer's etc/profile.d once, in the first shell only", () => {
    const r = start(
      `hello_from_profile; echo "B=\${BASH_ENV:-unset} V=$PROFILE_VAR"; bash -c 'echo "child=\${PROFILE_VAR:-unset}"'`,
    );
    expect(r.stdout).toContain("profile-function\nB=unset V=set\nchild=unset\n");
    expect(parseLeaving(r.stdout).exitStatus).toBe(0);
  });

  it("refuses to start inside the prefix", () => {
    const r = start("true", { SHELL: `${prefix}/bin/bash` });
    expect(r.status).toBe(255);
    expect(r.stderr).toContain("You appear to be in prefix already");
  });

  it("writes an env file a POSIX shell can source", () => {
    const r = spawnSync("sh", ["-c", `. ${join(prefix, ENV_FILE)}; echo "$EPREFIX|$LOCPATH|$PATH"`], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin" },
    });
    expect(r.stdout.trim()).toBe(
      `${prefix}|${prefix}/usr/lib/locale|${prefix}/usr/bin:${prefix}/usr/sbin:${prefix}/bin:${prefix}/sbin:/usr/bin:/bin`,
    );
    expect(readFileSync(join(prefix, ENV_FILE), "utf8")).toContain("# locales\n");
  });
});
