/**
 * The host links EESSI's role makes (`symlinks_to_host` of vars/<version>.yml), for checking a
 * prefix that comes without a spec. 2023.06 and 2025.06 link six host files with plain links;
 * 2026.06 links 29 paths, each with a variant link `$(EESSI_202606_…:-/cvmfs/<repo>/defaults/…)`.
 * src/checks/eessi-host-links.test.ts compares these lists with EESSI's vars files.
 */
import type { HostLink } from "../spec/resolve.js";

/** vars/2023.06.yml and vars/2025.06.yml: plain links to these host files. */
const PLAIN_2023 = [
  "/etc/group",
  "/etc/passwd",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/localtime",
  "/lib64/libnss_centrifydc.so.2",
];

/** vars/2026.06.yml: host files, each linked through `$(EESSI_<tag>_COMPAT_…:-<defaults>/compat/<path>)`. */
const HOST_FILES_2026 = [
  "/etc/ethers",
  "/etc/fstab",
  "/etc/group",
  "/etc/gshadow",
  "/etc/hosts",
  "/etc/hosts.equiv",
  "/etc/localtime",
  "/etc/netgroup",
  "/etc/networks",
  "/etc/nsswitch.conf",
  "/etc/passwd",
  "/etc/protocols",
  "/etc/resolv.conf",
  "/etc/rpc",
  "/etc/services",
  "/etc/shadow",
  "/usr/sbin/sendmail",
  "/var/db/passwd.db",
  "/var/lib/sss",
  "/var/log/lastlog",
  "/var/log/wtmp",
  "/var/mail",
  "/var/run",
  "/var/spool/rwho",
  "/var/tmp",
  "/lib64/libnss_centrifydc.so.2",
];

/**
 * vars/2026.06.yml: glibc trusted dirs, linked to the repository's defaults tree, not to a host
 * file: `lib/amd -> $(EESSI_202606_AMD_OVERRIDE:-/cvmfs/<repo>/defaults/amd)`. Their plain form
 * is the defaults tree's own target (`/dev/null` in EESSI's filesystem layer).
 */
const TRUSTED_DIRS_2026: { path: string; variable: string; defaults: string }[] = [
  { path: "lib/amd", variable: "AMD_OVERRIDE", defaults: "amd" },
  { path: "lib/nvidia", variable: "NVIDIA_OVERRIDE", defaults: "nvidia" },
  { path: "lib/override", variable: "LIB_OVERRIDE", defaults: "override" },
];

/** The EESSI versions whose vars files this module carries. */
export const EESSI_HOST_LINK_VERSIONS = ["2023.06", "2025.06", "2026.06"] as const;

/** The version whose list a prefix of another (or no) version is checked against. */
export const FALLBACK_VERSION = "2025.06";

export interface EessiHostLinks {
  links: HostLink[];
  /** Where the list comes from, for the check's evidence. */
  from: string;
}

const plainLink = (hostPath: string): HostLink => ({
  path: hostPath.slice(1),
  plain: hostPath,
  final: hostPath,
});

/** `/cvmfs/<repo>/…` → `<repo>`, else undefined (a prefix checked away from CVMFS). */
function repositoryOf(prefix: string): string | undefined {
  return /^\/cvmfs\/([^/]+)\//.exec(prefix)?.[1];
}

/**
 * EESSI's host links for a layer of `version` at `prefix`. A version EESSI has no vars file for
 * (or none) gets the 2025.06 list, and `from` says so.
 */
export function eessiHostLinks(version: string | undefined, prefix: string): EessiHostLinks {
  if (version === "2023.06" || version === "2025.06")
    return {
      links: PLAIN_2023.map(plainLink),
      from: `EESSI's host links of ${version} (vars/${version}.yml)`,
    };
  if (version === "2026.06") {
    const repo = repositoryOf(prefix);
    const tag = version.replace(".", "");
    const trusted = TRUSTED_DIRS_2026.map(({ path, variable, defaults }): HostLink => {
      const variant = repo ? `$(EESSI_${tag}_${variable}:-/cvmfs/${repo}/defaults/${defaults})` : undefined;
      return {
        path,
        plain: "/dev/null",
        final: variant ?? "/dev/null",
        ...(variant ? { variant } : {}),
      };
    });
    return {
      links: [...trusted, ...HOST_FILES_2026.map(plainLink)],
      from: `EESSI's host links of ${version} (vars/${version}.yml)`,
    };
  }
  return {
    links: PLAIN_2023.map(plainLink),
    from: `EESSI's host links of ${FALLBACK_VERSION} (vars/${FALLBACK_VERSION}.yml; the layer's version ${version ?? "is not known"}${version ? " has no EESSI vars file" : ""})`,
  };
}
