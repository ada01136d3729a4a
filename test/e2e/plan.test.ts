import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compat, projectRoot } from "../helpers/cli.js";

const invalidSpec = join(projectRoot, "src/spec/testdata/invalid.yaml");

describe("compat plan", () => {
  it("plans examples/dev.yaml for x86_64", () => {
    const r = compat(["plan", "examples/dev.yaml", "--arch", "x86_64"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      "prefix      /cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64",
    );
    expect(r.stdout).toMatch(/etc\/locale\.gen\s+18\s+add lines\s+locales/);
  });

  it("prints the same JSON twice, with prefix, packages, stages and files", () => {
    const a = compat(["plan", "examples/dev.yaml", "--arch", "aarch64", "--json"]);
    const b = compat(["plan", "examples/dev.yaml", "--arch", "aarch64", "--json"]);
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const plan = JSON.parse(a.stdout);
    expect(plan.prefix).toBe("/cvmfs/software.example.org/versions/2025.06/compat/linux/aarch64");
    expect(plan.stages[0].id).toBe("preflight");
    expect(plan.packages).toContain("bash");
    expect(plan.files["etc/locale.gen"].content).toBe("en_US.UTF-8 UTF-8\n");
  });

  it("says where each package set of a gentoo spec comes from", () => {
    const r = compat(["plan", "examples/eessi-2025.06.yaml", "--arch", "aarch64"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      "  @eessi-2025.06-linux-aarch64  (the set file etc/portage/sets/eessi-2025.06-linux-aarch64, else linked there by the overlays stage from var/db/repos/eessi/etc/portage/sets/eessi-2025.06-linux-aarch64)",
    );
    const json = JSON.parse(
      compat(["plan", "examples/eessi-2025.06.yaml", "--arch", "aarch64", "--json"]).stdout,
    );
    expect(json.setSources[0].lookIn).toEqual([
      "etc/portage/sets/eessi-2025.06-linux-aarch64",
      "var/db/repos/eessi/etc/portage/sets/eessi-2025.06-linux-aarch64",
    ]);
  });

  it("lists the overlay configuration the overlays stage links (EESSI 2025.06: package.accept_keywords)", () => {
    const r = compat(["plan", "examples/eessi-2025.06.yaml", "--arch", "x86_64"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Overlay configuration linked into the prefix (1)");
    expect(r.stdout).toMatch(
      /etc\/portage\/package\.accept_keywords +var\/db\/repos\/eessi\/etc\/portage\/package\.accept_keywords +eessi/,
    );
    const json = JSON.parse(
      compat(["plan", "examples/eessi-2025.06.yaml", "--arch", "x86_64", "--json"]).stdout,
    );
    expect(json.portageLinks).toEqual([
      {
        overlay: "eessi",
        path: "etc/portage/package.accept_keywords",
        target: "var/db/repos/eessi/etc/portage/package.accept_keywords",
      },
    ]);
    expect(
      JSON.parse(compat(["plan", "examples/dev.yaml", "--arch", "x86_64", "--json"]).stdout).portageLinks,
    ).toEqual([]);
  });

  it("hints the arch meant by --arch arm64", () => {
    const r = compat(["plan", "examples/dev.yaml", "--arch", "arm64"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("hint: did you mean --arch aarch64?");
  });

  it("refuses an arch the spec does not list", () => {
    const r = compat(["plan", "examples/dev.yaml", "--arch", "ppc64le"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("not one of the spec's arches (x86_64, aarch64, riscv64)");
  });

  it("lists every problem of a bad spec with its line, exits 2 and leaves -o untouched", () => {
    const dir = mkdtempSync(join(tmpdir(), "compat-plan-"));
    const out = join(dir, "plan.json");
    writeFileSync(out, "previous plan\n");
    const r = compat(["plan", invalidSpec, "--arch", "x86_64", "--json", "-o", out]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/invalid layer spec \(3 problems\)/);
    expect(r.stderr).toMatch(
      /invalid\.yaml:5:10 arches\[0\]: "x86-64": not an architecture, did you mean "x86_64"\?/,
    );
    expect(r.stderr).toMatch(/invalid\.yaml:10:3 gentoo\.pakages: unknown key, did you mean "packages"\?/);
    expect(r.stderr).toMatch(/invalid\.yaml:12:13 gentoo\.packages\[0\]\.name: "bash": not a package name/);
    expect(readFileSync(out, "utf8")).toBe("previous plan\n");
  });

  it("writes the plan to -o", () => {
    const dir = mkdtempSync(join(tmpdir(), "compat-plan-"));
    const out = join(dir, "plan.json");
    const r = compat(["plan", "examples/dev.yaml", "--arch", "x86_64", "--json", "-o", out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    expect(JSON.parse(readFileSync(out, "utf8")).arch).toBe("x86_64");
    const missing = join(dir, "no-such-dir", "plan.json");
    const bad = compat(["plan", "examples/dev.yaml", "--arch", "x86_64", "-o", missing]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(
      `cannot write ${missing}: the directory ${join(dir, "no-such-dir")} does not exist`,
    );
  });
});
