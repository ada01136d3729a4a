/** EESSI's Utf8LocaleTest: the spec's UTF-8 locale works in the layer. */
import { flavorHas } from "../../flavors/index.js";
import { needsShell } from "../command-check.js";
import { outputTail } from "../shell.js";
import { type Check, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

/** Normalise a locale name as `locale -a` prints it: `en_US.UTF-8` → `en_US.utf8`. */
export function normaliseLocale(name: string): string {
  const dot = name.indexOf(".");
  if (dot < 0) return name;
  const at = name.indexOf("@", dot);
  const codeset = name.slice(dot + 1, at < 0 ? undefined : at);
  const norm = /^[0-9]+$/.test(codeset.replace(/[^A-Za-z0-9]/g, ""))
    ? `iso${codeset.replace(/[^A-Za-z0-9]/g, "").toLowerCase()}`
    : codeset.replace(/[^A-Za-z0-9]/g, "").toLowerCase();
  return `${name.slice(0, dot)}.${norm}${at < 0 ? "" : name.slice(at)}`;
}

export const utf8Locale: Check = {
  id: "locale-utf8",
  title: "The UTF-8 locale works",
  proves:
    "the spec's UTF-8 locale is usable in the layer (setlocale succeeds and its charmap is UTF-8); on gentoo `locale -a` also lists it, as EESSI checks",
  versions: ALL_VERSIONS,
  eessi: "Utf8LocaleTest",
  skipReason: needsShell,
  async run(ctx) {
    const want = normaliseLocale(ctx.target.settings.locale);
    const r = await ctx.shell.run(`locale -a; echo '--- charmap'; LC_ALL=${want} locale charmap`);
    const [listPart = "", charmapPart = ""] = r.stdout.split("--- charmap\n");
    const listed = listPart.split("\n").map((l) => normaliseLocale(l.trim()));
    const charmap = charmapPart.trim();
    const evidence = {
      ran: [r.invocation],
      expected: `LC_ALL=${want} accepted with charmap UTF-8${flavorHas(ctx.target.flavor, "locale-list") ? `, and ${want} in locale -a` : ""}`,
    };
    const problems: string[] = [];
    if (charmap !== "UTF-8") problems.push(`charmap ${charmap || "(none)"} instead of UTF-8`);
    if (/Cannot set|cannot set/.test(r.stderr)) problems.push("setlocale failed (see output)");
    if (flavorHas(ctx.target.flavor, "locale-list") && !listed.includes(want))
      problems.push(`locale -a does not list ${want}`);
    const note =
      !flavorHas(ctx.target.flavor, "locale-list") && !listed.includes(want)
        ? " (locale -a lists the host's locales: a known limit of relocated Debian binaries)"
        : "";
    if (problems.length === 0) return pass({ ...evidence, found: `${want} works, charmap UTF-8${note}` });
    return fail({ ...evidence, found: problems.join("; "), output: outputTail(r) });
  },
};
