/**
 * What is installed: every atom of the layer's package sets (and the spec's packages) matches an
 * installed package, with atoms parsed and matched by the Gentoo core (EESSI pasted each atom into
 * a regex over `qlist -IRv`, so `=sys-apps/archspec-0.2.1` was "installed" when 0.2.10 was); the
 * glibc trusted dirs are in the env file, package.env and the installed glibc; the reproducibility
 * record lists exactly the installed packages.
 */
import { posix } from "node:path";
import { formatPackageList, readDpkgStatus } from "../../debian/status.js";
import { type Atom, parseAtom } from "../../gentoo/atom.js";
import { TRUSTED_DIRS_PACKAGE_ENV_LINE } from "../../gentoo/config/portage-files.js";
import { matchFromList } from "../../gentoo/match.js";
import { parsePackageList } from "../../gentoo/qlist.js";
import { readVardb, type VardbPackage } from "../../gentoo/vardb.js";
import { listDir, TRUSTED_DIRS_ENV_PATH, trustedDirsFromExtraEmake } from "../portage-files.js";
import { type Check, type CheckContext, capped, fail, pass, skip } from "../types.js";

/** The vardb directory (never the prefix itself, which readVardb would take for one when var/db/pkg is missing). */
const vdbOf = (ctx: CheckContext) => posix.join(ctx.target.localPrefix, "var/db/pkg");

export interface SetAtom {
  atom: string;
  /** The set file (layer path) or `the spec` it comes from, with the line. */
  from: string;
}

/**
 * The atoms of a Portage set file, following `@set` references to other sets in the same
 * directory. Comments and blank lines are skipped.
 */
export function readSetAtoms(
  ctx: CheckContext,
  name: string,
  seen = new Set<string>(),
): { atoms: SetAtom[]; missing: string[] } {
  const file = ctx.fs.abs(`etc/portage/sets/${name}`);
  if (seen.has(name)) return { atoms: [], missing: [] };
  seen.add(name);
  const text = ctx.fs.readText(file);
  if (text === undefined) return { atoms: [], missing: [file] };
  const atoms: SetAtom[] = [];
  const missing: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    if (line.startsWith("@")) {
      const sub = readSetAtoms(ctx, line.slice(1), seen);
      atoms.push(...sub.atoms);
      missing.push(...sub.missing);
    } else atoms.push({ atom: line, from: `${file}:${i + 1}` });
  });
  return { atoms, missing };
}

export type AtomVerdict = { ok: true; matched: string[] } | { ok: false; reason: string; matched: string[] };

/** Whether `text` (an atom) is satisfied by the installed packages: matched, or for a blocker, not matched. */
export function atomInstalled(text: string, installed: readonly VardbPackage[]): AtomVerdict {
  let atom: Atom;
  try {
    atom = parseAtom(text, { allowRepo: true, allowBlockers: true, allowWildcard: true });
  } catch (e) {
    return {
      ok: false,
      reason: `not a valid atom (${e instanceof Error ? e.message : String(e)})`,
      matched: [],
    };
  }
  const matched = matchFromList(atom, installed).map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`);
  if (atom.blocker)
    return matched.length === 0
      ? { ok: true, matched }
      : { ok: false, reason: "blocked package installed", matched };
  if (matched.length > 0) return { ok: true, matched };
  const sameName = installed
    .filter((p) => p.cp === atom.cp)
    .map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`);
  return {
    ok: false,
    reason: sameName.length > 0 ? `not installed (installed: ${sameName.join(", ")})` : "not installed",
    matched: [],
  };
}

