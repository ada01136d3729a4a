/**
 * EESSI's checks that run a command inside the layer through startprefix (reference/compat-layer.md
 * §7), adapted per flavor, plus the startprefix check itself.
 */
import { outputTail, type ShellResult } from "../shell.js";
import { type Check, type CheckContext, type CheckOutcome, fail, pass, skip } from "../types.js";

const bothFlavors = ["gentoo", "debian"] as const;

/** Skip reason shared by every check that needs to run commands in the layer. */
const needsShell = (ctx: CheckContext) => ctx.shell.unavailable();

/** The verdict for "the command exits 0" (and optionally more), with the evidence of the run. */
function exitsZero(
  r: ShellResult,
  expected: string,
  extra?: (r: ShellResult) => string | undefined,
): CheckOutcome {
  const evidence = { ran: [r.invocation], expected };
  if (r.exitStatus === undefined)
    return fail({
      ...evidence,
      found: `startprefix printed no "Leaving … Prefix with exit status N" line (its own status ${r.processStatus})`,
      output: outputTail(r),
    });
  if (r.exitStatus !== 0)
    return fail({ ...evidence, found: `exit status ${r.exitStatus}`, output: outputTail(r) });
  const problem = extra?.(r);
  if (problem) return fail({ ...evidence, found: problem, output: outputTail(r) });
  return pass({ ...evidence, found: "exit status 0", output: outputTail(r, 5) });
}

export const startprefix: Check = {
  id: "startprefix",
  title: "startprefix exists and runs",
  proves: "the layer's entry point starts a shell in the prefix and reports the status of the command it ran",
  flavors: bothFlavors,
  async run(ctx) {
    const path = `${ctx.target.prefix}/startprefix`;
    const why = await ctx.shell.unavailable();
    if (why?.includes("startprefix"))
      return fail({ read: [path], expected: `an executable ${path}`, found: why, files: [path] });
    if (why) return skip(why);
    const ok = await ctx.shell.run("true");
    const seven = await ctx.shell.run("exit 7");
    const evidence = {
      ran: [ok.invocation, seven.invocation],
      expected: '"Leaving Prefix with exit status 0" for `true` and "… status 7" for `exit 7`',
    };
    if (ok.exitStatus === 0 && seven.exitStatus === 7)
      return pass({ ...evidence, found: "statuses 0 and 7 reported" });
    return fail({
      ...evidence,
      found: `reported ${ok.exitStatus ?? "nothing"} and ${seven.exitStatus ?? "nothing"} (process statuses ${ok.processStatus}, ${seven.processStatus})`,
      files: [path],
      output: outputTail(seven),
    });
  },
};

export const echo: Check = {
  id: "echo",
  title: "A command runs in the prefix",
  proves: "`echo hello` through startprefix prints hello and exits 0",
  flavors: bothFlavors,
  eessi: "EchoTest",
  skipReason: needsShell,
  async run(ctx) {
    const r = await ctx.shell.run("echo hello");
    return exitsZero(r, 'exit status 0 and a line "hello"', (x) =>
      x.stdout.split("\n").includes("hello") ? undefined : "no line hello in the output",
    );
  },
};

/** Tools EESSI requires from a Gentoo layer (ToolsAvailableTest), by version. */
export function gentooTools(version: string | undefined): string[] {
  const tools = ["archspec", "emerge", "equery", "ld.bfd", "make", "patch"];
  if (version === "2023.06") tools.push("ld.gold");
  if (version !== "2021.03") tools.push("patchelf");
  return tools;
}

/** Tools of a Debian layer: the essential ones, plus those of the spec's packages. */
export function debianTools(packages: readonly string[] | undefined): string[] {
  const byPackage: Record<string, string> = {
    make: "make",
    patch: "patch",
    python3: "python3",
    "xz-utils": "xz",
    file: "file",
    patchelf: "patchelf",
  };
  const tools = ["bash", "tar", "perl"];
  for (const p of packages ?? []) if (byPackage[p]) tools.push(byPackage[p]);
  return [...new Set(tools)];
}

