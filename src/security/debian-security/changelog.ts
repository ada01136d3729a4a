/**
 * A Debian changelog (`debian/changelog`, shipped as `usr/share/doc/<pkg>/changelog.Debian.gz`),
 * reduced to its entries: source, version, distributions, urgency and the CVE ids each entry's text
 * cites. Entries are in the file's order, newest first. Lines that are neither an entry header,
 * its text, nor its trailer are ignored, as dpkg-parsechangelog tolerates them; a text with no
 * entry header at all is not a changelog (`entries` is empty, `problem` says why).
 */
import { isValidVersion } from "../../debian/version.js";
import { citedCves } from "../advisory.js";

export interface ChangelogEntry {
  source: string;
  version: string;
  distributions: string[];
  urgency: string;
  cves: string[];
  /** The entry's first bullet line, for titles. */
  summary: string;
}

export interface Changelog {
  entries: ChangelogEntry[];
  problem?: string;
}

// `openssl (3.0.15-1~deb12u1) bookworm-security; urgency=medium`
const HEADER_RE = /^(\w[-+0-9a-z.]*) \(([^()\s]+)\)((?:\s+[-+0-9a-z.]+)+);(.*)$/i;

/** Bullet lines that say who uploaded, not what changed. */
const BOILERPLATE_RE = /^(?:non-maintainer upload|team upload|security upload|upload by|rebuild for)/i;

export function parseChangelog(text: string): Changelog {
  const entries: ChangelogEntry[] = [];
  let current: { entry: ChangelogEntry; body: string[] } | undefined;
  const close = () => {
    if (!current) return;
    current.entry.cves = citedCves(current.body.join("\n"));
    current.entry.summary =
      current.body
        .map((l) => l.trim().replace(/^[*+-]\s*/, ""))
        .find((l) => l !== "" && !/^\[.*\]$/.test(l) && !BOILERPLATE_RE.test(l)) ?? "";
    entries.push(current.entry);
    current = undefined;
  };
  let bad = 0;
  for (const line of text.split(/\r?\n/)) {
    const m = HEADER_RE.exec(line);
    if (m) {
      close();
      if (!isValidVersion(m[2]!)) {
        bad++;
        continue;
      }
      const urgency = /(?:^|[,\s])urgency=([^,\s]+)/i.exec(m[4]!)?.[1] ?? "medium";
      current = {
        entry: {
          source: m[1]!,
          version: m[2]!,
          distributions: m[3]!.trim().split(/\s+/),
          urgency: urgency.toLowerCase(),
          cves: [],
          summary: "",
        },
        body: [],
      };
      continue;
    }
    if (!current) continue;
    if (line.startsWith(" -- ")) {
      close();
      continue;
    }
    current.body.push(line);
  }
  close();
  if (entries.length === 0)
    return {
      entries,
      problem:
        bad > 0
          ? `${bad} entry header(s) with an invalid version`
          : "no entry header (`source (version) suite; urgency=…`)",
    };
  return { entries };
}
