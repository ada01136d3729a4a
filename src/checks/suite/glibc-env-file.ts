/**
 * EESSI's GlibcEnvFileTest, fixed: the glibc trusted dirs in the env file, package.env and the
 * installed glibc's EXTRA_EMAKE equal the spec's list, compared as lists (the reference pasted
 * the list into a regex, where it became a character class).
 */
import { posix } from "node:path";
import { TRUSTED_DIRS_PACKAGE_ENV_LINE } from "../../gentoo/config/portage-files.js";
import { readVardb } from "../../gentoo/vardb.js";
import { listDir, TRUSTED_DIRS_ENV_PATH, trustedDirsFromExtraEmake, vardbDir } from "../portage-files.js";
import { type Check, type CheckContext, fail, pass, skip } from "../types.js";
import type { Versions } from "../versions.js";

/** EESSI skips 2021.03, built before glibc got trusted dirs (reference/compat-layer.md §7). */
const GLIBC_ENV_VERSIONS: Versions = { except: ["2021.03"] };

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
  requires: "glibc-trusted-dirs",
  versions: GLIBC_ENV_VERSIONS,
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
    const vardb = readVardb(vardbDir(ctx.target.localPrefix), {
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
