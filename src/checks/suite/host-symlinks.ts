/**
 * EESSI's SymlinksToHostFilesTest, fixed: each host link of the spec is a symlink whose text is
 * the link's plain target (during a build and with variant links off) or its variant expression
 * `$(VAR:-default)`, parsed as CVMFS parses it, or (read through a CVMFS client, which expands the
 * expression) the variant's default. The reference stripped the variant with a sed written for an
 * older format, so it could never pass on a finished 2026.06 layer (reference/compat-layer.md §7).
 */
import type { HostLink } from "../../spec/resolve.js";
import { parseVariant } from "../../spec/resolve.js";
import { type Check, capped, fail, pass, skip } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

/** The link texts that are right for a host link. */
export function acceptedTargets(link: HostLink): string[] {
  const out = [link.plain];
  if (link.variant) {
    out.push(link.variant);
    const v = parseVariant(link.variant);
    if (v) out.push(v.fallback);
  }
  return [...new Set(out)];
}

/**
 * Whether `text` is right for `link`. Without a spec (a bare prefix), the variant is not known in
 * advance: any well-formed variant whose default is the host path or its `…/compat/<path>` entry
 * in the repository's defaults tree is accepted.
 */
export function hostLinkMatches(link: HostLink, text: string, fromSpec: boolean): boolean {
  if (acceptedTargets(link).includes(text)) return true;
  if (fromSpec) return false;
  const v = parseVariant(text);
  return v !== undefined && (v.fallback === link.plain || v.fallback.endsWith(`/compat${link.plain}`));
}

export const hostSymlinks: Check = {
  id: "host-symlinks",
  title: "Host files are linked as the spec says",
  proves:
    "each host link (passwd, group, hosts, resolv.conf …) is a symlink to the host path or to its CVMFS variant `$(VAR:-default)`, so the layer's glibc sees the client's users and name service",
  versions: ALL_VERSIONS,
  eessi: "SymlinksToHostFilesTest",
  async run(ctx) {
    const links = ctx.target.hostLinks;
    const fromSpec = ctx.target.layer !== undefined;
    const bad: string[] = [];
    const files: string[] = [];
    const good: string[] = [];
    for (const link of links) {
      const path = ctx.fs.abs(link.path);
      // The link's own directory may be a link (lib64 -> usr/lib64): resolve all but the last component.
      const r = ctx.fs.resolve(path, false);
      const st = r.ok ? r.stat : undefined;
      let why: string | undefined;
      if (!st) why = "missing";
      else if (!st.isSymbolicLink()) why = `is a ${st.isDirectory() ? "directory" : "file"}, not a symlink`;
      else {
        const text = ctx.fs.readlink(r.ok ? r.path : path);
        if (hostLinkMatches(link, text, fromSpec)) good.push(`${link.path} -> ${text}`);
        else why = `-> ${text}`;
      }
      if (why) {
        bad.push(`${link.path} ${why}; expected -> ${acceptedTargets(link).join(" or ")}`);
        files.push(path);
      }
    }
    const evidence = {
      read: links.map((l) => ctx.fs.abs(l.path)),
      expected: `${links.length} host links${fromSpec ? " as the spec resolves them (plain or variant)" : `, ${ctx.target.hostLinksFrom ?? "EESSI's"} (plain or variant)`}`,
    };
    if (links.length === 0) return skip("the spec asks for no host links");
    if (bad.length === 0) return pass({ ...evidence, found: `all ${links.length} right`, details: good });
    return fail({
      ...evidence,
      found: `${bad.length} of ${links.length} wrong`,
      files,
      details: capped(bad),
    });
  },
};
