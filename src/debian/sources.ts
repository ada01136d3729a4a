/**
 * The apt sources a debian-flavor build uses, as deb822 text for mmdebstrap's stdin.
 *
 *   const host = await readHostAptSources();           // /etc/apt/sources.list{,.d/*}
 *   debianSources(settings, host)                       // → "Types: deb\nURIs: …\nSuites: bookworm bookworm-updates\n…"
 *
 * Rules:
 * - `debian.mirror` given: that mirror alone, for the suite (a pinned snapshot stays pinned).
 * - otherwise the host's Debian entries (signed by Debian's archive keyring or unsigned, not
 *   third-party repositories) for the spec's suite and its -updates and -security suites, as
 *   relocation.md §2 does by feeding debian.sources;
 * - when the host has none for that suite (e.g. a trixie layer on a bookworm host), the host's
 *   Debian archive and security URIs with the spec's suite; without any, deb.debian.org.
 * The spec's components replace the host's.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DebianSettings } from "../spec/schema.js";

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
  /** Where it was read, for messages. */
  origin: string;
}

const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const DEFAULT_ARCHIVE = "http://deb.debian.org/debian";
const DEFAULT_SECURITY = "http://deb.debian.org/debian-security";
/** Suites without -updates and -security. */
const ROLLING = new Set(["sid", "unstable", "experimental", "rc-buggy"]);

/** Parse deb822 `.sources` text: one AptSource per stanza of Types containing `deb` and Enabled != no. */
export function parseDeb822Sources(text: string, origin: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#") || line.trim() === "") continue;
      if (/^[ \t]/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    const words = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").includes("deb") || fields.get("enabled")?.toLowerCase() === "no") continue;
    const signedBy = fields.get("signed-by");
    out.push({
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
      ...(signedBy ? { signedBy } : {}),
      origin,
    });
  }
  return out.filter((s) => s.uris.length > 0 && s.suites.length > 0);
}

/** Parse one-line `sources.list` text (`deb [opts] URI suite comp…`). */
export function parseOneLineSources(text: string, origin: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(m[1] ?? "")?.[1];
    out.push({
      uris: [m[2]!],
      suites: [m[3]!],
      components: m[4]!.split(/\s+/).filter(Boolean),
      ...(signedBy ? { signedBy } : {}),
      origin,
    });
  }
  return out;
}

/** The host's apt sources (files named *.sources and *.list; others such as *.disabled are ignored). */
export async function readHostAptSources(root = "/"): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const list = join(root, "etc/apt/sources.list");
  if (existsSync(list)) out.push(...parseOneLineSources(await readFile(list, "utf8"), list));
  const dir = join(root, "etc/apt/sources.list.d");
  const names = existsSync(dir) ? (await readdir(dir)).sort() : [];
  for (const n of names) {
    const f = join(dir, n);
    if (n.endsWith(".sources")) out.push(...parseDeb822Sources(await readFile(f, "utf8"), f));
    else if (n.endsWith(".list")) out.push(...parseOneLineSources(await readFile(f, "utf8"), f));
  }
  return out;
}

/** A source signed by Debian's archive keyring (or not pinned to any keyring): not a third-party repository. */
function isDebianArchive(s: AptSource): boolean {
  return s.signedBy === undefined || /debian-archive-keyring|debian-archive-.*\.gpg/.test(s.signedBy);
}

const isSecuritySuite = (suite: string) => /-security$|\/updates$/.test(suite);

/** The suites of one Debian release that a layer should see: the suite, its -updates and -security. */
export function suiteFamily(suite: string): string[] {
  return ROLLING.has(suite) ? [suite] : [suite, `${suite}-updates`, `${suite}-security`];
}

/** deb822 sources text for mmdebstrap's stdin. Pure given the host's sources and Debian's keyring path. */
export function debianSources(
  settings: Pick<DebianSettings, "mirror" | "components"> & { suite: string },
  host: readonly AptSource[],
  keyring: string | undefined = existsSync(DEBIAN_KEYRING) ? DEBIAN_KEYRING : undefined,
): string {
  const components = settings.components;
  const stanzas: { uris: string[]; suites: string[]; signedBy?: string }[] = [];
  if (settings.mirror) {
    stanzas.push({ uris: [settings.mirror], suites: [settings.suite] });
  } else {
    const family = suiteFamily(settings.suite);
    const debian = host.filter(isDebianArchive);
    for (const s of debian) {
      const suites = s.suites.filter((x) => family.includes(x));
      if (suites.length)
        stanzas.push({ uris: s.uris, suites, ...(s.signedBy ? { signedBy: s.signedBy } : {}) });
    }
    if (!stanzas.some((s) => s.suites.includes(settings.suite))) {
      stanzas.length = 0;
      const archive = debian.find((s) => s.suites.some((x) => !isSecuritySuite(x)))?.uris ?? [
        DEFAULT_ARCHIVE,
      ];
      const security = debian.find((s) => s.suites.some(isSecuritySuite))?.uris ?? [DEFAULT_SECURITY];
      const sign = keyring ? { signedBy: keyring } : {};
      stanzas.push({ uris: archive, suites: family.filter((x) => !isSecuritySuite(x)), ...sign });
      if (family.some(isSecuritySuite))
        stanzas.push({ uris: security, suites: family.filter(isSecuritySuite), ...sign });
    }
  }
  return stanzas
    .map((s) =>
      [
        "Types: deb",
        `URIs: ${s.uris.join(" ")}`,
        `Suites: ${s.suites.join(" ")}`,
        `Components: ${components.join(" ")}`,
        ...(s.signedBy ? [`Signed-By: ${s.signedBy}`] : []),
      ].join("\n"),
    )
    .join("\n\n")
    .concat("\n");
}
