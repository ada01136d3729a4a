import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import {
  generateLocales,
  installLocaleLister,
  normalizeCodeset,
  parseLocaleLine,
  REAL_LOCALE,
} from "./locales.js";

describe("locale.gen lines", () => {
  it.each([
    ["en_US.UTF-8 UTF-8", { input: "en_US", charmap: "UTF-8", name: "en_US.utf8" }],
    ["de_DE.UTF-8 UTF-8", { input: "de_DE", charmap: "UTF-8", name: "de_DE.utf8" }],
    ["en_US ISO-8859-1", { input: "en_US", charmap: "ISO-8859-1", name: "en_US" }],
    ["de_DE@euro ISO-8859-15", { input: "de_DE@euro", charmap: "ISO-8859-15", name: "de_DE@euro" }],
    ["ja_JP.EUC-JP EUC-JP", { input: "ja_JP", charmap: "EUC-JP", name: "ja_JP.eucjp" }],
    ["sr_RS.UTF-8@latin UTF-8", { input: "sr_RS@latin", charmap: "UTF-8", name: "sr_RS.utf8@latin" }],
  ])("%s", (line, expected) => {
    expect(parseLocaleLine(line)).toEqual({ line, ...expected });
  });

  it("normalises codesets as glibc does", () => {
    expect(normalizeCodeset("UTF-8")).toBe("utf8");
    expect(normalizeCodeset("ISO-8859-15")).toBe("iso885915");
    expect(normalizeCodeset("8859-1")).toBe("iso88591");
  });

  it("rejects what is not a locale.gen line", () => {
    expect(() => parseLocaleLine("en_US.UTF-8")).toThrow(InputError);
    expect(() => parseLocaleLine("en US UTF-8")).toThrow(/not a locale.gen line/);
  });
});

describe("generateLocales input checks (before anything runs)", () => {
  it("names a locale or charmap the layer does not have", async () => {
    const tree = mkdtempSync(join(tmpdir(), "locales-"));
    try {
      mkdirSync(join(tree, "usr/share/i18n/locales"), { recursive: true });
      mkdirSync(join(tree, "usr/share/i18n/charmaps"), { recursive: true });
      writeFileSync(join(tree, "usr/share/i18n/locales/en_US"), "");
      const never = () => Promise.reject(new Error("must not run"));
      await expect(
        generateLocales({ treeDir: tree, prefix: "/p", locales: ["xx_YY.UTF-8 UTF-8"], inLayer: never }),
      ).rejects.toThrow(/no locale source xx_YY \(line "xx_YY.UTF-8 UTF-8"\)/);
      await expect(
        generateLocales({ treeDir: tree, prefix: "/p", locales: ["en_US.UTF-8 UTF-8"], inLayer: never }),
      ).rejects.toThrow(/no charmap UTF-8/);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });
});

describe("the locale wrapper, run with this machine's bash", () => {
  let prefix: string;
  beforeAll(async () => {
    prefix = mkdtempSync(join(tmpdir(), "localewrap-"));
    mkdirSync(join(prefix, "bin"));
    mkdirSync(join(prefix, "usr/bin"), { recursive: true });
    symlinkSync("/bin/bash", join(prefix, "bin/bash"));
    symlinkSync("/usr/bin/sort", join(prefix, "usr/bin/sort"));
    writeFileSync(join(prefix, "usr/bin/locale"), '#!/bin/sh\necho real-locale "$@"\n', { mode: 0o755 });
    for (const l of ["en_US.utf8", "C.utf8", "de_DE.utf8"]) {
      mkdirSync(join(prefix, "usr/lib/locale", l), { recursive: true });
      writeFileSync(join(prefix, "usr/lib/locale", l, "LC_IDENTIFICATION"), "");
    }
    mkdirSync(join(prefix, "usr/lib/locale/half.compat-new"));
    mkdirSync(join(prefix, "usr/lib/locale/empty"));
    await installLocaleLister(prefix, prefix);
    await installLocaleLister(prefix, prefix); // idempotent
  });
  afterAll(() => rmSync(prefix, { recursive: true, force: true }));

  const locale = (args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(join(prefix, "usr/bin/locale"), args, {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", ...env },
    });

  it("lists LOCPATH's locales for -a", () => {
    const r = locale(["-a"], { LOCPATH: join(prefix, "usr/lib/locale") });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("C\nC.utf8\nPOSIX\nde_DE.utf8\nen_US.utf8\n");
    expect(locale(["--all-locales"], {}).stdout).toBe("C\nC.utf8\nPOSIX\nde_DE.utf8\nen_US.utf8\n");
  });

  it("runs the real binary otherwise", () => {
    expect(locale(["-a", "-v"], {}).stdout).toBe("real-locale -a -v\n");
    expect(locale([], {}).stdout).toBe("real-locale\n");
    expect(spawnSync("test", ["-x", join(prefix, REAL_LOCALE)]).status).toBe(0);
  });
});
