/**
 * Property (issue 10): for generated specs, hostile and benign strings in every field that becomes a
 * path, whatever the loader accepts plans only paths inside the prefix or the root, and what the
 * plan writes and links, done for real in a scratch prefix, lands inside it. Specs the loader
 * refuses are refused with an InputError (exit 2), never a crash.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { InputError } from "../errors.js";
import { makeHostLinks } from "../layer/symlinks.js";
import { isInside, joinInside } from "../paths/rules.js";
import { parseSpec } from "../spec/load.js";
import { localPrefix, repositoryRoot, resolveLayer } from "../spec/resolve.js";
import { applyPlannedFiles } from "./files.js";
import { linkInto } from "./gentoo/sets.js";
import { planOf, planProblems } from "./index.js";
import { plannedPaths } from "./plan.js";

const scratch = mkdtempSync(join(tmpdir(), "compat-plan-property-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const CWD = join(scratch, "cwd");
const REPO = `property-${process.pid}.example.org`;

/** Path components an attacker (or a careless spec) would try. */
const component = fc.constantFrom(
  "..",
  ".",
  "",
  "etc",
  "env",
  "a..b",
  ".hidden",
  "{prefix}",
  "{arch}",
  "{version}",
  "{unknown}",
  "x\0y",
  "sp ace",
  "~",
  "%2e%2e",
  "\\..",
  "tmp",
  "victim",
);
const hostilePath = fc
  .tuple(fc.boolean(), fc.array(component, { minLength: 0, maxLength: 6 }))
  .map(([abs, parts]) => `${abs ? "/" : ""}${parts.join("/")}`);
const either = <T>(benign: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: benign, weight: 9 }, { arbitrary: hostile, weight: 1 });
const name = either(fc.constantFrom("glibc", "a..b", ".hidden", "01-use", "x.conf"), hostilePath);
const relative = either(fc.constantFrom("etc/hosts", "./etc//hosts/", "lib/nvidia", "a..b/c"), hostilePath);

const hostSymlink = fc.oneof(
  either(fc.constantFrom("/etc/passwd", "/etc/hosts", "/lib64/libnss_x.so.2", "/var/tmp"), hostilePath),
  fc.record({
    src: either(fc.constantFrom("/etc/x", "/dev/null"), hostilePath),
    dest: either(
      fc.constantFrom("etc/hosts", "{prefix}/etc/localtime", "./opt/x", "lib/override"),
      hostilePath.map((p) => (p.startsWith("/") ? `{prefix}${p}` : p)),
    ),
  }),
);

