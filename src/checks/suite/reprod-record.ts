/**
 * The reproducibility record (`reprod/<stamp>/`) exists and its package list equals the
 * installed-package database (the vardb, or dpkg's status).
 */
import { posix } from "node:path";
import { formatPackageList, readDpkgStatus } from "../../debian/status.js";
import { getFlavor } from "../../flavors/index.js";
import { parsePackageList } from "../../gentoo/qlist.js";
import { readVardb } from "../../gentoo/vardb.js";
import { listDir, vardbDir } from "../portage-files.js";
import { type Check, type CheckContext, capped, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

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
  if (getFlavor(ctx.target.flavor).packageDatabase === "dpkg") {
    const db = await readDpkgStatus(ctx.target.localPrefix);
    return {
      lines: formatPackageList(db.packages).split("\n").filter(Boolean),
      source: ctx.fs.abs("var/lib/dpkg/status"),
      notes: db.problems.map((p) => `dpkg status line ${p.line}: ${p.message}`),
    };
  }
  const vardb = readVardb(vardbDir(ctx.target.localPrefix), { fields: ["SLOT", "repository"] });
  return {
    lines: vardb.packages.map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`).sort(),
    source: ctx.fs.abs("var/db/pkg"),
    notes: vardb.problems.map((p) => `vardb: ${p.path}: ${p.message}`),
  };
}

/** The record's package list in the same form (`name:arch version` for debian, `cat/pf::repo` for gentoo). */
function recordedList(ctx: CheckContext, text: string, file: string): { lines: string[]; notes: string[] } {
  if (getFlavor(ctx.target.flavor).packageDatabase === "dpkg")
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
  versions: ALL_VERSIONS,
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
