/**
 * The site config, `compat.yaml`: what one site runs compat over. Each top-level key is one
 * section with its own schema below; adding a section (advisories, schedule, notifications,
 * executors, impact, server …) is adding one schema here, one line in `siteConfigSchema`, and its
 * resolution in load.ts. docs/site-config.md is generated from the descriptions (`npm run docs:site`)
 * and a test keeps the two equal.
 */
import { posix } from "node:path";
import { z } from "zod";
import { closest } from "../config/near.js";
import { whenParsed } from "../config/yaml.js";
import { InputError } from "../errors.js";
import { parseCompatCommand, parseExecutor } from "../exec/executor.js";
import { ARCHES, notAnArchMessage } from "../layer/id.js";
import { absolutePathProblem } from "../paths/rules.js";
import { parseTarget } from "../publish/target.js";
import { storeUrlProblem } from "../store/location.js";
import { advisoriesSchema, watchSchema } from "../watch/config.js";
import { notificationsSchema } from "../watch/notify/config.js";
import { NAME_RE, NAME_RULE } from "./names.js";

const name = z.string().regex(NAME_RE, { message: `not a name (expected ${NAME_RULE})` });

const relativeOrAbsolutePath = z
  .string()
  .min(1)
  .refine((p) => !p.includes("\0"), { message: "a path cannot hold a NUL byte" });

export const stateSchema = relativeOrAbsolutePath.describe(
  "directory for artifacts, run records and candidates (created when missing); relative to this file",
);

export const storeSchema = z
  .string()
  .superRefine((url, ctx) => {
    const problem = storeUrlProblem(url);
    // not echoed: the URL may carry a password
    if (problem) ctx.addIssue({ code: "custom", message: problem, params: { echo: false } });
  })
  .describe(
    "the control plane's database: a SQLite file (`sqlite:PATH` or a path, relative to this file) or PostgreSQL (`postgres://USER@HOST[:PORT]/DB`; give the password in PGPASSWORD or ~/.pgpass, not here); default `sqlite:<state>/compat.db`",
  );

export const softwareTreeSchema = z
  .strictObject({
    path: relativeOrAbsolutePath.describe(
      "where the software tree's files are on the machine the gate runs on, relative to this file",
    ),
    at: z
      .string()
      .refine((v) => /^\/cvmfs\/[^/]/.test(posix.normalize(v)) && !/\p{Cc}/u.test(v), {
        message: "not a path under /cvmfs (absolute, no .. out of it, no control characters)",
      })
      .optional()
      .describe(
        "the path its programs see it at (their RPATHs name it), under /cvmfs; default: `path` itself",
      ),
  })
  .describe("a software tree built on the layer (e.g. EESSI's `versions/<v>/software/linux/<arch>`)");

export const impactSchema = z
  .strictObject({
    software: z
      .array(softwareTreeSchema)
      .min(1)
      .describe("the software trees whose ELF objects every candidate must still run"),
    tests: z
      .array(relativeOrAbsolutePath)
      .default([])
      .describe(
        "YAML files of the stack's own tests (name, command, exit, output, timeout), relative to this file",
      ),
    reframe: z
      .string()
      .min(1)
      .regex(/^[^\0]*$/, { message: "a command cannot hold a NUL byte" })
      .optional()
      .describe(
        "a ReFrame command line run on the published layer and on each candidate (compat adds --report-file)",
      ),
  })
  .describe("the impact gate of this layer: the software built on it and the tests that must keep passing");

export const siteLayerSchema = z
  .strictObject({
    spec: relativeOrAbsolutePath.describe("the layer spec file, relative to this file"),
    arches: z
      .array(z.enum(ARCHES, { error: (issue) => notAnArchMessage(String(issue.input)) }))
      .min(1)
      .optional()
      .describe("the arches compat updates and publishes; default: every arch of the spec"),
    impact: impactSchema.optional(),
  })
  .describe("a layer compat keeps up to date");

/** A `cvmfs:` host becomes an ssh destination: one that starts with `-` would be read as an option. */
const SSH_DESTINATION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@:-]*$/;

