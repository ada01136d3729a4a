/**
 * SOURCE_DATE_EPOCH of a build (https://reproducible-builds.org/specs/source-date-epoch/): the one
 * time a reproducible build may use instead of "now". Every file the build writes, every timestamp
 * a tool embeds (mmdebstrap, dpkg's maintainer scripts, py_compile, shadow's last-change day) and
 * the artifact's mtimes and name come from it.
 *
 *   resolveSourceDateEpoch({ env: process.env.SOURCE_DATE_EPOCH, spec: 1718000000, derive })
 *   // → { epoch, from: "environment" | "spec" | <what derive() names> }
 *
 * Order, as every reproducible-builds tool has it: the environment variable when set, then the
 * spec's field, then a value derived from the inputs (debian: the newest `Date` of the suites'
 * Release files; gentoo: the pinned gentoo.git commit's committer date).
 *
 * An epoch is an integer of seconds, not negative and not later than now: a build with an epoch in
 * the future would write files newer than it (their mtimes are clamped to it, so they would keep
 * the time they were made at, which differs from build to build).
 */
import { InputError } from "../errors.js";

export interface SourceDateEpoch {
  epoch: number;
  /** Where it came from, for the build record: "environment", "spec" or the derivation's name. */
  from: string;
}

/** Beyond 9999-12-31: not a time any tool prints, nor one a date can hold. */
export const LAST_EPOCH = 253_402_300_799;

/**
 * Parse an epoch given as text (the environment) or a number (the spec). `where` names it in the
 * error ("SOURCE_DATE_EPOCH", "debian.sourceDateEpoch"); `now` is seconds since the epoch.
 */
export function parseSourceDateEpoch(
  value: string | number,
  where: string,
  now: number = Math.floor(Date.now() / 1000),
): number {
  const text = String(value).trim();
  const hint =
    "a unix time in whole seconds, e.g. the newest changelog date of the inputs: date -d '2025-06-01 UTC' +%s";
  if (!/^\d{1,12}$/.test(text))
    throw new InputError(
      `${where}=${JSON.stringify(String(value)).slice(0, 80)}: not a unix time in whole seconds`,
      {
        hint,
      },
    );
  const epoch = Number(text);
  if (epoch > LAST_EPOCH) throw new InputError(`${where}=${text}: beyond the year 9999`, { hint });
  if (epoch > now)
    throw new InputError(
      `${where}=${text} (${new Date(epoch * 1000).toISOString()}) is in the future: later than this machine's clock (${new Date(now * 1000).toISOString()})`,
      {
        details: [
          "files the build writes would be newer than the build's time and keep the time they were made at, so two builds would differ",
        ],
        hint: `${hint}; or check this machine's clock`,
      },
    );
  return epoch;
}

export interface EpochSources {
  /** The environment variable SOURCE_DATE_EPOCH as found (undefined or "" when not set). */
  env?: string | undefined;
  /** The spec's field (already an integer by the schema), and its name for errors. */
  spec?: number | undefined;
  specField?: string;
  /** The value derived from the build's inputs, when neither is given. */
  derive: () => Promise<SourceDateEpoch>;
  now?: number;
}

export async function resolveSourceDateEpoch(s: EpochSources): Promise<SourceDateEpoch> {
  if (s.env !== undefined && s.env !== "")
    return { epoch: parseSourceDateEpoch(s.env, "SOURCE_DATE_EPOCH", s.now), from: "environment" };
  if (s.spec !== undefined)
    return { epoch: parseSourceDateEpoch(s.spec, s.specField ?? "sourceDateEpoch", s.now), from: "spec" };
  const d = await s.derive();
  return { epoch: parseSourceDateEpoch(d.epoch, `the epoch derived from ${d.from}`, s.now), from: d.from };
}

/**
 * The `Date:` of a Debian Release or InRelease file (RFC 2822, always UTC: "Sat, 10 May 2025
 * 08:46:58 UTC") as seconds, or undefined when it has none or an unreadable one.
 */
export function releaseFileDate(text: string): number | undefined {
  const m = /^Date:[ \t]*(.+?)[ \t]*$/m.exec(text);
  if (!m) return undefined;
  const t = Date.parse(m[1]!.replace(/\bUTC$/, "GMT"));
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}
