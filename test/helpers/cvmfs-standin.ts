/**
 * A stand-in for `cvmfs_server`, for the faults a real CernVM-FS 2.12 stratum 0 cannot be made to
 * produce on demand (a publish or an abort failing at a chosen moment, the artifact changed
 * between a transaction's opening and the extraction, a kill between opening and journaling).
 * Everything else is tested against the real server (test/integration/cvmfs-real.test.ts).
 *
 * It is as strict as the real 2.12 where that matters to compat: `publish -m MESSAGE` runs the
 * message through `sh -c` as cvmfs_server_publish.sh does (`sync_command="… -J $tag_description"`
 * unquoted, `tag_command="… -D \"$tag_description\""`), so a parenthesis is a syntax error and a
 * word starting with `-` an unknown option; a tag name with a space or one already in use is
 * refused; refusals go to stdout ("Repository X is not in a transaction") as the real one prints
 * them; exit statuses are 2.12's (`transaction` while one is open → 17, `abort -f` with none
 * open → 22, a failed `publish` → 1 with the transaction left open). Its lock file lives in a
 * spool dir named by a `server.conf` under `configDir`, as the real one's does, and `transaction`
 * snapshots the repository directory so `abort` can restore it, as the union file system would.
 * `transaction -T /from=/to` copies the directory first (the real one commits that as a revision);
 * `diff` has no history to compare (compat then lists the layer instead).
 * A script file can force the next status of a subcommand and run a command at that moment.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface StandIn {
  binDir: string;
  cvmfsRoot: string;
  stateDir: string;
  /** Pass as the publisher's configDir: where the stand-in's server.conf names its spool dir. */
  configDir: string;
  /** Every call so far, as argv arrays. */
  calls(): string[][];
  /** Force `cvmfs_server <sub>` to exit with `status` the next time, after running `command`. */
  script(sub: string, status: number, command?: string): void;
  transactionOpen(): boolean;
  openTransaction(): void;
  tags(): string[];
}

