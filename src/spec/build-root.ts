/**
 * The spec's `buildRoot:` section: the Debian tree a layer is built in (src/buildroot/). Each field
 * defaults to the flavor's (src/flavors/<id>/build-root.ts).
 */
import { z } from "zod";
import { suitePerArch, withoutCredentials } from "./fields.js";

/** A Debian binary package name (Debian Policy §5.6.1): lower case, digits, + - ., two or more characters. */
export const DEBIAN_PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * The build root's mirror as apt takes it in a deb822 URIs field: http or https, without blanks or
 * credentials. Not file://: a spec comes from a pull request, and a file:// mirror would make the
 * build host read (and name in errors) paths of the pull request's choosing; a build root made from
 * a local mirror takes it from the host's apt sources (buildRoot.mirror left out).
 */
const mirrorUrl = withoutCredentials(z.string())
  .regex(/^https?:\/\/[^\s]+$/, {
    message:
      "not a mirror URL (expected http:// or https:// and no blanks; for a local mirror leave buildRoot.mirror out and name it in the build host's apt sources)",
    abort: true,
  })
  .url();

export const buildRootSchema = z
  .strictObject({
    suite: suitePerArch
      .optional()
      .describe(
        "Debian suite of the build root, or one per arch (e.g. `{x86_64: bookworm, riscv64: trixie}`); default: the flavor's (bookworm, trixie for riscv64)",
      ),
    mirror: mirrorUrl
      .optional()
      .describe(
        "Debian mirror the build root is made from, http:// or https:// without credentials (a local mirror: leave it out and name it in the build host's apt sources); default: the host's apt sources",
      ),
    packages: z
      .array(
        z.string().max(100, { message: "longer than 100 characters" }).regex(DEBIAN_PACKAGE_NAME_RE, {
          message: "not a Debian package name (lower case letters, digits, +, - and ., e.g. g++)",
        }),
      )
      .max(1000, { message: "more than 1000 packages" })
      .superRefine((names, ctx) => {
        const seen = new Set<string>();
        names.forEach((n, i) => {
          if (seen.has(n)) ctx.addIssue({ code: "custom", path: [i], message: `${n} is listed twice` });
          seen.add(n);
        });
      })
      .optional()
      .describe(
        "packages installed on top of mmdebstrap's minbase variant (replace the flavor's list, e.g. gcc, g++, make for the gentoo bootstrap); default: the flavor's",
      ),
  })
  .optional()
  .describe(
    "the build root: a Debian tree compat makes with mmdebstrap, caches under its state dir by the sha256 of its package list, and builds in (`compat buildroot`); each field defaults to the flavor's",
  );

export type BuildRootSettings = NonNullable<z.infer<typeof buildRootSchema>>;