export function requiredTools(ctx: CheckContext): string[] {
  const t = ctx.target;
  if (t.settings.requiredTools) return t.settings.requiredTools;
  return t.flavor === "gentoo" ? gentooTools(t.version) : debianTools(t.layer?.spec.debian?.packages);
}

export const tools: Check = {
  id: "tools",
  title: "Required tools come from the prefix",
  proves: "each required tool found on the layer's PATH is the prefix's own, not the host's",
  flavors: bothFlavors,
  eessi: "ToolsAvailableTest",
  skipReason: needsShell,
  async run(ctx) {
    const list = requiredTools(ctx);
    const quoted = list.map((t) => `'${t.replaceAll("'", "")}'`).join(" ");
    const r = await ctx.shell.run(
      `for t in ${quoted}; do printf '%s\\t%s\\n' "$t" "$(command -v "$t")"; done`,
    );
    const found = new Map<string, string>();
    for (const line of r.stdout.split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) found.set(line.slice(0, tab), line.slice(tab + 1));
    }
    const bad: string[] = [];
    const files: string[] = [];
    const good: string[] = [];
    for (const tool of list) {
      const path = found.get(tool) ?? "";
      const real = path.startsWith("/") ? ctx.fs.resolve(path) : undefined;
      if (!path) bad.push(`${tool}: not found on the layer's PATH`);
      else if (!ctx.fs.inPrefix(path)) {
        bad.push(`${tool}: ${path} is the host's`);
        files.push(path);
      } else if (real?.ok && !ctx.fs.inPrefix(real.path)) {
        bad.push(`${tool}: ${path} leads to the host's ${real.path}`);
        files.push(path);
      } else good.push(`${tool}: ${path}`);
    }
    const evidence = { ran: [r.invocation], expected: `${list.join(", ")} under ${ctx.target.prefix}/` };
    if (bad.length === 0)
      return pass({ ...evidence, found: `all ${list.length} from the prefix`, details: good });
    return fail({
      ...evidence,
      found: `${bad.length} of ${list.length} missing or from the host`,
      files,
      details: bad,
    });
  },
};

/** Lmod's init script: Gentoo installs it under usr/share/Lmod, Debian under usr/share/lmod/lmod, 2020.x under usr/lmod/lmod. */
const LMOD_INIT = [
  "usr/share/Lmod/init/profile",
  "usr/share/lmod/lmod/init/profile",
  "usr/lmod/lmod/init/profile",
];
const SPIDER_HINT = 'Use "module spider" to find all possible modules and extensions.';

export const lmod: Check = {
  id: "lmod",
  title: "Lmod lists its modules",
  proves: "the prefix's Lmod initialises and `module avail` lists its core modules (lmod, settarg)",
  flavors: bothFlavors,
  eessi: "LmodTest",
  skipReason: needsShell,
  async run(ctx) {
    const init = LMOD_INIT.map((p) => ctx.fs.abs(p)).find((p) => ctx.fs.exists(p));
    if (!init)
      return fail({
        read: LMOD_INIT.map((p) => ctx.fs.abs(p)),
        expected: "Lmod's init/profile in the prefix",
        found: "no Lmod init script",
      });
    const r = await ctx.shell.run(`source ${init} && module avail`);
    return exitsZero(r, `exit status 0; modules lmod and settarg listed; "${SPIDER_HINT}"`, (x) => {
      const text = `${x.stdout}\n${x.stderr}`;
      const words = new Set(text.split(/\s+/));
      const missing = ["lmod", "settarg"].filter((m) => !words.has(m));
      if (missing.length > 0) return `module avail does not list ${missing.join(" and ")}`;
      if (!text.includes(SPIDER_HINT)) return "module avail did not print its spider hint";
      return undefined;
    });
  },
};

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
  flavors: bothFlavors,
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
      expected: `LC_ALL=${want} accepted with charmap UTF-8${ctx.target.flavor === "gentoo" ? `, and ${want} in locale -a` : ""}`,
    };
    const problems: string[] = [];
    if (charmap !== "UTF-8") problems.push(`charmap ${charmap || "(none)"} instead of UTF-8`);
    if (/Cannot set|cannot set/.test(r.stderr)) problems.push("setlocale failed (see output)");
    if (ctx.target.flavor === "gentoo" && !listed.includes(want))
      problems.push(`locale -a does not list ${want}`);
    const note =
      ctx.target.flavor === "debian" && !listed.includes(want)
        ? " (locale -a lists the host's locales: a known limit of relocated Debian binaries)"
        : "";
    if (problems.length === 0) return pass({ ...evidence, found: `${want} works, charmap UTF-8${note}` });
    return fail({ ...evidence, found: problems.join("; "), output: outputTail(r) });
  },
};