const spec = fc.record(
  {
    prefix: either(
      fc.constantFrom(
        "/cvmfs/{repository}/versions/{version}/compat/{os}/{arch}",
        "/cvmfs/{repository}/x/{arch}",
      ),
      hostilePath.map((p) => `/cvmfs/{repository}/${p}`),
    ),
    root: either(fc.constantFrom("compat-root", "./r/", "a..b"), hostilePath),
    locales: fc.array(
      either(
        fc.constantFrom("en_US.UTF-8 UTF-8", "de_DE@euro ISO-8859-15"),
        hostilePath.map((p) => `${p} UTF-8`),
      ),
      { maxLength: 2 },
    ),
    hostSymlinks: fc.uniqueArray(hostSymlink, { maxLength: 4, selector: (h) => JSON.stringify(h) }),
    hostDefaults: fc.dictionary(relative, either(fc.constant("/dev/null"), hostilePath), { maxKeys: 2 }),
    makeConf: fc.dictionary(name, fc.constant("X=1"), { maxKeys: 2 }),
    packageEnvFiles: fc.dictionary(
      either(
        fc.constantFrom("package.env", "env/sys-libs/glibc", "env/x.conf"),
        hostilePath.map((p) => `env/${p}`),
      ),
      fc.constant(""),
      { maxKeys: 3 },
    ),
    sets: fc.array(either(fc.constantFrom("eessi-{version}-{os}-{arch}", "a..b"), hostilePath), {
      maxLength: 2,
    }),
    overlay: either(fc.constantFrom("eessi", "site_1"), hostilePath),
    portageConfig: fc.array(either(fc.constantFrom("package.use", "bashrc"), hostilePath), { maxLength: 2 }),
    script: either(fc.constantFrom("bootstrap-prefix.sh", "./scripts/b.sh"), hostilePath),
    trustedDirs: fc.array(either(fc.constantFrom("{prefix}/lib/nvidia", "/opt/x"), hostilePath), {
      maxLength: 2,
    }),
    requiredTools: fc.array(either(fc.constantFrom("bash", "make"), hostilePath), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

type GeneratedSpec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

function specText(g: GeneratedSpec): string {
  const doc: Record<string, unknown> = {
    repository: REPO,
    stack: "dev",
    version: "2025.06",
    arches: ["x86_64", "aarch64"],
    flavor: "gentoo",
    gentoo: {
      repository: { commit: "a".repeat(40) },
      ...(g.makeConf ? { makeConf: g.makeConf } : {}),
      ...(g.packageEnvFiles ? { packageEnvFiles: g.packageEnvFiles } : {}),
      ...(g.sets ? { sets: g.sets } : {}),
      ...(g.trustedDirs ? { trustedDirs: g.trustedDirs } : {}),
      ...(g.overlay
        ? {
            overlays: [
              {
                name: g.overlay,
                url: "https://example.org/o.git",
                commit: "abcdef1",
                portageConfig: g.portageConfig ?? [],
              },
            ],
          }
        : {}),
      ...(g.script ? { bootstrap: { script: { path: g.script } } } : {}),
    },
    ...(g.prefix ? { prefix: g.prefix } : {}),
    ...(g.root ? { root: g.root } : {}),
    ...(g.locales ? { locales: g.locales } : {}),
    ...(g.hostSymlinks ? { hostSymlinks: g.hostSymlinks } : {}),
    variantSymlinks: { enabled: false, ...(g.hostDefaults ? { hostDefaults: g.hostDefaults } : {}) },
    ...(g.requiredTools ? { checks: { requiredTools: g.requiredTools } } : {}),
  };
  return stringify(doc);
}

/** Inside `dir` and not `dir` itself, lexically (the joins normalise; no `..` may survive them). */
function strictlyInside(path: string, dir: string): boolean {
  return path !== dir && isInside(posix.normalize(path), dir) && !path.split("/").includes("..");
}

describe("spec loader and planners (property)", () => {
  it("plan only paths inside the prefix or the root, for every spec that validates", () => {
    let validated = 0;
    let refused = 0;
    fc.assert(
      fc.property(spec, (g) => {
        let loaded: ReturnType<typeof parseSpec>;
        try {
          loaded = parseSpec(specText(g), join(CWD, "spec.yaml"), { check: planProblems });
        } catch (e) {
          expect(e).toBeInstanceOf(InputError);
          refused++;
          return;
        }
        validated++;
        const root = repositoryRoot(loaded.spec, undefined, CWD);
        expect(strictlyInside(root, CWD)).toBe(true);
        const script = loaded.spec.gentoo?.bootstrap.script.path;
        if (script) expect(strictlyInside(joinInside(CWD, script, "script"), CWD)).toBe(true);
        for (const arch of loaded.spec.arches) {
          const layer = resolveLayer(loaded.spec, arch);
          expect(strictlyInside(layer.prefix, `/cvmfs/${REPO}`)).toBe(true);
          const target = localPrefix(layer, root);
          expect(strictlyInside(target, root)).toBe(true);
          const plan = planOf(layer);
          const paths = [
            ...plannedPaths(
              plan,
              (loaded.spec.gentoo?.overlays ?? []).map((o) => o.name),
            ).map((p) => p.path),
            ...plan.hostSymlinks.map((l) => l.path),
            ...plan.portageLinks.flatMap((l) => [l.path, l.target]),
            ...plan.setSources.flatMap((s) => (s.from === "file" ? s.lookIn : [])),
          ];
          for (const p of paths) expect(strictlyInside(posix.join(target, p), target), p).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
    // a property over nothing proves nothing: both kinds must have been seen, many times
    expect(validated).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(200);
  });

  it("refuses any text that is not a valid spec with an InputError, never a crash", () => {
    const fragment = fc.constantFrom(
      "repository: x.example.org\n",
      "hostSymlinks: [/etc/passwd]\n",
      "a: &a [1,2]\nb: [*a,*a]\n",
      "? [complex]\n: key\n",
      "gentoo: {packageEnvFiles: {env/x: y}}\n",
      "- list\n",
      "!!binary aGk=\n",
      "%YAML 1.1\n---\n",
      "<<: *nothing\n",
      "\t: tab\n",
      "prefix: !!int 3\n",
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fragment, fc.string({ unit: "grapheme-composite" })), { maxLength: 6 }),
        (parts) => {
          try {
            parseSpec(parts.join(""), "fuzz.yaml", { check: planProblems });
          } catch (e) {
            expect(e).toBeInstanceOf(InputError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("what a validated plan writes and links, done for real, lands inside its prefix", async () => {
    let n = 0;
    let wrote = 0;
    await fc.assert(
      fc.asyncProperty(spec, async (g) => {
        let loaded: ReturnType<typeof parseSpec>;
        try {
          loaded = parseSpec(specText(g), join(CWD, "spec.yaml"), { check: planProblems });
        } catch {
          return;
        }
        const box = join(scratch, `box-${++n}`);
        const prefixDir = join(box, "root", "prefix");
        mkdirSync(prefixDir, { recursive: true });
        const layer = resolveLayer(loaded.spec, "x86_64");
        const plan = planOf(layer);
        const into = { base: prefixDir, mountedAt: layer.prefix, what: "the prefix" };
        await applyPlannedFiles(into, plan.files, () => true);
        for (const l of plan.portageLinks) await linkInto(into, l.path, l.target);
        await makeHostLinks(into, layer.hostLinks, "plain");
        wrote++;
        // the only entry of the box is the root with the prefix: nothing was made beside or above it
        expect(readdirSync(box)).toEqual(["root"]);
        expect(readdirSync(join(box, "root"))).toEqual(["prefix"]);
        rmSync(box, { recursive: true, force: true });
      }),
      { numRuns: 300 },
    );
    expect(wrote).toBeGreaterThan(30);
  });
});
