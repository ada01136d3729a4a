/**
 * The commands `compat build` suggests (resume a run, enter the layer), quoted for a shell: a person
 * pastes them, so a directory with a blank or a `;` in its name must stay one word.
 */
import { formatCommand } from "../exec/run.js";

export interface HintOptions {
  arch?: string;
  root?: string;
  runsDir?: string;
  /** The runs dir that goes without saying (not repeated in the hint). */
  defaultRunsDir?: string;
  buildRoot?: boolean;
  stateDir?: string;
}

const archAndRoot = (o: HintOptions): string[] => [
  ...(o.arch ? ["--arch", o.arch] : []),
  ...(o.root ? ["--root", o.root] : []),
];

/** `compat build SPEC … --resume RUN`, with the options that chose where the run and its build root are. */
export function resumeCommand(specFile: string, o: HintOptions, runId: string): string {
  return formatCommand("compat", [
    "build",
    specFile,
    ...archAndRoot(o),
    ...(o.runsDir && o.runsDir !== o.defaultRunsDir ? ["--runs-dir", o.runsDir] : []),
    ...(o.buildRoot === undefined ? [] : [o.buildRoot ? "--build-root" : "--no-build-root"]),
    ...(o.stateDir ? ["--state-dir", o.stateDir] : []),
    "--resume",
    runId,
  ]);
}

/** `compat shell SPEC …` for the layer just built. */
export function shellCommand(specFile: string, o: HintOptions): string {
  return formatCommand("compat", ["shell", specFile, ...archAndRoot(o)]);
}
