/** Parse one GLSA file of a directory: a model, or the reason glsa-check would skip it. */
import { GlsaFormatError } from "../../gentoo/glsa/model.js";
import { parseGlsa } from "../../gentoo/glsa/parse.js";
import { GLSA_FILE_RE, type ParseOutcome } from "./corpus.js";

export function parseGlsaFile(name: string, content: string): ParseOutcome {
  try {
    return { name, glsa: parseGlsa(content, GLSA_FILE_RE.exec(name)![1]) };
  } catch (e) {
    if (e instanceof GlsaFormatError) return { name, error: e.message };
    throw e;
  }
}
