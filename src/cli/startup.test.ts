/**
 * The CLI's start-up stays light: defining the commands (what `compat --version` and `--help`
 * pay for) loads only the command files and a few small modules; each command loads its core
 * with `await import()` when it runs. This follows the static (value) imports from main.ts.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_RUNS_DIR as PIPELINE_RUNS_DIR } from "../pipeline/build.js";
import { DEFAULT_ARCHES } from "../spec/ansible/import.js";
import { DEFAULT_RUNS_DIR } from "./build.js";
import { commands } from "./commands.js";
import { DEFAULT_IMPORT_ARCHES } from "./import-ansible.js";
import { buildProgram } from "./main.js";

const SRC = resolve(import.meta.dirname, "..");
const IMPORT_RE = /^(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s+"([^"]+)";/gms;

/** Value imports of a module: `import type` and `{ type A, type B }` only are left out. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    if (m[1]) continue;
    const names = /^\{([^}]*)\}$/.exec(m[2]!.trim());
    if (names?.[1]?.split(",").every((n) => n.trim() === "" || n.trim().startsWith("type "))) continue;
    out.push(m[3]!);
  }
  return out;
}

function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of valueImports(file)) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec).replace(/\.js$/, ".ts"));
      else if (!spec.startsWith("node:")) packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe("CLI start-up", () => {
  it("defining the commands loads no command's core", () => {
    const { files, packages } = staticGraph(join(SRC, "cli/main.ts"));
    const loaded = [...files].map((f) => relative(SRC, f)).sort();
    const light = loaded.filter(
      (f) =>
        /^cli\/[a-z-]+\.ts$/.test(f) ||
        // leaves without imports: the option choices (arches, severities) come from them
        [
          "errors.ts",
          "log.ts",
          "text.ts",
          "version.ts",
          "gentoo/keyword.ts",
          "security/advisory.ts",
        ].includes(f),
    );
    expect(loaded).toEqual(light);
    expect([...packages]).toEqual(["commander"]);
    // the rendering of check's report pulls the check registry: it is loaded by the action only
    expect(loaded).not.toContain("cli/check-render.ts");
  });

  it("every command is in --help, with its options", () => {
    const program = buildProgram();
    expect(program.commands).toHaveLength(commands.length);
    const help = program.helpInformation();
    for (const c of program.commands) {
      expect(help).toContain(c.name());
      const own = c.helpInformation();
      for (const o of c.options) expect(own).toContain(o.flags);
    }
  });

  it("option defaults spelled in the CLI are the cores' defaults", () => {
    expect(DEFAULT_RUNS_DIR).toBe(PIPELINE_RUNS_DIR);
    expect(DEFAULT_IMPORT_ARCHES).toBe(DEFAULT_ARCHES.join(","));
  });
});
