/**
 * Gentoo Linux Security Advisories (GLSA XML) parsed into a model, with the checks Portage's
 * `Glsa.parse` makes (lib/portage/glsa.py): the DOCTYPE must name the GLSA DTD (it is never
 * fetched), `<glsa id>` must equal the file's id, `<revised count>` must be an integer, package
 * names must be bare `category/name`, ranges must be known. Text is collapsed the way its
 * `getText(format="strip")` does.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { parseAtom } from "../atom.js";
import {
  GLSA_DTD_URLS,
  type Glsa,
  GlsaFormatError,
  type GlsaPackage,
  type GlsaReference,
  type GlsaVersionRange,
  versionRange,
} from "./model.js";

export * from "./model.js";

// preserveOrder keeps `<p>` and `<code>` in document order; entities are decoded by us for the
// fields we keep, and the long prose elements are not built into trees at all.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  preserveOrder: true,
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  stopNodes: ["glsa.description", "glsa.background", "glsa.impact", "glsa.workaround"],
});

/** A node of fast-xml-parser's preserveOrder output. */
type XmlNode = { [tag: string]: XmlNode[] | string | Record<string, string> | undefined } & {
  "#text"?: string;
  ":@"?: Record<string, string>;
};

const tagOf = (n: XmlNode): string => {
  for (const k in n) if (k !== ":@") return k;
  return "";
};
const childrenOf = (n: XmlNode): XmlNode[] => {
  const v = n[tagOf(n)];
  return Array.isArray(v) ? v : [];
};
const attr = (n: XmlNode, name: string): string => decodeEntities(n[":@"]?.[name] ?? "");

/** All descendants named `tag`, in document order (DOM getElementsByTagName). */
function findAll(nodes: XmlNode[], tag: string, out: XmlNode[] = []): XmlNode[] {
  for (const n of nodes) {
    const t = tagOf(n);
    if (t === "#text") continue;
    if (t === tag) out.push(n);
    findAll(childrenOf(n), tag, out);
  }
  return out;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref[0] === "#")
      return String.fromCodePoint(ref[1] === "x" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
    return ENTITIES[ref] ?? whole;
  });
}

/** Concatenated text of a node; `<uri>`/`<mail>` contribute `text:link` (Portage's getText). */
function rawText(n: XmlNode): string {
  const t = tagOf(n);
  if (t === "#text") return decodeEntities(String(n["#text"]));
  if (t === "uri" || t === "mail") {
    const first = childrenOf(n)[0];
    return `${first ? rawText(first) : ""}:${attr(n, "link")}`;
  }
  return childrenOf(n).map(rawText).join("");
}

/** getText(format="strip"): trim spaces/newlines/tabs, then collapse runs of 2+ whitespace. */
export function stripText(s: string): string {
  return s.replace(/^[ \n\t]+|[ \n\t]+$/g, "").replace(/\s{2,}/g, " ");
}

const text = (n: XmlNode) => stripText(rawText(n));

/** The top-level elements of `<glsa>` by name (all GLSAs keep their fields there). */
type Fields = Map<string, XmlNode[]>;

function fieldsOf(root: XmlNode[]): Fields {
  const fields: Fields = new Map();
  for (const n of root) {
    const t = tagOf(n);
    if (t === "#text") continue;
    const list = fields.get(t) ?? [];
    list.push(n);
    fields.set(t, list);
  }
  return fields;
}

/** The first `<tag>`: a direct child, else anywhere below (as getElementsByTagName finds it). */
function first(root: XmlNode[], fields: Fields, tag: string): XmlNode {
  const n = fields.get(tag)?.[0] ?? findAll(root, tag)[0];
  if (!n) throw new GlsaFormatError(`missing <${tag}>`);
  return n;
}

