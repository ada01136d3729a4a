/**
 * Who the Portage steps run as: as root, the build user of EESSI's build container (uid 1001,
 * "portage") in a user namespace; unprivileged, the caller. Stages of a build and of an update use it.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cleanEnvironment, type LayerRunOptions } from "../../exec/sandbox.js";
import { readFileInside } from "../../paths/inside.js";
import type { ResolvedLayer } from "../../spec/resolve.js";
import type { StageContext } from "../types.js";

const workFile = (ctx: StageContext, name: string) => join(ctx.workDir, name);

/** The build user of EESSI's build container. */
export const BUILD_UID = 1001;
const BUILD_USER = "portage";

/** PATH and variables of EESSI's playbook: the prefix's programs first, EPREFIX, LC_ALL=C. */
export function portageEnvironment(
  layer: ResolvedLayer,
  home: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const p = layer.prefix;
  return cleanEnvironment({
    PATH: `${p}/usr/sbin:${p}/usr/bin:${p}/sbin:${p}/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    EPREFIX: p,
    LC_ALL: "C",
    HOME: home,
    ...extra,
  });
}

/**
 * Sandbox options for the Portage steps: as root, uid/gid BUILD_UID with a passwd and group that
 * name it (the bootstrap asks `id -un`), made from the build root's (or the host's) own;
 * unprivileged, the caller's own uid.
 */
export async function asBuildUser(
  ctx: StageContext,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<LayerRunOptions> {
  const home = workFile(ctx, "home");
  await mkdir(home, { recursive: true });
  const base: LayerRunOptions = {
    env: portageEnvironment(ctx.layer, home, extraEnv),
    writable: [ctx.workDir],
  };
  if (process.getuid?.() !== 0) return base;
  const passwd = workFile(ctx, "passwd");
  const group = workFile(ctx, "group");
  // the users and groups of the `/` the build sees: the build root's (never through its links), or the host's
  const root = ctx.buildRoot?.dir;
  const system = async (file: string) =>
    root
      ? (await readFileInside({ base: root, what: "the build root" }, file)).content.toString("utf8")
      : readFile(`/${file}`, "utf8");
  const hostPasswd = await system("etc/passwd");
  const hostGroup = await system("etc/group");
  const without = (text: string) =>
    text.split("\n").filter((l) => l && l.split(":")[2] !== String(BUILD_UID));
  await writeFile(
    passwd,
    [...without(hostPasswd), `${BUILD_USER}:x:${BUILD_UID}:${BUILD_UID}:portage:${home}:/bin/bash`, ""].join(
      "\n",
    ),
  );
  await writeFile(group, [...without(hostGroup), `${BUILD_USER}:x:${BUILD_UID}:`, ""].join("\n"));
  return {
    ...base,
    uid: BUILD_UID,
    gid: BUILD_UID,
    binds: [
      { src: passwd, dest: "/etc/passwd", readOnly: true },
      { src: group, dest: "/etc/group", readOnly: true },
    ],
  };
}
