/**
 * Field types the layer spec's schema and the flavors' spec sections (src/flavors/<id>/spec-section.ts)
 * share: strings that become paths, sizes, file contents, SOURCE_DATE_EPOCH. This module sits below
 * both, so the sections can use it while spec/schema.ts assembles them.
 */
import { z } from "zod";
import { type Arch, isArch, notAnArchMessage } from "../layer/id.js";
import { absolutePathProblem, type PathProblem } from "../paths/rules.js";

/**
 * A string that becomes a path (or part of one): refused when `check` finds a problem, saying what
 * would be right. The checks are src/paths/rules.ts's, the ones the code that writes runs again.
 */
export function pathString(
  check: (v: string) => PathProblem | undefined,
  expected: string,
  pattern?: { re: RegExp; message: string },
) {
  // a value that does not match the pattern gets that one message (and editors get the pattern)
  const base = pattern ? z.string().regex(pattern.re, { message: pattern.message, abort: true }) : z.string();
  return base.superRefine((v, ctx) => {
    const p = check(v);
    if (p) ctx.addIssue({ code: "custom", message: `${p.message} (expected ${expected})` });
  });
}

/** A host path, e.g. a link target's fallback: absolute, no `..`, not `/` itself. */
export const ABSOLUTE = { re: /^\//, message: "must be an absolute path" };
export const absolutePath = pathString(
  (v) => absolutePathProblem(v),
  "an absolute path such as /etc/hosts",
  ABSOLUTE,
);

/** Placeholders, a `{prefix}` included, expand to values without `..` (checked again after expanding). */
export const templatedPath = pathString(
  (v) => absolutePathProblem(v.replace(/^\{[A-Za-z]+\}/, "/x")),
  "an absolute path, or one that starts with a placeholder such as {prefix}",
  {
    re: /^(\/|\{[A-Za-z]+\})/,
    message: "must be an absolute path or start with a placeholder such as {prefix}",
  },
);

export const fileContents = z
  .string()
  .describe("file content, written as given (a trailing newline is added when missing)");

/** A size as Ansible's human_to_bytes reads it (K, M, G, T are powers of 1024): `15 GB`, `512M`. */
export const sizeSchema = z
  .string()
  .regex(/^\d+(\.\d+)?\s*([KMGT]i?B?|B)?$/i, { message: "not a size (expected e.g. 15 GB)" });

/** SOURCE_DATE_EPOCH of the build (src/layer/source-date-epoch.ts); the environment variable wins. */
export const sourceDateEpochSchema = z
  .number()
  .int({ message: "not a unix time in whole seconds" })
  .min(0, { message: "a unix time is not negative" })
  .max(253_402_300_799, { message: "beyond the year 9999" })
  .optional()
  .describe(
    "SOURCE_DATE_EPOCH of the build (unix seconds, not later than the build): the time every file and record of the layer gets; default: derived from the inputs, the environment variable SOURCE_DATE_EPOCH wins",
  );

export const debianSuiteName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, { message: "not a suite name (e.g. bookworm)" });

/** A Debian suite, or one per arch (`{x86_64: bookworm, riscv64: trixie}`): `debian.suite`, `buildRoot.suite`. */
export const suitePerArch = z.union([
  debianSuiteName,
  z.record(z.string(), debianSuiteName).superRefine((bySuite, ctx) => {
    for (const arch of Object.keys(bySuite))
      if (!isArch(arch))
        ctx.addIssue({
          code: "custom",
          path: [],
          message: `${JSON.stringify(arch)}: ${notAnArchMessage(arch)}`,
        });
  }),
]);

/** A suite named per arch names one for each of the spec's arches, and none for another. */
export function suiteCoverage(
  arches: readonly Arch[],
  suite: string | Record<string, string> | undefined,
  path: string[],
  ctx: z.RefinementCtx,
): void {
  if (suite === undefined || typeof suite === "string") return;
  for (const arch of arches)
    if (!Object.hasOwn(suite, arch))
      ctx.addIssue({
        code: "custom",
        path,
        message: `no suite for ${arch} (the spec's arches are ${arches.join(", ")}; add e.g. \`${arch}: bookworm\`)`,
      });
  for (const arch of Object.keys(suite))
    if (isArch(arch) && !arches.includes(arch))
      ctx.addIssue({
        code: "custom",
        path,
        message: `${arch} is not one of the spec's arches (${arches.join(", ")}): add it to \`arches\` or remove this line`,
      });
}

/**
 * A mirror URL carries no credentials: a spec is public (it comes from a pull request), and the URL
 * is printed in errors and logs and stored in build records and the build-root cache.
 */
export function withoutCredentials<T extends z.ZodString>(url: T) {
  return url.refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(u), {
    message:
      "has credentials in it (user:password@host): a spec is public and the URL is printed and stored; write the URL without them and give them to apt on the build host (/etc/apt/auth.conf.d/)",
    abort: true,
    params: { echo: false }, // the value is the password: never repeated in the problem
  });
}
