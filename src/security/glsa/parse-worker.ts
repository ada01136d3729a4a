/** Worker thread of a cold GLSA parse: parses the files it is given and posts the outcomes. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import type { ParseOutcome } from "./corpus.js";
import { parseGlsaFile } from "./parse-file.js";

const { directory, names } = workerData as { directory: string; names: string[] };
const outcomes: ParseOutcome[] = names.map((name) =>
  parseGlsaFile(name, readFileSync(join(directory, name), "utf8")),
);
parentPort!.postMessage(outcomes);