const publishTo = z
  .string()
  .superRefine((to, ctx) => {
    try {
      const target = parseTarget(to, "");
      if (target.kind === "cvmfs" && target.host !== undefined && !SSH_DESTINATION_RE.test(target.host))
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(target.host)} is not a host name (letters, digits, '.', '-', '_', user@host)`,
        });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      ctx.addIssue({ code: "custom", message: `${e.message}${e.hint ? ` (${e.hint})` : ""}` });
    }
  })
  .describe(
    "where it publishes: `local:DIR` (a directory standing for the repository root, relative to this file) or `cvmfs:REPO[@HOST]` (cvmfs_server here, or on HOST over ssh)",
  );

export const approvalPolicySchema = z
  .strictObject({
    approvals: z
      .int()
      .min(0)
      .max(16)
      .default(1)
      .describe("how many different approvers must approve a candidate before it is published here; 0: none"),
    requesterMayApprove: z
      .boolean()
      .default(false)
      .describe("whether the person who started an update may count as one of its approvers"),
    approvers: z
      .array(name)
      .min(1)
      .optional()
      .describe("who may approve, by their names under `approvers`; default: every approver"),
  })
  .describe("who must approve what is published to a target");

export const targetSchema = z
  .strictObject({
    to: publishTo,
    policy: approvalPolicySchema.default({ approvals: 1, requesterMayApprove: false }),
  })
  .describe("a named place layers are published to, e.g. `staging` or `production`");

export const approverSchema = z
  .strictObject({
    key: relativeOrAbsolutePath.describe(
      "the approver's ed25519 public key (PEM, made by `compat keygen`), relative to this file",
    ),
  })
  .describe("a person who may approve candidates, known by the key that signs their approvals");

/** An executor string, checked by the one parser the command line's `--on` uses too. */
const executorString = z
  .string()
  .superRefine((text, ctx) => {
    try {
      parseExecutor(text, "");
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      ctx.addIssue({ code: "custom", message: `${e.message}${e.hint ? ` (${e.hint})` : ""}` });
    }
  })
  .describe(
    "`local`, `ssh:[user@]host[:port]` (compat installed on that host) or `slurm[:partition=P,constraint=C,time=T]` (an sbatch job from this host)",
  );

export const executorSchema = z
  .union([
    executorString,
    z.strictObject({
      on: executorString,
      compat: z
        .string()
        .superRefine((text, ctx) => {
          try {
            parseCompatCommand(text, "");
          } catch (e) {
            if (!(e instanceof InputError)) throw e;
            ctx.addIssue({ code: "custom", message: e.message });
          }
        })
        .optional()
        .describe(
          "the compat command on the build host or node (default `compat`), e.g. `node /opt/compat/dist/cli/bin.js`; its version must equal this compat's",
        ),
      workDir: relativeOrAbsolutePath
        .optional()
        .describe(
          "ssh: the work directory on the build host (default `compat-work`, in the login's home); slurm: a directory every node shares with this host (default `<state>/slurm`), relative to this file",
        ),
      sshConfig: relativeOrAbsolutePath
        .optional()
        .describe("ssh: an ssh_config file (ssh -F), relative to this file; default: ssh's own"),
      config: z
        .string()
        .superRefine((v, ctx) => {
          // one message per problem; a control character (a newline) is no path an admin meant
          const p = /\p{Cc}/u.test(v)
            ? { message: "contains a control character (a newline, a tab)" }
            : absolutePathProblem(v);
          if (p)
            ctx.addIssue({
              code: "custom",
              message: `${p.message}: the site config's absolute path on the build host`,
            });
        })
        .optional()
        .describe(
          "`compat update` on this executor: the site config's path on the build host (ssh: needed; slurm: default this file, which the nodes share)",
        ),
    }),
  ])
  .describe(
    "where the builds of one arch run: an executor string, or {on, compat, workDir, sshConfig, config}",
  );

export const siteConfigSchema = z
  .strictObject({
    state: stateSchema.default("compat-state"),
    store: storeSchema.optional(),
    layers: z
      .record(name, siteLayerSchema)
      .default({})
      .describe("the layers compat keeps up to date, by name (the name used on the command line)"),
    targets: z
      .record(name, targetSchema)
      .default({})
      .describe("the targets layers are published to, by name"),
    approvers: z
      .record(name, approverSchema)
      .default({})
      .describe("the people who may approve candidates, by name"),
    executors: z
      .partialRecord(
        z.enum(ARCHES, { error: (issue) => notAnArchMessage(String(issue.input)) }),
        executorSchema,
      )
      .default({})
      .describe(
        "where each arch's builds run (`compat build --all-arches`, `--on` overrides it): arch → executor; an arch not listed has none, and --all-arches refuses it",
      ),
    advisories: advisoriesSchema.default({ maxAgeDays: 7, glsa: {}, debianSecurity: {}, gentooGit: {} }),
    watch: watchSchema.default({
      schedule: "0 6 * * *",
      timezone: "UTC",
      cvmfsRoot: "/cvmfs",
      notifyMinSeverity: "low",
      autoUpdate: { policy: "off", minSeverity: "high" },
    }),
    notifications: notificationsSchema.default({
      channels: {},
      retry: { attempts: 4, backoffMs: 1000, runs: 5 },
    }),
  })
  .superRefine(
    (config, ctx) => {
      const known = Object.keys(config.approvers);
      for (const [targetName, target] of Object.entries(config.targets)) {
        const policy = target.policy;
        const path = ["targets", targetName, "policy"];
        for (const [i, approver] of (policy.approvers ?? []).entries()) {
          if (known.includes(approver)) continue;
          const guess = closest(approver, known);
          ctx.addIssue({
            code: "custom",
            path: [...path, "approvers", i],
            message: `not one of the approvers${guess ? `, did you mean "${guess}"?` : ""}${known.length ? ` (expected one of ${known.join(", ")})` : " (no approvers are defined)"}`,
          });
        }
        const eligible = new Set(policy.approvers ?? known).size;
        if (policy.approvals > eligible)
          ctx.addIssue({
            code: "custom",
            path: [...path, "approvals"],
            message: `needs ${policy.approvals} approval${policy.approvals === 1 ? "" : "s"} but only ${eligible} approver${eligible === 1 ? " is" : "s are"} allowed to give one: add approvers (with their keys from compat keygen) or set approvals: 0`,
          });
      }
    },
    whenParsed(["approvers"], ["targets"]),
  )
  .describe("a site's compat configuration");

export type SiteConfigInput = z.input<typeof siteConfigSchema>;
export type SiteConfigFile = z.output<typeof siteConfigSchema>;
