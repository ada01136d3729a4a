/**
 * Parity with Portage itself, run when PORTAGE_SRC names a Portage source tree (e.g. a checkout
 * of gentoo/portage; nothing of it is copied here). Portage's own Python code is the oracle:
 * - its glsa.match() over a 1,000-package vdb (bench/audit-vardb.ts) and the portage-derived
 *   scenarios gives, per advisory, the installed packages our audit must report;
 * - random versions, atoms and matches are judged by its vercmp, catpkgsplit, isvalidatom
 *   and match_from_list.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateVardb } from "../../bench/audit-vardb.js";
import { isValidAtom } from "../../src/gentoo/atom.js";
import { catpkgsplit } from "../../src/gentoo/cpv.js";
import { matchFromList } from "../../src/gentoo/match.js";
import { compareVersionsOrUndefined } from "../../src/gentoo/version.js";
import { resolveTarget, runAudit } from "../../src/security/audit.js";
import { writeScenarioPrefix } from "../helpers/glsa-fixtures.js";
import { GLSA_DIR } from "../helpers/shared-data.js";

const PORTAGE = process.env.PORTAGE_SRC;
const root = mkdtempSync(join(tmpdir(), "compat-portage-parity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Per advisory, the installed cpvs glsa-check's own match() puts in vulnerable − unaffected. */
const ORACLE = String.raw`
import json, sys, warnings
warnings.filterwarnings("ignore")
import portage
from portage.glsa import Glsa, GlsaFormatException, GlsaTypeException, get_glsa_list, match
settings = portage.settings
vardb = portage.db[settings["EROOT"]]["vartree"].dbapi
portdb = portage.db[settings["EROOT"]]["porttree"].dbapi
out = {}
for gid in sorted(get_glsa_list(settings)):
    try:
        g = Glsa(gid, settings, vardb, portdb)
    except (GlsaTypeException, GlsaFormatException):
        continue
    hits = set()
    for cp, paths in g.packages.items():
        for path in paths:
            if path["arch"] != "*" and settings["ARCH"] not in path["arch"].split():
                continue
            v = set(x for a in path["vul_atoms"] for x in match(a, vardb))
            u = set(x for a in path["unaff_atoms"] for x in match(a, vardb))
            hits |= v - u
    if bool(hits) != g.isVulnerable():
        sys.exit("oracle disagrees with isVulnerable() on " + gid)
    if hits:
        out[gid] = sorted(str(x) for x in hits)
print(json.dumps(out))
`;

function portageEnv(prefix: string, glsaDir: string): NodeJS.ProcessEnv {
  const configRoot = join(root, `config-${Math.random().toString(36).slice(2)}`);
  const repo = join(configRoot, "repo");
  mkdirSync(join(configRoot, "etc/portage/repos.conf"), { recursive: true });
  mkdirSync(join(repo, "profiles"), { recursive: true });
  writeFileSync(join(repo, "profiles/repo_name"), "gentoo\n");
  writeFileSync(join(configRoot, "etc/portage/make.conf"), 'ARCH="amd64"\nACCEPT_KEYWORDS="amd64"\n');
  writeFileSync(join(configRoot, "etc/portage/repos.conf/gentoo.conf"), `[gentoo]\nlocation = ${repo}\n`);
  return {
    ...process.env,
    PORTAGE_CONFIGROOT: configRoot,
    ROOT: `${prefix}/`,
    GLSA_DIR: glsaDir,
    PYTHONPATH: join(PORTAGE!, "lib"),
  };
}

