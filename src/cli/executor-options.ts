/**
 * The options `--on EXECUTOR` brings to build, check and update (declared here, light: defining the
 * commands loads nothing else); what they do is in executor-run.ts, loaded by the actions.
 */
import type { Command } from "commander";

/** 128 + SIGINT, as shells report a program stopped by Ctrl-C. */
export const INTERRUPTED_EXIT = 130;

export interface ExecutorCliOptions {
  on?: string;
  remoteCompat?: string;
  workDir?: string;
  sshConfig?: string;
  config?: string;
}

export interface RemoteBuildCliOptions extends ExecutorCliOptions {
  arch?: string;
  root?: string;
  json?: boolean;
  output: string;
  allArches?: boolean;
}

export function addExecutorOptions(cmd: Command): Command {
  return cmd
    .option(
      "--on <executor>",
      "where it runs: local (default), ssh:[user@]host[:port] (compat installed there) or slurm[:partition=P,constraint=C,time=T]",
    )
    .option(
      "--remote-compat <command>",
      "the compat command on the build host or Slurm node (default: compat; with --on local: this compat)",
    )
    .option(
      "--work-dir <dir>",
      "the executor's work dir: on the build host for ssh (default compat-work in the login's home), shared with the nodes for slurm (default <state>/slurm)",
    )
    .option("--ssh-config <file>", "ssh_config for --on ssh:… (ssh -F)");
}

/** This very compat, for jobs that run on this host. */