export function makeStandIn(dir: string, repository: string): StandIn {
  const binDir = join(dir, "bin");
  const cvmfsRoot = join(dir, "cvmfs");
  const stateDir = join(dir, "standin-state");
  const configDir = join(dir, "standin-conf");
  const spool = join(stateDir, "spool");
  for (const d of [binDir, join(cvmfsRoot, repository), stateDir, spool, join(configDir, repository)])
    mkdirSync(d, { recursive: true });
  writeFileSync(
    join(configDir, repository, "server.conf"),
    `CVMFS_REPOSITORY_NAME=${repository}\nCVMFS_SPOOL_DIR=${spool}\n`,
  );
  const log = join(stateDir, "calls.log");
  const scriptFile = join(stateDir, "script");
  const tagsFile = join(stateDir, "tags");
  writeFileSync(log, "");
  writeFileSync(scriptFile, "");
  writeFileSync(tagsFile, "");
  const repoDir = join(cvmfsRoot, repository);
  const lock = join(spool, "in_transaction.lock");
  const snapshot = join(stateDir, "snapshot");
  const sh = `#!/bin/bash
# stand-in for cvmfs_server 2.12: records argv, answers with its exit statuses and strictness
set -u
{ printf '%s' "\${SSH_CONNECTION:+ssh }"; printf '%s\\x1f' "$@"; printf '\\n'; } >> '${log}'
sub=\${1:-}
shift || true
forced=""
line=$(grep -m1 -n "^$sub " '${scriptFile}' || true)
if [[ -n $line ]]; then
  n=\${line%%:*}; rest=\${line#*:}; rest=\${rest#* }
  forced=\${rest%% *}; cmd=""
  [[ $rest == *" "* ]] && cmd=\${rest#* }
  sed -i "\${n}d" '${scriptFile}'
  [[ -n $cmd ]] && bash -c "$cmd"
fi
in_txn() { [[ -e '${lock}' ]]; }
die() { echo "$1" >&2; exit 1; }
case $sub in
  transaction)
    template=""
    while getopts "t:T:" o; do case $o in T) template=$OPTARG ;; *) ;; esac; done
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn && { echo "CernVM-FS transaction error: another transaction is already open"; exit 17; }
    if [[ -n $template ]]; then
      from=\${template%%=*}; to=\${template#*=}
      [[ -d '${repoDir}'$from ]] || die "template $from does not exist"
      cp -a '${repoDir}'"$from" '${repoDir}'"$to"
    fi
    rm -rf '${snapshot}'; cp -a '${repoDir}' '${snapshot}'; touch '${lock}'; exit 0 ;;
  publish)
    tag_name="" tag_description=""
    while getopts "a:m:pfvn:" o; do case $o in a) tag_name=$OPTARG ;; m) tag_description=$OPTARG ;; *) ;; esac; done
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    if [[ -n $tag_name ]]; then
      echo $tag_name | grep -q -v " " || die "Spaces are not allowed in tag names"
      grep -qxF -- "$tag_name" '${tagsFile}' && die "Tag name '$tag_name' is already in use."
    fi
    in_txn || { echo "Repository ${repository} is not in a transaction"; exit 1; }
    # cvmfs_server_publish.sh: both command lines go through sh -c
    sync_command=": cvmfs_swissknife sync -D $tag_name"
    [[ -n $tag_description ]] && sync_command="$sync_command -J $tag_description"
    sh -c "set -- $sync_command; for a; do case \\$a in -[!DJ]*) echo \\"sync: unknown option \\$a\\" >&2; exit 1;; esac; done" ||
      die "Synchronization failed\\n\\nExecuted Command:\\n$sync_command"
    sh -c ": cvmfs_swissknife tag_edit -a $tag_name -D \\"$tag_description\\"" || die "Tagging failed"
    [[ -n $tag_name ]] && echo "$tag_name" >> '${tagsFile}'
    rm -rf '${snapshot}' '${lock}'; echo "published"; exit 0 ;;
  abort)
    [[ \${1:-} == -f ]] || { read -r -p "abort? " answer; exit 1; }
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn || { echo "Repository ${repository} is not in a transaction"; exit 22; }
    rm -rf '${repoDir}'; mv '${snapshot}' '${repoDir}'; rm -f '${lock}'; exit 0 ;;
  tag)
    [[ \${1:-} == -i ]] || die "stand-in: only tag -i NAME -x"
    grep -qxF -- "\${2:-}" '${tagsFile}' && { echo "\${2}"; exit 0; }
    echo "tag '\${2:-}' does not exist" >&2; exit 1 ;;
  ingest)
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn && { echo "cannot ingest: a transaction is open" >&2; exit 1; }
    base=""; args=("$@")
    for ((i = 0; i < \${#args[@]}; i++)); do
      case \${args[$i]} in
        --delete|-d) echo "swissknife: catalog for file cannot be found (cvmfs 2.12 crash)" >&2; exit 1 ;;
        --base_dir|-b) base=\${args[$((i + 1))]} ;;
      esac
    done
    [[ $base == /* ]] && { echo "base_dir must be relative" >&2; exit 1; }
    rm -rf '${snapshot}'; cp -a '${repoDir}' '${snapshot}'
    mkdir -p '${repoDir}'/"$base"
    if tar -x -C '${repoDir}'/"$base" -f -; then rm -rf '${snapshot}'; exit 0; fi
    echo "ingest: corrupt tar, aborting" >&2
    rm -rf '${repoDir}'; mv '${snapshot}' '${repoDir}'; exit 1 ;;
  diff) echo "stand-in: no revision history to compare" >&2; exit 1 ;;
  *) echo "stand-in: unknown subcommand $sub" >&2; exit 2 ;;
esac
`;
  const path = join(binDir, "cvmfs_server");
  writeFileSync(path, sh);
  chmodSync(path, 0o755);
  return {
    binDir,
    cvmfsRoot,
    stateDir,
    configDir,
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\x1f").filter((x, i, a) => i < a.length - 1 || x !== "")),
    script: (sub, status, command) =>
      writeFileSync(
        scriptFile,
        `${readFileSync(scriptFile, "utf8")}${sub} ${status}${command ? ` ${command}` : ""}\n`,
      ),
    transactionOpen: () => existsSync(lock),
    openTransaction: () => writeFileSync(lock, ""),
    tags: () => readFileSync(tagsFile, "utf8").split("\n").filter(Boolean),
  };
}
