// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the test data is shell and Jinja text
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import { planOf } from "../../flavors/index.js";
import { ARCHES } from "../../layer/id.js";
import { parseSpec } from "../load.js";
import { resolveLayer } from "../resolve.js";
import { importAnsible, type TextFile } from "./import.js";

const eessi = join(import.meta.dirname, "../../../../shared/data/eessi");
const read = (path: string, file = path.split("/").pop()!): TextFile => ({
  text: readFileSync(join(eessi, path), "utf8"),
  file,
});
const defaults = read("compatibility-layer/defaults_main.yml");
const varsOf = (version: string) => read(`compatibility-layer/vars_${version}.yml`);
const filesystemLayer = read("filesystem-layer/create_cvmfs_content_structure_vars_software.eessi.io.yml");

describe("import-ansible", () => {
  for (const version of ["2023.06", "2025.06", "2026.06"]) {
    it(`imports ${version}: the spec validates, reads back the same and plans on every EESSI arch`, () => {
      const result = importAnsible({ defaults, vars: varsOf(version), filesystemLayer });
      const loaded = parseSpec(result.yaml, `eessi-${version}.yaml`);
      expect(loaded.spec).toEqual(result.spec);
      expect(loaded.spec.version).toBe(version);
      expect(loaded.spec.arches).toEqual(["x86_64", "aarch64", "riscv64"]);
      for (const arch of loaded.spec.arches) {
        const plan = planOf(resolveLayer(loaded.spec, arch));
        expect(plan.prefix).toBe(`/cvmfs/software.eessi.io/versions/${version}/compat/linux/${arch}`);
        for (const path of Object.keys(plan.files)) expect(path).not.toMatch(/\{\{|\}\}|\{%|%\}|\{#/);
        for (const file of Object.values(plan.files)) expect(file.content).not.toContain("{% raw %}");
      }
    });
  }

  it("warns, with file and line, that 2023.06 and 2025.06 do not pin the eessi overlay", () => {
    for (const version of ["2023.06", "2025.06"]) {
      const { warnings, yaml } = importAnsible({ defaults, vars: varsOf(version) });
      expect(warnings).toContainEqual(
        `vars_${version}.yml:6:7 overlay eessi has no pinned commit: the build takes the head of its default branch and is not reproducible (add commit: to the overlay)`,
      );
      expect(yaml).toContain("# not pinned: add `commit:` for a reproducible build");
    }
    expect(importAnsible({ defaults, vars: varsOf("2026.06") }).warnings.join("\n")).not.toContain(
      "no pinned commit",
    );
  });

  it("links the eessi overlay's package.accept_keywords for 2023.06 and 2025.06, as the role of that time did, and nothing for 2026.06", () => {
    for (const version of ["2023.06", "2025.06"]) {
      const { spec } = importAnsible({ defaults, vars: varsOf(version) });
      // env/, package.env and profile/ come from the vars file and the defaults; the sets one by one
      expect(spec.gentoo?.overlays.map((o) => [o.name, o.portageConfig])).toEqual([
        ["eessi", ["package.accept_keywords"]],
      ]);
      expect(planOf(resolveLayer(spec, "x86_64")).portageLinks).toEqual([
        {
          overlay: "eessi",
          path: "etc/portage/package.accept_keywords",
          target: "var/db/repos/eessi/etc/portage/package.accept_keywords",
        },
      ]);
    }
    const { spec } = importAnsible({ defaults, vars: varsOf("2026.06") });
    expect(spec.gentoo?.overlays.every((o) => o.portageConfig.length === 0)).toBe(true);
  });

  it("lists the role variables it does not import", () => {
    const { warnings } = importAnsible({ defaults, vars: varsOf("2026.06") });
    expect(warnings).toContainEqual(
      expect.stringMatching(/^not imported, compat does these its own way: .*reframe_version/),
    );
  });

  it("keeps {% raw %} content literal, markers removed, newlines as Ansible's Jinja leaves them", () => {
    const { spec } = importAnsible({ defaults, vars: varsOf("2025.06") });
    const hook = spec.gentoo!.packageEnvFiles["env/sys-libs/glibc"]!;
    expect(hook.startsWith("\nif [[ ${CATEGORY}/${PN} == sys-libs/glibc")).toBe(true);
    expect(hook).toContain("sysdeps/{{generic,unix/sysv/linux}/paths.h,posix/system.c}");
    expect(hook.endsWith("    done\nfi\n")).toBe(true);
  });

  it("gives lib/{amd,nvidia,override} a plain target: from the filesystem layer, else /dev/null", () => {
    const withTree = importAnsible({ defaults, vars: varsOf("2026.06"), filesystemLayer });
    expect(withTree.spec.variantSymlinks.hostDefaults).toEqual({
      amd: "/dev/null",
      nvidia: "/dev/null",
      override: "/dev/null",
    });
    expect(withTree.warnings).toContainEqual(
      expect.stringMatching(
        /^vars_2026\.06\.yml:117:7 defaults\/amd is not in create_cvmfs_content_structure_vars_software\.eessi\.io\.yml .*EESSI_202606_AMD_OVERRIDE/,
      ),
    );
    const alone = importAnsible({ defaults, vars: varsOf("2026.06") });
    expect(alone.spec.variantSymlinks.hostDefaults).toEqual(withTree.spec.variantSymlinks.hostDefaults);
  });

  it("takes a site's plain target from the filesystem layer", () => {
    const tree = {
      ...filesystemLayer,
      text: filesystemLayer.text.replace(
        "defaults/nvidia: '$(EESSI_NVIDIA_OVERRIDE_DEFAULT:-/dev/null)'",
        "defaults/nvidia: '$(EESSI_NVIDIA_OVERRIDE_DEFAULT:-/opt/site/nvidia)'",
      ),
    };
    const { spec } = importAnsible({ defaults, vars: varsOf("2026.06"), filesystemLayer: tree });
    expect(spec.variantSymlinks.hostDefaults.nvidia).toBe("/opt/site/nvidia");
  });

  it("fixes the role's defects: variant→plain for lib/amd and the accept_keywords file name", () => {
    const vars = varsOf("2026.06");
    const edited = {
      ...vars,
      text: `${vars.text}\ncreate_variant_symlinks: false\nprefix_accept_keywords: |\n    sys-cluster/lmod ~amd64\n`,
    };
    const { spec } = importAnsible({ defaults, vars: edited });
    const plan = planOf(resolveLayer(spec, "x86_64"));
    const amd = plan.hostSymlinks.find((l) => l.path === "lib/amd")!;
    expect(amd).toMatchObject({ plain: "/dev/null", final: "/dev/null" });
    expect(plan.hostSymlinks.find((l) => l.path === "etc/passwd")).toMatchObject({
      plain: "/etc/passwd",
      final: "/etc/passwd",
    });
    expect(plan.files["etc/portage/package.accept_keywords"]?.content).toBe("sys-cluster/lmod ~amd64\n");
    expect(Object.keys(plan.files).filter((p) => p.includes("accept_keywords"))).toEqual([
      "etc/portage/package.accept_keywords",
    ]);
  });

  it("writes the role's standard variant links as plain host paths and keeps the others explicit", () => {
    const { spec } = importAnsible({ defaults, vars: varsOf("2026.06") });
    expect(spec.hostSymlinks).toContain("/etc/passwd");
    expect(spec.hostSymlinks).toContainEqual({
      dest: "{prefix}/usr/sbin/sendmail",
      src: "$(EESSI_{versionTag}_COMPAT_SENDMAIL:-/cvmfs/{repository}/defaults/compat/usr/sbin/sendmail)",
    });
    expect(spec.gentoo!.trustedDirs).toEqual([
      "{prefix}/lib/override",
      "{prefix}/lib/nvidia",
      "{prefix}/lib/amd",
    ]);
  });

  it("takes the arches and the stack from the caller", () => {
    const { spec } = importAnsible({
      defaults,
      vars: varsOf("2026.06"),
      arches: ["ppc64le"],
      stack: "nessi",
    });
    expect(spec.arches).toEqual(["ppc64le"]);
    expect(spec.stack).toBe("nessi");
    expect(ARCHES).toContain("ppc64le");
  });

  it("refuses what it does not understand, each problem at its file:line:col", () => {
    const broken = {
      text: readFileSync(join(import.meta.dirname, "testdata/broken-vars.yml"), "utf8"),
      file: "broken-vars.yml",
    };
    let error: unknown;
    try {
      importAnsible({ defaults, vars: broken });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).exitCode).toBe(2);
    expect((error as InputError).details).toEqual([
      expect.stringMatching(/^broken-vars\.yml:8:33 package_sets\[0\]: unsupported filter "ternary"/),
      expect.stringMatching(
        /^broken-vars\.yml:12:21 prefix_mask_packages: file contents are written as they are, so they cannot use \{arch\}/,
      ),
    ]);
  });

  it("reports schema problems at the variable they come from", () => {
    const vars = varsOf("2026.06");
    const edited = { ...vars, text: vars.text.replace("- name: app-arch/7zip", "- name: 7zip") };
    expect(() => importAnsible({ defaults, vars: edited })).toThrow(InputError);
    try {
      importAnsible({ defaults, vars: edited });
    } catch (e) {
      expect((e as InputError).details).toEqual([
        expect.stringMatching(/^vars_2026\.06\.yml:49:13 gentoo\.packages\[0\]\.name: not a package name/),
      ]);
    }
  });

  it("tells the defaults from a vars file by their variables: swapped files give the right spec", () => {
    for (const version of ["2023.06", "2025.06", "2026.06"]) {
      const right = importAnsible({ defaults, vars: varsOf(version), filesystemLayer });
      const swapped = importAnsible({ defaults: varsOf(version), vars: defaults, filesystemLayer });
      expect(swapped.yaml).toBe(right.yaml);
      expect(swapped.spec.version).toBe(version);
      expect(swapped.warnings).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `defaults_main\\.yml is the role's defaults/main\\.yml \\(it sets gentoo_prefix_path, .*\\) and vars_${version.replace(".", "\\.")}\\.yml a vars/<version>\\.yml: given the other way round`,
          ),
        ),
      );
    }
  });

  it("refuses two files of the same kind: the defaults twice, or two vars files", () => {
    const problem = (d: typeof defaults, v: typeof defaults) => {
      try {
        importAnsible({ defaults: d, vars: v });
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).hint).toMatch(/defaults\/main\.yml, then one of its vars\/<version>\.yml/);
        return (e as InputError).details.join("\n");
      }
      throw new Error("imported");
    };
    expect(problem(defaults, defaults)).toMatch(
      /^defaults_main\.yml:\d+:\d+ this is the role's defaults\/main\.yml too \(it sets gentoo_prefix_path, /,
    );
    expect(problem(varsOf("2023.06"), varsOf("2025.06"))).toMatch(
      /^vars_2023\.06\.yml:\d+:\d+ this is not the role's defaults\/main\.yml: it sets none of the variables the defaults set/,
    );
  });

  it("says which files it expects when it is given something that is not the role's variables", () => {
    const notVars = { file: "list.yml", text: "# not variables\n- one\n- two\n" };
    const err = (() => {
      try {
        importAnsible({ defaults, vars: notVars });
      } catch (e) {
        return e as InputError;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err?.details).toEqual(["list.yml:2:1 expected a mapping of Ansible variables"]);
    expect(err?.hint).toMatch(/defaults\/main\.yml, then one of its vars\/<version>\.yml/);
  });
});
