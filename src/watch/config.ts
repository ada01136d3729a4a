/**
 * The site config's `advisories:` and `watch:` sections: where each advisory source's data is,
 * how old data may be, when `compat watch` runs, and what it does about new findings.
 */
import { Cron } from "croner";
import { z } from "zod";
import { SEVERITIES } from "../security/advisory.js";

const path = z
  .string()
  .min(1)
  .refine((p) => !p.includes("\0"), { message: "a path cannot hold a NUL byte" });

const days = z.number().positive().max(3650);

export const advisoriesSchema = z
  .strictObject({
    maxAgeDays: days
      .default(7)
      .describe(
        "data older than this many days is reported as stale, in the report and in a notification, so that no findings never silently means no data",
      ),
    cacheDir: path
      .optional()
      .describe(
        "where parsed GLSAs, fetched Debian indexes and changelogs are kept; default `<state>/cache`",
      ),
    glsa: z
      .strictObject({
        dir: path
          .optional()
          .describe(
            "the GLSA files (a checkout of glsa.git); default: each layer's own var/db/repos/gentoo/metadata/glsa",
          ),
      })
      .default({})
      .describe("the glsa source (gentoo layers)"),
    debianSecurity: z
      .strictObject({
        index: path
          .optional()
          .describe(
            "use these index files and fetch nothing: an apt lists directory with the security suite's index (changelogs in its changelogs/)",
          ),
        tracker: path
          .optional()
          .describe(
            "Debian's security-tracker JSON saved to a file, for CVEs without a fix yet (reported as open, with their urgency)",
          ),
        mirror: z
          .url()
          .optional()
          .describe(
            "the security archive to fetch from when a layer's apt sources name none; default http://deb.debian.org/debian-security",
          ),
        maxAgeDays: days.optional().describe("overrides maxAgeDays for this source"),
      })
      .default({})
      .describe("the debian-security source (debian layers)"),
    gentooGit: z
      .strictObject({
        repository: path
          .optional()
          .describe(
            "a gentoo.git checkout on this host (kept up to date by its own cron job); without it the gentoo-git source has no data",
          ),
        securityBugs: path
          .optional()
          .describe(
            "a file of Gentoo bug numbers that are security bugs (e.g. an export of Bugzilla's Security product): their Bug: trailers count as security",
          ),
        maxAgeDays: days.optional().describe("overrides maxAgeDays for this source"),
      })
      .default({})
      .describe("the gentoo-git source (gentoo layers)"),
  })
  .describe("the advisory sources' data, for `compat watch` (and `compat audit --config`)");

/** What `compat watch` may do about new findings, before a person looks. */
export const AUTO_UPDATE_POLICIES = ["off", "propose", "build"] as const;

export const watchSchema = z
  .strictObject({
    schedule: z
      .string()
      .default("0 6 * * *")
      .superRefine((pattern, ctx) => {
        try {
          new Cron(pattern, { paused: true });
        } catch (e) {
          ctx.addIssue({ code: "custom", message: `not a cron schedule: ${(e as Error).message}` });
        }
      })
      .describe(
        "when `compat watch` (without --once) audits: cron syntax (minute hour day-of-month month day-of-week, croner's; e.g. `0 6 * * *` every day at 06:00)",
      ),
    timezone: z
      .string()
      .default("UTC")
      .refine(
        (tz) => {
          try {
            new Intl.DateTimeFormat("en", { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        },
        { message: "not an IANA time zone (e.g. UTC, Europe/Amsterdam)" },
      )
      .describe("the time zone the schedule is read in"),
    cvmfsRoot: path
      .default("/cvmfs")
      .describe(
        "where cvmfs targets' repositories are mounted on this host; a layer not there is audited from its published artifact in the store",
      ),
    notifyMinSeverity: z
      .enum(SEVERITIES)
      .default("low")
      .describe("new findings below this severity are recorded but not notified"),
    autoUpdate: z
      .strictObject({
        policy: z
          .enum(AUTO_UPDATE_POLICIES)
          .default("off")
          .describe(
            "what a watch does about new findings at or above minSeverity that have a fix: `off` nothing; `propose` records in the audit log and notifies which packages would be updated, with the fixing versions or atoms; `build` the same, then compat update builds a candidate for them (`--packages`) and runs its gates; a person still approves",
          ),
        minSeverity: z.enum(SEVERITIES).default("high").describe("the lowest severity that counts"),
      })
      .default({ policy: "off", minSeverity: "high" })
      .describe("automatic follow-up of new findings"),
  })
  .describe("`compat watch`: scheduled audits of every published layer with every source of its flavor");
