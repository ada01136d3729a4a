import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateYamlText } from "../config/yaml.js";
import { InputError } from "../errors.js";
import { openSiteLayer } from "./layers.js";
import { layerStateDir, loadSiteConfig, parseSiteConfig, siteLayer, siteTarget } from "./load.js";
import { childPath, nameProblem } from "./names.js";
import { siteConfigSchema } from "./schema.js";

const root = mkdtempSync(join(tmpdir(), "compat-site-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const problemsOf = (text: string) =>
  validateYamlText(siteConfigSchema, text, "compat.yaml", "site config sections").problems.map(
    (p) => `${p.line}:${p.col} ${p.field}: ${p.message}`,
  );

const full = `
state: state
store: sqlite:db/compat.db
layers:
  dev:
    spec: ../../examples/dev.yaml
    arches: [x86_64]
targets:
  staging:
    to: local:stage
    policy: {approvals: 1, requesterMayApprove: true}
  production:
    to: cvmfs:software.example.org@stratum0.example.org
    policy: {approvals: 2, approvers: [alice, bob]}
approvers:
  alice: {key: keys/alice.pub}
  bob: {key: /etc/compat/bob.pub}
`;

describe("site config", () => {
  it("without --config and without ./compat.yaml is the embedded default in the working directory", async () => {
    const cwd = join(root, "empty");
    mkdirSync(cwd);
    const site = await loadSiteConfig(undefined, cwd);
    expect(site).toMatchObject({
      file: undefined,
      baseDir: cwd,
      stateDir: join(cwd, "compat-state"),
      store: { backend: "sqlite", path: join(cwd, "compat-state", "compat.db") },
      layers: {},
      targets: {},
      approvers: {},
    });
  });

  it("reads ./compat.yaml when there is one, and takes relative paths from its directory", async () => {
    const cwd = join(root, "implicit");
    mkdirSync(cwd);
    writeFileSync(join(cwd, "compat.yaml"), "state: here\n");
    const site = await loadSiteConfig(undefined, cwd);
    expect(site.file).toBe(join(cwd, "compat.yaml"));
    expect(site.stateDir).toBe(join(cwd, "here"));
    expect(site.store).toEqual({ backend: "sqlite", path: join(cwd, "here", "compat.db") });
  });

  it("resolves every section of a full config", () => {
    const file = "/srv/site/conf/compat.yaml";
    const site = parseSiteConfig(full, file);
    expect(site.stateDir).toBe("/srv/site/conf/state");
    expect(site.store).toEqual({ backend: "sqlite", path: "/srv/site/conf/db/compat.db" });
    expect(site.layers.dev).toEqual({ name: "dev", spec: "/srv/examples/dev.yaml", arches: ["x86_64"] });
    expect(site.targets.staging).toEqual({
      name: "staging",
      to: "local:/srv/site/conf/stage",
      target: { kind: "local", root: "/srv/site/conf/stage" },
      policy: { approvals: 1, requesterMayApprove: true, approvers: ["alice", "bob"] },
    });
    expect(site.targets.production?.target).toEqual({
      kind: "cvmfs",
      repository: "software.example.org",
      host: "stratum0.example.org",
    });
    expect(site.targets.production?.policy).toEqual({
      approvals: 2,
      requesterMayApprove: false,
      approvers: ["alice", "bob"],
    });
    expect(site.approvers.alice?.key).toBe("/srv/site/conf/keys/alice.pub");
    expect(site.approvers.bob?.key).toBe("/etc/compat/bob.pub");
  });

  it("takes a PostgreSQL store URL as it is", () => {
    const site = parseSiteConfig("store: postgres://compat@db.example.org:5433/compat\n", "/x/compat.yaml");
    expect(site.store).toEqual({ backend: "postgres", url: "postgres://compat@db.example.org:5433/compat" });
  });

  it("refuses unknown keys with a did-you-mean, at their line", () => {
    expect(problemsOf("stat: x\nlayers:\n  dev:\n    spce: a.yaml\n")).toEqual([
      expect.stringMatching(/^1:1 stat: unknown key, did you mean "state"\?/),
      expect.stringMatching(/^3:3 layers\.dev\.spec: missing \(expected a string\)/),
      expect.stringMatching(/^4:5 layers\.dev\.spce: unknown key, did you mean "spec"\?/),
    ]);
  });

  it("refuses names that would leave the state directory, at the name", () => {
    const problems = problemsOf("layers:\n  ../etc:\n    spec: a.yaml\ntargets:\n  .hidden: {to: local:x}\n");
    expect(problems).toEqual([
      expect.stringMatching(/^2:3 layers\.\.\.\/etc: the key "\.\.\/etc": not a name/),
      expect.stringMatching(/^5:3 targets\.\.hidden: the key "\.hidden"/),
    ]);
  });

  it("resolves a layer's impact section, refusing a path seen outside /cvmfs and a NUL in a command", () => {
    const site = parseSiteConfig(
      "layers:\n  dev:\n    spec: a.yaml\n    impact:\n      software: [{path: sw, at: /cvmfs/r/sw/}]\n      tests: [t.yaml]\n",
      "/x/compat.yaml",
    );
    expect(site.layers.dev!.impact).toEqual({
      software: [{ path: "/x/sw", at: "/cvmfs/r/sw/" }],
      tests: ["/x/t.yaml"],
    });
    const problems = problemsOf(
      'layers:\n  dev:\n    spec: a.yaml\n    impact:\n      software: [{path: sw, at: "/cvmfs/../etc"}, {path: s2, at: "/cvmfs/r/\\u001b[2J"}]\n      reframe: "reframe \\0 -r"\n',
    );
    expect(problems).toEqual([
      expect.stringMatching(/^5:\d+ layers\.dev\.impact\.software\[0\]\.at: .*not a path under \/cvmfs/),
      expect.stringMatching(/^5:\d+ layers\.dev\.impact\.software\[1\]\.at: .*not a path under \/cvmfs/),
      expect.stringMatching(/^6:\d+ layers\.dev\.impact\.reframe: .*a command cannot hold a NUL byte/),
    ]);
  });

  it("refuses names that are properties of every object", () => {
    expect(problemsOf("layers:\n  __proto__: {spec: a.yaml}\n")).toEqual([
      expect.stringMatching(/^2:3 layers\.__proto__: the key "__proto__" is not allowed/),
    ]);
    const site = parseSiteConfig("layers:\n  constructor: {spec: a.yaml}\n", "/x/compat.yaml");
    expect(siteLayer(site, "constructor").spec).toBe("/x/a.yaml");
    expect(() => siteLayer(site, "toString")).toThrow(/no layer "toString"/);
  });

  it("checks targets with the publishers' own parser, and refuses an ssh host that reads as an option", () => {
    const problems = problemsOf(
      "targets:\n  a: {to: 'ftp:x'}\n  b: {to: 'cvmfs:not_a_repo'}\n  c: {to: 'cvmfs:software.eessi.io@-oProxyCommand=sh'}\n  d: {to: 'local:'}\n",
    );
    expect(problems).toEqual([
      expect.stringMatching(/^2:11 targets\.a\.to: "ftp:x": unknown target \(expected local:DIR/),
      expect.stringMatching(/^3:11 targets\.b\.to: .*not_a_repo is not a CVMFS repository name/),
      expect.stringMatching(/^4:11 targets\.c\.to: .*"-oProxyCommand=sh" is not a host name/),
      expect.stringMatching(/^5:11 targets\.d\.to: .*local: needs a directory/),
    ]);
  });

  it("refuses a store URL of an unknown scheme, suggesting the near one", () => {
    expect(problemsOf("store: postgress://db/compat\n")).toEqual([
      expect.stringMatching(/^1:8 store: .*unknown store scheme "postgress:", did you mean "postgres:"\?/),
    ]);
    expect(problemsOf("store: 'mysql://db/compat'\n")[0]).toMatch(/unknown store scheme "mysql:"/);
    // the URL is not repeated: it may hold a password
    expect(problemsOf("store: 'mysql://compat:s3cret@db/compat'\n")[0]).not.toContain("s3cret");
  });

  it("checks each policy against the approvers there are", () => {
    const problems = problemsOf(
      "targets:\n  production:\n    to: local:p\n    policy: {approvals: 2, approvers: [alice, bbo]}\n  staging:\n    to: local:s\napprovers:\n  alice: {key: a.pub}\n  bob: {key: b.pub}\n",
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^4:47 targets\.production\.policy\.approvers\[1\]: "bbo": not one of the approvers, did you mean "bob"\?/,
      ),
    ]);
    const tooFew = problemsOf(
      "targets:\n  production:\n    to: local:p\n    policy: {approvals: 3}\napprovers:\n  alice: {key: a.pub}\n",
    );
    expect(tooFew).toEqual([
      expect.stringMatching(
        /targets\.production\.policy\.approvals: needs 3 approvals but only 1 approver is allowed/,
      ),
    ]);
    // the default policy needs one approval: a target without approvers must say approvals: 0
    expect(problemsOf("targets:\n  staging: {to: local:s}\n")).toEqual([
      expect.stringMatching(
        /targets\.staging\.policy\.approvals: needs 1 approval but only 0 approvers are allowed.*set approvals: 0/,
      ),
    ]);
    expect(problemsOf("targets:\n  staging: {to: local:s, policy: {approvals: 0}}\n")).toEqual([]);
  });

  it("reports every problem of a file in one InputError (exit 2) naming the reference", async () => {
    const file = join(root, "bad.yaml");
    writeFileSync(file, "stat: x\nstore: 'mysql://x'\n");
    const err = await loadSiteConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect((err as InputError).details).toHaveLength(2);
    expect((err as InputError).details[0]).toMatch(new RegExp(`^${file}:1:1 `));
    expect((err as InputError).hint).toContain("docs/site-config.md");
  });

  it("says so when --config names no file or a directory", async () => {
    await expect(loadSiteConfig(join(root, "missing.yaml"))).rejects.toThrow(
      /cannot read the site config .*: no such file/,
    );
    await expect(loadSiteConfig(root)).rejects.toThrow(/cannot read the site config .*: a directory/);
  });

  it("looks up layers and targets by name, with a did-you-mean", () => {
    const site = parseSiteConfig(full, "/srv/site/conf/compat.yaml");
    expect(siteTarget(site, "staging").name).toBe("staging");
    expect(() => siteTarget(site, "prodution")).toThrow(
      /no target "prodution" in the site config, did you mean "production"\?/,
    );
    expect(() => siteLayer(site, "constructor")).toThrow(/no layer "constructor"/);
    expect(layerStateDir(site, "artifacts", "dev", "x86_64")).toBe(
      "/srv/site/conf/state/artifacts/dev/x86_64",
    );
  });

  it("opens a site layer's spec and checks its arches against the spec's", async () => {
    const examples = join(import.meta.dirname, "../../examples");
    const ok = parseSiteConfig(`layers:\n  dev: {spec: dev.yaml}\n`, join(examples, "compat.yaml"));
    const opened = await openSiteLayer(ok, "dev");
    expect(opened.arches).toEqual(opened.spec.spec.arches);
    const bad = parseSiteConfig(
      `layers:\n  dev: {spec: dev.yaml, arches: [ppc64le]}\n`,
      join(examples, "compat.yaml"),
    );
    await expect(openSiteLayer(bad, "dev")).rejects.toThrow(
      /layers\.dev\.arches has ppc64le, which .*dev\.yaml does not build/,
    );
  });
});

describe("names", () => {
  it("are one plain path component", () => {
    for (const ok of ["dev", "eessi-2025.06", "a_b", "X1"]) expect(nameProblem(ok)).toBeUndefined();
    for (const bad of ["", ".", "..", "../x", "a/b", "-x", ".x", "a b", "x\0", "é", "a".repeat(65)])
      expect(nameProblem(bad), bad).toBeDefined();
  });

  it("make paths that stay inside their directory, or refuse", () => {
    expect(childPath("/state/artifacts", "dev", "x86_64")).toBe("/state/artifacts/dev/x86_64");
    expect(() => childPath("/state/artifacts", "..", "etc")).toThrow(InputError);
    expect(() => childPath("/state/artifacts", "dev/../../etc")).toThrow(/not a name/);
  });
});

describe("executors:", () => {
  it("maps arches to executors; slurm work dirs resolve here, ssh ones stay the build host's", () => {
    const c = parseSiteConfig(
      [
        "state: st",
        "executors:",
        "  x86_64: local",
        '  aarch64: { on: "ssh:builder@arm1:2222", compat: "node /opt/compat/dist/cli/bin.js", workDir: w, sshConfig: ssh.cfg }',
        '  riscv64: "slurm:partition=riscv,time=4:00:00"',
      ].join("\n"),
      join(root, "exec", "compat.yaml"),
    );
    expect(c.executors).toEqual({
      x86_64: { on: "local" },
      aarch64: {
        on: "ssh:builder@arm1:2222",
        compat: "node /opt/compat/dist/cli/bin.js",
        workDir: "w",
        sshConfig: join(root, "exec", "ssh.cfg"),
      },
      riscv64: { on: "slurm:partition=riscv,time=4:00:00", workDir: join(root, "exec", "st", "slurm") },
    });
  });

  it("names the line of a hostile executor, an unknown arch and a bad compat command", () => {
    expect(
      problemsOf(
        [
          "executors:",
          '  x86_64: "ssh:-oProxyCommand=sh"',
          '  aarch64: "slurm:partition=a\\n#SBATCH --wrap=id"',
          "  sparc64: local",
          '  riscv64: { on: local, compat: "compat --evil" }',
        ].join("\n"),
      ),
    ).toEqual([
      expect.stringMatching(/^2:11 executors\.x86_64: .*is not a host name/),
      expect.stringMatching(/^3:12 executors\.aarch64: .*not a Slurm partition/),
      expect.stringMatching(/^4:3 executors\.sparc64: unknown key \(expected one of x86_64, aarch64/),
      expect.stringMatching(/^5:.* executors\.riscv64\.compat: .*not a command/),
    ]);
  });

  it("refuses an executor's config that is not one absolute path, with one message each", () => {
    expect(
      problemsOf(
        [
          "executors:",
          '  x86_64: { on: "ssh:b1", config: rel/compat.yaml }',
          '  aarch64: { on: "ssh:b2", config: "/srv/a\\nb" }',
          '  riscv64: { on: "ssh:b3", config: /srv/../etc/compat.yaml }',
          '  ppc64le: { on: "ssh:b4", config: "/srv/compat/compat.yaml" }',
        ].join("\n"),
      ),
    ).toEqual([
      expect.stringMatching(
        /^2:.* executors\.x86_64\.config: .*is not absolute .*: the site config's absolute path on the build host$/,
      ),
      expect.stringMatching(/^3:.* executors\.aarch64\.config: .*contains a control character/),
      expect.stringMatching(/^4:.* executors\.riscv64\.config: .*has a "\.\." component/),
    ]);
  });
});