/** A check that a command from the layer exits 0 (EESSI's RunEmergeTest, RunEqueryTest, ArchspecTest). */
function commandCheck(opts: {
  id: string;
  title: string;
  command: string;
  tool: string;
  proves: string;
  eessi: string;
  flavors: readonly ("gentoo" | "debian")[];
  skipOn?: (ctx: CheckContext) => string | undefined;
}): Check {
  return {
    id: opts.id,
    title: opts.title,
    proves: opts.proves,
    flavors: opts.flavors,
    eessi: opts.eessi,
    async skipReason(ctx) {
      return opts.skipOn?.(ctx) ?? (await ctx.shell.unavailable());
    },
    async run(ctx) {
      const r = await ctx.shell.run(opts.command);
      return exitsZero(r, `\`${opts.command}\` exits 0`);
    },
  };
}

export const emerge = commandCheck({
  id: "emerge",
  title: "emerge runs",
  command: "emerge --version",
  tool: "emerge",
  proves: "Portage's emerge starts in the layer",
  eessi: "RunEmergeTest",
  flavors: ["gentoo"],
});

export const equery = commandCheck({
  id: "equery",
  title: "equery runs",
  command: "equery --version",
  tool: "equery",
  proves: "gentoolkit's equery starts in the layer",
  eessi: "RunEqueryTest",
  flavors: ["gentoo"],
});

export const archspec = commandCheck({
  id: "archspec",
  title: "archspec detects the CPU",
  command: "archspec cpu",
  tool: "archspec",
  proves: "archspec (used by the stack's init to pick a CPU target) runs and names this CPU",
  eessi: "ArchspecTest",
  flavors: ["gentoo", "debian"],
  skipOn: (ctx) => {
    if (ctx.target.arch === "ppc64le") return "EESSI does not run archspec on ppc64le";
    if (
      ctx.target.flavor === "debian" &&
      !["usr/bin/archspec", "bin/archspec"].some((p) => ctx.fs.exists(ctx.fs.abs(p)))
    )
      return "archspec is not installed in this debian layer";
    return undefined;
  },
});

export const pipCheck: Check = {
  id: "pip-check",
  title: "Python packages have their requirements",
  proves: "`pip check` finds no broken requirement among the layer's Python packages",
  flavors: bothFlavors,
  eessi: "PipCheckTest",
  skipReason: needsShell,
  async run(ctx) {
    const probe = await ctx.shell.run("command -v pip3; command -v pip; python3 -m pip --version");
    const lines = probe.stdout.split("\n").map((l) => l.trim());
    // Only the layer's own pip counts: the layer's PATH may end with the host's directories.
    const pip = lines.find((l) => l.startsWith("/") && ctx.fs.inPrefix(l));
    const moduleOk = lines.some((l) => l.startsWith("pip ") && l.includes(ctx.target.prefix));
    if (!pip && !moduleOk) {
      if (ctx.target.flavor === "debian") return skip("pip is not installed in this debian layer");
      return fail({
        ran: [probe.invocation],
        expected: `pip under ${ctx.target.prefix} (dev-python/pip is in every EESSI set)`,
        found: "no pip in the layer",
        output: outputTail(probe),
      });
    }
    const r = await ctx.shell.run(pip ? `${pip} check` : "python3 -m pip check");
    return exitsZero(r, '"No broken requirements found."', (x) =>
      x.stdout.split("\n").includes("No broken requirements found.")
        ? undefined
        : "pip check reported problems",
    );
  },
};
