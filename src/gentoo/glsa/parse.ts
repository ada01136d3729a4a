/**
 * Gentoo Linux Security Advisories (GLSA XML) parsed into a model, with the checks Portage's
 * `Glsa.parse` makes (lib/portage/glsa.py): the DOCTYPE must name the GLSA DTD (it is never
 * fetched), `<glsa id>` must equal the file's id, `<revised count>` must be an integer, package
 * names must be bare `category/name`, ranges must be known. Text is collapsed the way its
 * `getText(format="strip")` does.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { parseAtom } from "../atom.js";

export const GLSA_RANGES = ["le", "lt", "eq", "gt", "ge", "rle", "rlt", "rge", "rgt"] as const;
export type GlsaRange = (typeof GLSA_RANGES)[number];

export interface GlsaVersionRange {
  range: GlsaRange;
  /** The version, without any `:slot` written in the element text. */
  version: string;
  /** The slot: the `slot` attribute (unless empty or `*`), or a `:slot` written after the version. */
  slot: string | null;
  /** The element text as written (whitespace collapsed), e.g. `3.24.48:3`. */
  text: string;
}

export interface GlsaPackage {
  /** `category/name` */
  name: string;
  /** `*` or space-separated keywords (old GLSAs), as written. */
  arch: string;
  auto: boolean;
  vulnerable: GlsaVersionRange[];
  unaffected: GlsaVersionRange[];
}

export interface GlsaReference {
  text: string;
  link: string | null;
}

export interface Glsa {
  id: string;
  title: string;
  synopsis: string;
  /** `ebuild`, `infrastructure` or `informational`. */
  productType: string;
  product: string;
  announced: string;
  revised: string;
  revisedCount: number;
  bugs: string[];
  access: string;
  /** One entry per `<package>` element, in document order (a name may appear twice). */
  packages: GlsaPackage[];
  /** The `<impact type>`: high, normal, low (also seen: medium, minimal). */
  severity: string;
  /** The resolution as plain text: paragraphs, and commands from `<code>` blocks. */
  resolution: string;
  references: GlsaReference[];
  /** Every CVE id cited by the references, in order, without duplicates (old `CAN-` ids as `CVE-`). */
  cves: string[];
}

export const GLSA_DTD_URLS = ["http://www.gentoo.org/dtd/glsa.dtd", "http://www.gentoo.org/dtd/glsa-2.dtd"];

/** The GLSA is not one Portage would accept; `kind` is Portage's exception. */
export class GlsaFormatError extends Error {
  readonly kind: "GlsaTypeException" | "GlsaFormatException";
  constructor(message: string, kind: GlsaFormatError["kind"] = "GlsaFormatException") {
    super(message);
    this.name = "GlsaFormatError";
    this.kind = kind;
  }
}

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

function first(root: XmlNode[], tag: string): XmlNode {
  const n = findAll(root, tag)[0];
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
  const rootNode = findAll(doc, "glsa")[0];
  if (!rootNode) throw new GlsaFormatError("no <glsa> element");
  const id = attr(rootNode, "id");
  if (expectedId !== undefined && id !== expectedId)
    throw new GlsaFormatError(`filename and internal id don't match: ${id} != ${expectedId}`);
  const root = childrenOf(rootNode);

  const revisedNode = first(root, "revised");
  const count = attr(revisedNode, "count");
  if (!count) throw new GlsaFormatError(`count attribute is missing or blank in GLSA ${id}`);
  if (!/^\s*[+-]?\d+\s*$/.test(count))
    throw new GlsaFormatError(`revision count in GLSA ${id} is not an integer: ${count}`);

  // Portage requires these even though it does not need their text here.
  for (const tag of ["description", "workaround", "impact"]) first(root, tag);
  const references = findAll(childrenOf(first(root, "references")), "uri").map((u) => ({
    text: stripText(childrenOf(u).map(rawText).join("")),
    link: u[":@"]?.link === undefined ? null : attr(u, "link"),
  }));
  const product = first(root, "product");
  const accessNode = findAll(root, "access")[0];

  return {
    id,
    title: text(first(root, "title")),
    synopsis: text(first(root, "synopsis")),
    productType: attr(product, "type"),
    product: text(product),
    announced: text(first(root, "announced")),
    revised: text(revisedNode),
    revisedCount: Number.parseInt(count.trim(), 10),
    bugs: findAll(root, "bug").map(text),
    access: accessNode ? text(accessNode) : "",
    packages: findAll(childrenOf(first(root, "affected")), "package").map((p) => parsePackage(p)),
    severity: attr(first(root, "impact"), "type"),
    resolution: renderProse(childrenOf(first(root, "resolution"))),
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

/** A `<vulnerable>`/`<unaffected>` element from its range, text and slot attribute. */
export function versionRange(
  pkg: string,
  range: string,
  written: string,
  slotAttribute = "",
): GlsaVersionRange {
  if (!(GLSA_RANGES as readonly string[]).includes(range))
    throw new GlsaFormatError(`invalid range found for '${pkg}': ${range}`);
  const attrSlot = slotAttribute.trim();
  const colon = written.indexOf(":");
  const textSlot = colon === -1 ? null : written.slice(colon + 1);
  if (textSlot !== null && attrSlot && attrSlot !== "*")
    throw new GlsaFormatError(`'${pkg}': slot given twice (${written}, slot="${attrSlot}")`);
  return {
    range: range as GlsaRange,
    version: colon === -1 ? written : written.slice(0, colon),
    slot: attrSlot && attrSlot !== "*" ? attrSlot : textSlot,
    text: written,
  };
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
