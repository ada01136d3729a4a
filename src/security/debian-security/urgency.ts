/**
 * Debian's urgencies on the findings' severity scale. Two vocabularies meet here: a changelog
 * entry's upload urgency (`low`, `medium`, `high`, `emergency`, `critical`: how soon the upload
 * should migrate) and the security tracker's per-CVE urgency (`unimportant`, `low`, `medium`,
 * `high`, `not yet assigned`, `end-of-life`, sometimes marked `**` when guessed):
 *
 *   unimportant, low            → low
 *   medium, not yet assigned    → normal
 *   end-of-life                 → normal   (no security support in that release)
 *   high                        → high
 *   emergency, critical         → critical
 *
 * Anything else is `normal`, and reported.
 */
import type { Severity } from "../advisory.js";

const MAP: Record<string, Severity> = {
  unimportant: "low",
  low: "low",
  medium: "normal",
  "not yet assigned": "normal",
  "end-of-life": "normal",
  high: "high",
  emergency: "critical",
  critical: "critical",
};

/** The severity of a Debian urgency; `known` is false for a word not in the table (then `normal`). */
export function urgencySeverity(urgency: string): { severity: Severity; known: boolean } {
  const word = urgency.replace(/\*+$/, "").trim().toLowerCase();
  const severity = MAP[word];
  return severity ? { severity, known: true } : { severity: "normal", known: false };
}