export const setInstalled: Check = {
  id: "set-installed",
  title: "Every package the layer is built from is installed",
  proves:
    "gentoo: each atom of the layer's sets and of the spec's packages matches an installed package of the vardb, by Portage's matching rules (versions, slots, ::repo); debian: each package of the spec is installed according to dpkg",
  flavors: ["gentoo", "debian"],
  eessi: "EessiSetInstalledTest",
  skipReason(ctx) {
    if (ctx.target.flavor === "debian") {
      if (!ctx.target.layer) return "no spec given: the layer's packages are not known";
      return (ctx.target.layer.spec.debian?.packages.length ?? 0) === 0
        ? "the spec lists no package"
        : undefined;
    }
    if (ctx.target.sets.length === 0 && ctx.target.packageAtoms.length === 0)
      return ctx.target.layer
        ? "the spec installs no set and no package"
        : "no spec given: the layer's sets are not known";
    return undefined;
  },
  async run(ctx) {
    if (ctx.target.flavor === "debian") return debianPackagesInstalled(ctx);
    const atoms: SetAtom[] = ctx.target.packageAtoms.map((atom) => ({
      atom,
      from: "the spec's gentoo.packages",
    }));
    const missingSets: string[] = [];
    for (const set of ctx.target.sets) {
      const r = readSetAtoms(ctx, set);
      atoms.push(...r.atoms);
      missingSets.push(...r.missing);
    }
    const vardb = readVardb(vdbOf(ctx), { fields: ["SLOT", "repository"] });
    const bad: string[] = [];
    const files = new Set<string>(missingSets);
    for (const a of atoms) {
      const v = atomInstalled(a.atom, vardb.packages);
      if (!v.ok) {
        bad.push(`${a.atom} (${a.from}): ${v.reason}`);
        files.add(a.from.includes(":") ? a.from.slice(0, a.from.lastIndexOf(":")) : a.from);
      }
    }
    const evidence = {
      read: [
        ...ctx.target.sets.map((s) => ctx.fs.abs(`etc/portage/sets/${s}`)),
        `${ctx.fs.abs("var/db/pkg")} (${vardb.packages.length} packages)`,
      ],
      expected: `every atom of ${[
        ...ctx.target.sets.map((s) => `@${s}`),
        ctx.target.packageAtoms.length > 0 ? "the spec's packages" : "",
      ]
        .filter(Boolean)
        .join(" and ")} installed`,
    };
    const vardbNotes = vardb.problems.map((p) => `vardb: ${p.path}: ${p.message}`);
    if (missingSets.length > 0) bad.unshift(...missingSets.map((f) => `${f}: set file missing`));
    if (bad.length === 0)
      return pass({
        ...evidence,
        found: `${atoms.length} atoms, all installed`,
        details: capped(vardbNotes),
      });
    return fail({
      ...evidence,
      found: `${bad.length} of ${atoms.length + missingSets.length} not satisfied`,
      files: [...files],
      details: capped([...bad, ...vardbNotes]),
    });
  },
};

/** The debian flavor's "set": the spec's packages, each installed according to dpkg's status database. */
async function debianPackagesInstalled(ctx: CheckContext) {
  const wanted = ctx.target.layer?.spec.debian?.packages ?? [];
  const status = ctx.fs.abs("var/lib/dpkg/status");
  const db = await readDpkgStatus(ctx.target.localPrefix);
  const names = new Set(db.packages.map((p) => p.name));
  const missing = wanted.filter((p) => !names.has(p));
  const evidence = {
    read: [`${status} (${db.packages.length} installed packages)`],
    expected: `the spec's packages installed: ${wanted.join(", ")}`,
  };
  if (missing.length === 0) return pass({ ...evidence, found: `all ${wanted.length} installed` });
  return fail({
    ...evidence,
    found: `not installed: ${missing.join(", ")}`,
    files: [status],
    details: missing.map((p) => `${p}: no installed stanza in ${status}`),
  });
}

