/** Worker thread of a GLSA parse: checks the files it is given (read, hash, parse) and posts the results. */
import { parentPort, workerData } from "node:worker_threads";
import { checkFiles } from "./parse-file.js";

const { directory, files } = workerData as {
  directory: string;
  files: { name: string; knownHash?: string }[];
};
parentPort!.postMessage(checkFiles(directory, files));
