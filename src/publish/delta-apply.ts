/**
 * Applying a delta to a layer, the same way for both publishers (the local one in its staging
 * copy, the cvmfs one inside its transaction), in the order of `deletionPhases`: deletions no patch
 * reads from, extraction of the archive (by the publisher), patches, the remaining deletions and
 * the patch directory. The file work runs as one fixed POSIX sh script on the host that holds the
 * layer (locally or over ssh), in batches: it refuses a layer that is a symlink, any path reached
 * through a symlink, a patch target that is not a regular file, a base file whose sha256 is not the
 * one the delta was made against, and a patched file whose sha256 is not the manifest's (what the
 * published layer's own symlinks could do is refused before anything starts: layer-guard.ts); every tool's exit status is checked, and the first failure stops it with a
 * status the publisher turns into an error (and the cvmfs publisher into `abort -f`).
 */
import { deletionPhases, PATCH_DIR } from "../artifacts/delta.js";
import type { ArtifactManifest, DeltaPatch } from "../artifacts/manifest.js";
import { isCompatError, ToolError, ValidationError } from "../errors.js";
import type { CommandHost } from "../exec/host.js";

const SCRIPT = `set -u
layer=$1 op=$2
shift 2
fail() { printf 'compat delta: %s\\n' "$2" >&2; exit "$1"; }
# The layer itself must be a directory: through a symlink, every change would land elsewhere.
if [ -L "$layer" ] || [ ! -d "$layer" ]; then fail 3 "$layer is a symlink or not a directory"; fi
inside() {
  rest=$1 dir=$layer
  while case $rest in */*) true ;; *) false ;; esac; do
    dir=$dir/\${rest%%/*}
    rest=\${rest#*/}
    if [ -L "$dir" ]; then fail 3 "$1: $dir is a symlink"; fi
  done
}
digest() { sum=$(sha256sum < "$1") || fail 4 "cannot read $1"; printf '%s' "\${sum%% *}"; }
case $op in
delete)
  for p do inside "$p"; done
  for p do rm -rf -- "$layer/$p" || fail 5 "cannot remove $p"; done ;;
patch)
  tmp=$layer/${PATCH_DIR}/.result
  while [ $# -ge 7 ]; do
    to=$1 from=$2 member=$3 base=$4 want=$5 mode=$6 mtime=$7
    shift 7
    inside "$to"; inside "$from"; inside "$member"
    src=$layer/$from
    { [ -f "$src" ] && [ ! -L "$src" ]; } || fail 6 "$to: its base file $from is missing or not a regular file"
    got=$(digest "$src") || exit $?
    [ "$got" = "$base" ] || fail 7 "$to: its base file $from has sha256 $got, but the delta was made against $base"
    zstd -q -d -f --long=31 --patch-from="$src" -o "$tmp" -- "$layer/$member" ||
      { rm -f -- "$tmp"; fail 8 "$to: zstd could not apply the patch $member (corrupt patch)"; }
    got=$(digest "$tmp") || { rm -f -- "$tmp"; exit 4; }
    [ "$got" = "$want" ] ||
      { rm -f -- "$tmp"; fail 9 "$to: the patched file has sha256 $got, the manifest says $want (corrupt patch)"; }
    dst=$layer/$to
    if [ -L "$dst" ] || { [ -e "$dst" ] && [ ! -f "$dst" ]; }; then
      rm -f -- "$tmp"; fail 11 "$to exists and is not a regular file: a patch replaces regular files only"
    fi
    { chmod "$mode" "$tmp" && touch -d "@$mtime" "$tmp" && mv -fT -- "$tmp" "$dst"; } ||
      { rm -f -- "$tmp"; fail 10 "$to: cannot put the patched file in place"; }
  done
  [ $# -eq 0 ] || fail 2 "patch: arguments come in sevens" ;;
*) fail 2 "unknown operation $op" ;;
esac
`;