function doctypeSystemId(xml: string): string | undefined {
  const head = xml.slice(0, Math.max(0, xml.indexOf("<glsa")) || 2000);
  const m = /<!DOCTYPE\s+[^\s>[]+\s+(?:SYSTEM\s+(["'])(.*?)\1|PUBLIC\s+(["']).*?\3\s+(["'])(.*?)\4)/.exec(
    head,
  );
  return m ? (m[2] ?? m[5]) : undefined;
}

const CVE_RE = /\b(?:CVE|CAN)-(\d{4})-(\d{4,})\b/g;

/** Parse one GLSA document. `expectedId` (from the file name) must equal `<glsa id>` when given. */
export function parseGlsa(xml: string, expectedId?: string): Glsa {
  const systemId = doctypeSystemId(xml);
  if (systemId === undefined) throw new GlsaFormatError("no DOCTYPE", "GlsaTypeException");
  if (!GLSA_DTD_URLS.includes(systemId))
    throw new GlsaFormatError(`wrong DOCTYPE: ${systemId}`, "GlsaTypeException");
  // fast-xml-parser's parser is lenient (a mismatched end tag passes): validate first, as
  // minidom would refuse such a document.
  const valid = XMLValidator.validate(xml);
  if (valid !== true)
    throw new GlsaFormatError(`not well-formed XML: line ${valid.err.line}: ${valid.err.msg}`);
  const doc = parser.parse(xml) as XmlNode[];
  const rootNode = doc.find((n) => tagOf(n) === "glsa") ?? findAll(doc, "glsa")[0];
  if (!rootNode) throw new GlsaFormatError("no <glsa> element");
  const id = attr(rootNode, "id");
  if (expectedId !== undefined && id !== expectedId)
    throw new GlsaFormatError(`filename and internal id don't match: ${id} != ${expectedId}`);
  const root = childrenOf(rootNode);
  const fields = fieldsOf(root);

  const revisedNode = first(root, fields, "revised");
  const count = attr(revisedNode, "count");
  if (!count) throw new GlsaFormatError(`count attribute is missing or blank in GLSA ${id}`);
  if (!/^\s*[+-]?\d+\s*$/.test(count))
    throw new GlsaFormatError(`revision count in GLSA ${id} is not an integer: ${count}`);

  // Portage requires these even though it does not need their text here.
  for (const tag of ["description", "workaround", "impact"]) first(root, fields, tag);
  const references = findAll(childrenOf(first(root, fields, "references")), "uri").map((u) => ({
    text: stripText(childrenOf(u).map(rawText).join("")),
    link: u[":@"]?.link === undefined ? null : attr(u, "link"),
  }));
  const product = first(root, fields, "product");
  const accessNode = fields.get("access")?.[0] ?? findAll(root, "access")[0];

  return {
    id,
    title: text(first(root, fields, "title")),
    synopsis: text(first(root, fields, "synopsis")),
    productType: attr(product, "type"),
    product: text(product),
    announced: text(first(root, fields, "announced")),
    revised: text(revisedNode),
    revisedCount: Number.parseInt(count.trim(), 10),
    bugs: (fields.get("bug") ?? findAll(root, "bug")).map(text),
    access: accessNode ? text(accessNode) : "",
    packages: findAll(childrenOf(first(root, fields, "affected")), "package").map((p) => parsePackage(p)),
    severity: attr(first(root, fields, "impact"), "type"),
    resolution: renderProse(childrenOf(first(root, fields, "resolution"))),
    references,
    cves: cvesOf(references),
  };
}

function parsePackage(p: XmlNode): GlsaPackage {
  const name = attr(p, "name");
  let valid = false;
  try {
    const atom = parseAtom(name);
    valid = atom.text === atom.cp;
  } catch {
    valid = false;
  }
  if (!valid) throw new GlsaFormatError(`invalid package name: ${name}`);
  const ranges = (tag: string) => findAll(childrenOf(p), tag).map((v) => parseRange(name, v));
  return {
    name,
    arch: attr(p, "arch"),
    auto: attr(p, "auto") === "yes",
    vulnerable: ranges("vulnerable"),
    unaffected: ranges("unaffected"),
  };
}

function parseRange(pkg: string, v: XmlNode): GlsaVersionRange {
  return versionRange(pkg, attr(v, "range"), text(v), attr(v, "slot"));
}

function cvesOf(references: GlsaReference[]): string[] {
  const seen = new Set<string>();
  for (const r of references)
    for (const m of `${r.text} ${r.link ?? ""}`.matchAll(CVE_RE)) seen.add(`CVE-${m[1]}-${m[2]}`);
  return [...seen];
}

/** `<p>`, `<code>`, `<ul>`/`<ol>` as plain text: paragraphs separated by blank lines. */
function renderProse(nodes: XmlNode[]): string {
  const blocks: string[] = [];
  for (const n of nodes) {
    const t = tagOf(n);
    if (t === "p") blocks.push(text(n));
    else if (t === "code")
      blocks.push(
        rawText(n)
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "")
          .join("\n"),
      );
    else if (t === "ul" || t === "ol")
      blocks.push(
        findAll(childrenOf(n), "li")
          .map((li, i) => `${t === "ol" ? `${i + 1}.` : "-"} ${text(li)}`)
          .join("\n"),
      );
    else if (t === "#text" && stripText(rawText(n))) blocks.push(stripText(rawText(n)));
  }
  return blocks.filter((b) => b !== "").join("\n\n");
}
