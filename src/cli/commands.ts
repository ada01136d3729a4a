/**
 * The registry of commands. A command that is not implemented is not listed here, so it does not
 * exist in --help. Keep the list in the order it should appear in help.
 */
import type { Command } from "commander";
import { register as approve } from "./approve.js";
import { register as audit } from "./audit.js";
import { register as build } from "./build.js";
import { register as buildroot } from "./buildroot.js";
import { register as candidate } from "./candidate.js";
import { register as check } from "./check.js";
import { register as diff } from "./diff.js";
import { register as findings } from "./findings.js";
import { register as gate } from "./gate.js";
import { register as history } from "./history.js";
import { register as impact } from "./impact.js";
import { register as importAnsible } from "./import-ansible.js";
import { register as keygen } from "./keygen.js";
import { register as log } from "./log.js";
import { register as pack } from "./pack.js";
import { register as plan } from "./plan.js";
import { register as promote } from "./promote.js";
import { register as prune } from "./prune.js";
import { register as publish } from "./publish.js";
import { register as reject } from "./reject.js";
import { register as rollback } from "./rollback.js";
import { register as sbom } from "./sbom.js";
import { register as serve } from "./serve.js";
import { register as shell } from "./shell.js";
import { register as status } from "./status.js";
import { register as update } from "./update.js";
import { register as user } from "./user.js";
import { register as verify } from "./verify.js";
import { register as watch } from "./watch.js";

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  plan,
  build,
  buildroot,
  shell,
  check,
  audit,
  impact,
  sbom,
  watch,
  findings,
  importAnsible,
  pack,
  verify,
  diff,
  publish,
  rollback,
  history,
  prune,
  keygen,
  update,
  candidate,
  gate,
  approve,
  reject,
  promote,
  status,
  log,
  serve,
  user,
];