/** Exit statuses of the script that mean the delta does not fit the layer, or a patch is corrupt. */
const REFUSALS = new Set([3, 6, 7, 8, 9, 11]);
/** Arguments per call: over ssh the whole command is one string, and sshd's `sh -c` takes ≤ 128 KiB. */
const BATCH_BYTES = 64 << 10;

/** zstd learnt --patch-from in 1.4.5. */
const MIN_ZSTD = [1, 4, 5];

function batches(items: string[][]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const args of items) {
    const n = args.reduce((s, a) => s + a.length + 3, 0);
    if (cur.length > 0 && bytes + n > BATCH_BYTES) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(...args);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

async function runScript(host: CommandHost, layerPath: string, op: string, items: string[][]): Promise<void> {
  for (const args of batches(items)) {
    try {
      await host.run(["sh", "-c", SCRIPT, "compat-delta", layerPath, op, ...args]);
    } catch (e) {
      if (!(e instanceof ToolError) || !REFUSALS.has(e.exitStatus ?? -1)) throw e;
      const said = (e.stderrTail ?? "")
        .trim()
        .split("\n")
        .pop()
        ?.replace(/^compat delta: /, "");
      throw new ValidationError(`the delta does not apply to ${layerPath}: ${said ?? e.message}`, {
        hint: "the layer is not the delta's base, or the delta is damaged: publish the full artifact instead",
      });
    }
  }
}

export function patchesOf(m: ArtifactManifest): DeltaPatch[] {
  return m.delta?.patches ?? [];
}

/** Before anything changes: the host that applies patches has a zstd that can. */
export async function checkPatchTool(host: CommandHost, m: ArtifactManifest): Promise<void> {
  if (patchesOf(m).length === 0) return;
  let version: number[] | undefined;
  try {
    const r = await host.run(["zstd", "--version"]);
    version = /v(\d+)\.(\d+)\.(\d+)/.exec(r.stdout)?.slice(1).map(Number);
  } catch (e) {
    if (!isCompatError(e)) throw e;
  }
  const tooOld = (v: number[]) => {
    for (let i = 0; i < 3; i++) if (v[i]! !== MIN_ZSTD[i]!) return v[i]! < MIN_ZSTD[i]!;
    return false;
  };
  if (!version || tooOld(version))
    throw new ToolError(
      `${m.artifact} carries ${patchesOf(m).length} binary patch(es), and ${host.description} has ${version ? `zstd ${version.join(".")}` : "no zstd"}; applying them needs zstd ≥ ${MIN_ZSTD.join(".")}`,
      { command: "zstd --version", exitStatus: null },
      { hint: "install zstd there, or pack the delta with --no-patches" },
    );
}

/** Remove `paths` (relative to the layer) with everything below, refusing any reached through a symlink. */
export async function deletePaths(host: CommandHost, layerPath: string, paths: readonly string[]) {
  if (paths.length > 0)
    await runScript(
      host,
      layerPath,
      "delete",
      paths.map((d) => [d]),
    );
}

/** Step 1: the deletions no patch reads from. */
export async function deleteBeforeExtracting(host: CommandHost, layerPath: string, m: ArtifactManifest) {
  await deletePaths(host, layerPath, deletionPhases(m.delta?.deletions ?? [], patchesOf(m)).before);
}

/** Steps 3 and 4, once the archive is extracted: the patches, then what they read from and the patch dir. */
export async function patchAfterExtracting(host: CommandHost, layerPath: string, m: ArtifactManifest) {
  const patches = patchesOf(m);
  if (patches.length === 0) return;
  await runScript(
    host,
    layerPath,
    "patch",
    patches.map((p) => [
      p.path,
      p.from,
      p.member,
      p.baseSha256,
      p.sha256,
      p.mode.toString(8),
      String(p.mtime),
    ]),
  );
  const { after } = deletionPhases(m.delta?.deletions ?? [], patches);
  await runScript(
    host,
    layerPath,
    "delete",
    [...after, PATCH_DIR].map((d) => [d]),
  );
}
