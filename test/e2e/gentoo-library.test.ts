import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

describe("compat-layer/gentoo as a library", () => {
  it("is importable by its package name and answers as Portage does", () => {
    const script = `
      import { vercmp, catpkgsplit, parseAtom, matchFromList, parseGlsa, glsaAtoms } from "compat-layer/gentoo";
      import { readFileSync } from "node:fs";
      const glsa = parseGlsa(readFileSync("../shared/data/glsa/glsa-202506-05.xml", "utf8"), "202506-05");
      console.log(JSON.stringify({
        vercmp: vercmp("1.0", "1.00-r0"),
        split: catpkgsplit("games-rpg/eschalon-book-1-demo-106-r1"),
        atom: parseAtom(">=dev-libs/openssl-3.0.13:0/3::gentoo").slot,
        match: matchFromList("=sys-fs/udev-1*", ["sys-fs/udev-1.2", "sys-fs/udev-10"]),
        atoms: glsaAtoms(glsa)[0].vulnerable,
      }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: projectRoot,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      vercmp: 0,
      split: ["games-rpg", "eschalon-book-1-demo", "106", "r1"],
      atom: "0",
      match: ["sys-fs/udev-1.2"],
      atoms: ["<x11-libs/gtk+-3.24.48:3"],
    });
  });
});