function python(script: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync("python3", ["-c", script], { env, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

async function compareAudit(prefix: string, glsaDir: string) {
  const theirs = JSON.parse(python(ORACLE, portageEnv(prefix, glsaDir))) as Record<string, string[]>;
  const report = await runAudit({ target: resolveTarget(prefix), glsaDir, arch: "x86_64", failOn: "low" });
  const ours: Record<string, string[]> = {};
  for (const f of report.findings) ours[f.id] = [...(ours[f.id] ?? []), f.installed];
  for (const id of Object.keys(ours)) ours[id]!.sort();
  return { ours, theirs };
}

describe.skipIf(!PORTAGE)("parity with Portage's own code (PORTAGE_SRC)", () => {
  it("reports per advisory exactly the installed packages glsa-check's match() reports, on a generated 1,000-package vdb", async () => {
    const prefix = join(root, "generated");
    generateVardb(prefix, GLSA_DIR, 1000);
    const { ours, theirs } = await compareAudit(prefix, GLSA_DIR);
    expect(Object.keys(theirs).length).toBeGreaterThan(100);
    expect(ours).toEqual(theirs);
  });

  it("does the same on the portage-derived scenarios", async () => {
    const { prefix, glsaDir } = writeScenarioPrefix(join(root, "scenarios"));
    const { ours, theirs } = await compareAudit(prefix, glsaDir);
    expect(ours).toEqual(theirs);
  });

  it("agrees with vercmp, catpkgsplit, isvalidatom and match_from_list on random input", () => {
    const cases = JSON.parse(python(FUZZ, { ...process.env, PYTHONPATH: join(PORTAGE!, "lib") })) as {
      vercmp: [string, string, number | null][];
      split: [string, string[] | null][];
      atoms: [string, Record<string, boolean | string | null>, boolean][];
      match: [string, string[], string[] | string][];
    };
    const mismatches: string[] = [];
    for (const [a, b, r] of cases.vercmp) {
      const got = compareVersionsOrUndefined(a, b);
      if (got !== (r === null ? undefined : Math.sign(r)))
        mismatches.push(`vercmp ${a} ${b}: ${r} vs ${got}`);
    }
    for (const [s, r] of cases.split)
      if (JSON.stringify(catpkgsplit(s)) !== JSON.stringify(r)) mismatches.push(`catpkgsplit ${s}`);
    for (const [s, kw, r] of cases.atoms) {
      const got = isValidAtom(s, {
        allowBlockers: kw.allow_blockers as boolean,
        allowWildcard: kw.allow_wildcard as boolean,
        allowRepo: kw.allow_repo as boolean,
        allowBuildId: kw.allow_build_id as boolean,
        eapi: kw.eapi as string | null,
      });
      if (got !== r)
        mismatches.push(`isvalidatom ${JSON.stringify(s)} ${JSON.stringify(kw)}: ${r} vs ${got}`);
    }
    for (const [atom, candidates, r] of cases.match) {
      let got: unknown;
      try {
        got = matchFromList(atom, candidates);
      } catch (e) {
        got = `error:${(e as Error).name}`;
      }
      if (JSON.stringify(got) !== JSON.stringify(r)) mismatches.push(`match_from_list ${atom} ${candidates}`);
    }
    expect(mismatches).toEqual([]);
    expect(cases.vercmp.length + cases.split.length + cases.atoms.length + cases.match.length).toBe(13000);
  });
});

/** Random versions, cpvs, atoms (with every option) and matches, judged by Portage. */
const FUZZ = String.raw`
import json, random, warnings
warnings.filterwarnings("ignore")
from portage.versions import vercmp, catpkgsplit
from portage.dep import isvalidatom, match_from_list
random.seed(2026)
def comp(): return random.choice(["0","1","2","10","01","001","010","9","00","123456789012345678901234567890"])
def ver():
    v = comp()
    for _ in range(random.randint(0, 3)): v += "." + comp()
    if random.random() < 0.2: v += random.choice("abz")
    for _ in range(random.choice([0, 0, 1, 2])): v += "_" + random.choice(["alpha","beta","pre","rc","p"]) + random.choice(["","0","1","2","01"])
    if random.random() < 0.3: v += "-r" + random.choice(["0","00","1","2","10","01"])
    return v
def mutate(s):
    ops = [lambda s: s, lambda s: s + "-", lambda s: s.replace(".", "..", 1), lambda s: "_" + s, lambda s: s + ".", lambda s: s.replace("_", "", 1), lambda s: s + "_r1", lambda s: s + "*"]
    return random.choice(ops)(s) if random.random() < 0.15 else s
out = {"vercmp": [], "split": [], "atoms": [], "match": []}
for _ in range(3000):
    a, b = mutate(ver()), mutate(ver())
    out["vercmp"].append([a, b, vercmp(a, b)])
names = ["foo","foo-bar","a9","foo-1x","bar-11","font-adobe-100dpi","x+y","g-2d","pkg_","7z","b"]
cats = ["cat","dev-libs","null","x11-libs","sys-apps","-bad","a.b",""]
for _ in range(3000):
    s = random.choice(cats) + "/" + random.choice(names) + "-" + mutate(ver())
    if random.random() < 0.2: s = s.split("/", 1)[1]
    r = catpkgsplit(s)
    out["split"].append([s, list(r) if r else None])
ops = ["","=","~",">=","<=",">","<","!","!!","!=",">~"]
slots = ["",":0",":1/2",":*",":=",":1=",":+x",":",":a/b=",":1.2"]
uses = ["","[a]","[a,-b]","[a(+),!b?]","[a=,b(-)]","[!a]","[a(+),-a]","[]","[-a?]"]
repos = ["","::gentoo","::r-1"]
for _ in range(4000):
    op = random.choice(ops); cat = random.choice(cats); n = random.choice(names)
    v = ("-" + mutate(ver())) if op.strip("!") else (random.choice(["","-1"]) if random.random() < 0.1 else "")
    star = "*" if random.random() < 0.1 else ""
    s = op + cat + "/" + n + v + star + random.choice(slots) + random.choice(repos) + random.choice(uses)
    kw = dict(allow_blockers=random.random() < 0.5, allow_wildcard=random.random() < 0.3, allow_repo=random.choice([True, False]), eapi=random.choice([None,"0","1","2","4","5","8"]), allow_build_id=random.random() < 0.2)
    out["atoms"].append([s, kw, isvalidatom(s, **kw)])
for _ in range(3000):
    n = random.choice(["foo","bar"]); op = random.choice(["=","~",">=","<=",">","<","=*"])
    v = ver()
    s = ("=dev-libs/" + n + "-" + v + "*") if op == "=*" else (op + "dev-libs/" + n + "-" + v)
    s += random.choice(["",":0",":1",":1/2"])
    cands = [random.choice(["dev-libs/foo","dev-libs/bar","x/foo"]) + "-" + ver() + random.choice(["",":0",":1",":1/2",":1/3"]) for _ in range(4)]
    try:
        r = match_from_list(s, cands)
    except Exception as e:
        r = "error:" + type(e).__name__
    out["match"].append([s, cands, r])
print(json.dumps(out))
`;