/** package.env (a file or a directory of files) as lines. */
function packageEnvLines(ctx: CheckContext): { lines: string[]; files: string[] } {
  const base = ctx.fs.abs("etc/portage/package.env");
  const r = ctx.fs.resolve(base);
  if (!r.ok) return { lines: [], files: [] };
  const files = r.stat.isDirectory() ? listDir(ctx.fs, base).map((n) => posix.join(base, n)) : [base];
  const lines = files.flatMap((f) =>
    (ctx.fs.readText(f) ?? "").split("\n").map((l) => l.replace(/#.*/, "").trim()),
  );
  return { lines, files };
}

const sameList = (a: readonly string[] | undefined, b: readonly string[]) =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

export const glibcEnvFile: Check = {
  id: "glibc-env-file",
  title: "glibc is built with the trusted dirs",
  proves:
    "the env file, package.env and the installed glibc's EXTRA_EMAKE (what `equery has --package glibc EXTRA_EMAKE` reads) all carry user-defined-trusted-dirs equal to the spec's list, in order",
  flavors: ["gentoo"],
  eessi: "GlibcEnvFileTest",
  skipReason(ctx) {
    if (ctx.target.trustedDirs !== undefined && ctx.target.trustedDirs.length === 0)
      return "the spec sets no glibc trusted dirs";
    return undefined;
  },
  async run(ctx) {
    const envPath = ctx.fs.abs(TRUSTED_DIRS_ENV_PATH);
    const envText = ctx.fs.readText(envPath);
    const fromEnv = envText === undefined ? undefined : trustedDirsFromExtraEmake(envText);
    const want = ctx.target.trustedDirs ?? fromEnv;
    if (!want || want.length === 0)
      return skip("no spec given and no trusted-dirs env file: the layer has no trusted dirs to check");
    const problems: string[] = [];
    const files: string[] = [];
    if (!sameList(fromEnv, want)) {
      problems.push(
        `${envPath}: ${envText === undefined ? "missing" : `dirs ${fromEnv?.join(":") ?? "(none)"}`}`,
      );
      files.push(envPath);
    }
    const env = packageEnvLines(ctx);
    if (!env.lines.includes(TRUSTED_DIRS_PACKAGE_ENV_LINE)) {
      problems.push(`package.env has no line "${TRUSTED_DIRS_PACKAGE_ENV_LINE}"`);
      files.push(...(env.files.length > 0 ? env.files : [ctx.fs.abs("etc/portage/package.env")]));
    }
    const vardb = readVardb(vdbOf(ctx), {
      only: (cp) => cp === "sys-libs/glibc",
      fields: ["SLOT"],
    });
    const read = [envPath, ...env.files];
    if (vardb.packages.length === 0) {
      problems.push("sys-libs/glibc is not installed (no vardb entry)");
      files.push(ctx.fs.abs("var/db/pkg/sys-libs"));
    }
    for (const glibc of vardb.packages) {
      const entry = vardb.entries.find((e) => e.cpv === glibc.cpv)!;
      const extraPath = posix.join(
        ctx.fs.abs(posix.relative(ctx.target.localPrefix, entry.path)),
        "EXTRA_EMAKE",
      );
      read.push(extraPath);
      const text = ctx.fs.readText(extraPath);
      const dirs = text === undefined ? undefined : trustedDirsFromExtraEmake(text);
      if (!sameList(dirs, want)) {
        problems.push(
          `${glibc.cpv} was built with ${text === undefined ? "no EXTRA_EMAKE" : `trusted dirs ${dirs?.join(":") ?? "(none)"}`}`,
        );
        files.push(extraPath);
      }
    }
    const evidence = {
      read,
      expected: `user-defined-trusted-dirs=${want.join(":")}${ctx.target.trustedDirs ? " (the spec's)" : ` (from ${envPath})`}`,
    };
    if (problems.length === 0)
      return pass({ ...evidence, found: "env file, package.env and the installed glibc agree" });
    return fail({ ...evidence, found: problems.join("; "), files, details: problems });
  },
};

/** The newest reproducibility record: `reprod/<stamp>/` with the greatest name. */
function latestRecord(ctx: CheckContext): string | undefined {
  const names = listDir(ctx.fs, ctx.fs.abs("reprod")).filter(
    (n) => ctx.fs.resolve(ctx.fs.abs(`reprod/${n}`)).ok,
  );
  return names.length > 0 ? ctx.fs.abs(`reprod/${names.at(-1)}`) : undefined;
}

/** The installed packages in the form the flavor's record lists them. */
async function installedList(
  ctx: CheckContext,
): Promise<{ lines: string[]; source: string; notes: string[] }> {
  if (ctx.target.flavor === "debian") {
    const db = await readDpkgStatus(ctx.target.localPrefix);
    return {
      lines: formatPackageList(db.packages).split("\n").filter(Boolean),
      source: ctx.fs.abs("var/lib/dpkg/status"),
      notes: db.problems.map((p) => `dpkg status line ${p.line}: ${p.message}`),
    };
  }
  const vardb = readVardb(vdbOf(ctx), { fields: ["SLOT", "repository"] });
  return {
    lines: vardb.packages.map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`).sort(),
    source: ctx.fs.abs("var/db/pkg"),
    notes: vardb.problems.map((p) => `vardb: ${p.path}: ${p.message}`),
  };
}

/** The record's package list in the same form (`name:arch version` for debian, `cat/pf::repo` for gentoo). */
function recordedList(ctx: CheckContext, text: string, file: string): { lines: string[]; notes: string[] } {
  if (ctx.target.flavor === "debian")
    return {
      lines: text
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .sort(),
      notes: [],
    };
  const { packages, problems } = parsePackageList(text, file);
  return {
    lines: packages.map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`).sort(),
    notes: problems.map((p) => `${file}:${p.line}: ${p.message}`),
  };
}

export const reprodRecord: Check = {
  id: "reprod-record",
  title: "The reproducibility record matches the installed packages",
  finishedOnly: true,
  proves:
    "the layer carries reprod/<stamp>/ with build.json and packages.txt, and packages.txt lists exactly what the package database says is installed",
  flavors: ["gentoo", "debian"],
  async run(ctx) {
    const dir = latestRecord(ctx);
    const expected =
      "reprod/<stamp>/build.json (JSON) and packages.txt equal to the installed-package database";
    if (!dir)
      return fail({
        read: [ctx.fs.abs("reprod")],
        expected,
        found: "no reproducibility record",
        files: [ctx.fs.abs("reprod")],
      });
    const problems: string[] = [];
    const files: string[] = [];
    const buildJson = posix.join(dir, "build.json");
    const jsonText = ctx.fs.readText(buildJson);
    if (jsonText === undefined) {
      problems.push("build.json is missing");
      files.push(buildJson);
    } else
      try {
        JSON.parse(jsonText);
      } catch (e) {
        problems.push(`build.json is not JSON (${e instanceof Error ? e.message : String(e)})`);
        files.push(buildJson);
      }
    const listFile = posix.join(dir, "packages.txt");
    const listText = ctx.fs.readText(listFile);
    const installed = await installedList(ctx);
    let counts = "";
    if (listText === undefined) {
      problems.push("packages.txt is missing");
      files.push(listFile);
    } else {
      const recorded = recordedList(ctx, listText, listFile);
      const inDb = new Set(installed.lines);
      const inRecord = new Set(recorded.lines);
      const notInstalled = recorded.lines.filter((l) => !inDb.has(l));
      const notRecorded = installed.lines.filter((l) => !inRecord.has(l));
      for (const l of notInstalled) problems.push(`recorded but not installed: ${l}`);
      for (const l of notRecorded) problems.push(`installed but not recorded: ${l}`);
      problems.push(...recorded.notes);
      if (notInstalled.length + notRecorded.length + recorded.notes.length > 0) files.push(listFile);
      counts = `${recorded.lines.length} recorded, ${installed.lines.length} installed`;
    }
    const evidence = { read: [buildJson, listFile, installed.source], expected };
    if (problems.length === 0)
      return pass({ ...evidence, found: `${dir}: ${counts}, equal`, details: capped(installed.notes) });
    return fail({
      ...evidence,
      found: `${dir}: ${problems.length} problem${problems.length === 1 ? "" : "s"}${counts ? ` (${counts})` : ""}`,
      files,
      details: capped([...problems, ...installed.notes]),
    });
  },
};
