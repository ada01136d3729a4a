/**
 * Builders for audit tests: GLSA XML files and vdb entries written to a temporary directory,
 * and the vdb + GLSA directory described by glsa_scenarios_portage_derived.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readVectors } from "./shared-data.js";

export interface RangeSpec {
  range: string;
  version: string;
  slot?: string;
}

export interface GlsaSpec {
  id: string;
  title?: string;
  impact?: string;
  packages: { name: string; arch?: string; vulnerable: RangeSpec[]; unaffected: RangeSpec[] }[];
  cves?: string[];
}

const range = (tag: string, r: RangeSpec) =>
  `      <${tag} range="${r.range}"${r.slot ? ` slot="${r.slot}"` : ""}>${r.version}</${tag}>`;

export function glsaXml(g: GlsaSpec): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE glsa SYSTEM "http://www.gentoo.org/dtd/glsa.dtd">
<glsa id="${g.id}">
  <title>${g.title ?? `Advisory ${g.id}`}</title>
  <synopsis>Test advisory.</synopsis>
  <product type="ebuild">test</product>
  <announced>2026-01-01</announced>
  <revised count="1">2026-01-01</revised>
  <bug>1</bug>
  <access>remote</access>
  <affected>
${g.packages
  .map(
    (p) => `    <package name="${p.name}" auto="yes" arch="${p.arch ?? "*"}">
${[...p.unaffected.map((r) => range("unaffected", r)), ...p.vulnerable.map((r) => range("vulnerable", r))].join("\n")}
    </package>`,
  )
  .join("\n")}
  </affected>
  <background><p>Test.</p></background>
  <description><p>Test.</p></description>
  <impact type="${g.impact ?? "normal"}"><p>Test.</p></impact>
  <workaround><p>None.</p></workaround>
  <resolution><p>Upgrade.</p></resolution>
  <references>
${(g.cves ?? []).map((c) => `    <uri link="https://nvd.nist.gov/vuln/detail/${c}">${c}</uri>`).join("\n")}
  </references>
</glsa>
`;
}

export function writeGlsa(dir: string, g: GlsaSpec): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `glsa-${g.id}.xml`), glsaXml(g));
}

/** One vdb entry with the files Portage writes that an audit reads. */
export function writeVdbEntry(prefix: string, cpv: string, slot: string, repo = "gentoo"): void {
  const slash = cpv.indexOf("/");
  const dir = join(prefix, "var/db/pkg", cpv.slice(0, slash), cpv.slice(slash + 1));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "SLOT"), `${slot}\n`);
  writeFileSync(join(dir, "repository"), `${repo}\n`);
  writeFileSync(join(dir, "CATEGORY"), `${cpv.slice(0, slash)}\n`);
  writeFileSync(join(dir, "PF"), `${cpv.slice(slash + 1)}\n`);
}

interface Scenario {
  package: string;
  vulnerable: RangeSpec[];
  unaffected: RangeSpec[];
  expected_vulnerable_by_portage: Record<string, boolean>;
}

/**
 * A prefix holding every installed `version:slot` of glsa_scenarios_portage_derived.json and a
 * GLSA directory with one advisory per scenario (ids 209001-01 …). Returns Portage's verdicts
 * as the set of installed cpvs it reports.
 */
export function writeScenarioPrefix(root: string): {
  prefix: string;
  glsaDir: string;
  affected: Set<string>;
} {
  const prefix = join(root, "prefix");
  const glsaDir = join(root, "glsa");
  const affected = new Set<string>();
  readVectors<Scenario[]>("glsa_scenarios_portage_derived.json").forEach((s, i) => {
    writeGlsa(glsaDir, {
      id: `209001-${String(i + 1).padStart(2, "0")}`,
      packages: [{ name: s.package, vulnerable: s.vulnerable, unaffected: s.unaffected }],
    });
    for (const [key, vulnerable] of Object.entries(s.expected_vulnerable_by_portage)) {
      const [version, slot] = key.split(":") as [string, string];
      writeVdbEntry(prefix, `${s.package}-${version}`, slot);
      if (vulnerable) affected.add(`${s.package}-${version}`);
    }
  });
  return { prefix, glsaDir, affected };
}
