/**
 * Gentoo Linux Security Advisories (GLSA XML) parsed into a model, with the checks Portage's
 * `Glsa.parse` makes (lib/portage/glsa.py): the document must be well-formed XML (minidom, that
 * is expat, refuses it otherwise), the DOCTYPE must name the GLSA DTD (it is never fetched),
 * `<glsa id>` must equal the file's id, `<revised count>` must be an integer, package names must
 * be bare `category/name`, ranges must be known. Text is collapsed the way its
 * `getText(format="strip")` does.
 *
 * The XML is read by saxes, a strict (well-formedness checking) streaming parser: one pass both
 * checks the document and builds a small tree of what the model needs, several times faster
 * than validating and then building a generic tree. Like expat reading a document whose DTD is
 * external and not loaded, an undefined entity is skipped, not an error.
 */
import { SaxesParser } from "saxes";
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

/** An element with its attributes and children, or a run of text (entities already decoded). */
type XmlNode = XmlElement | { text: string };
interface XmlElement {
  tag: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}

/** The long prose elements: their content is checked but not kept (nothing here reads it). */
const PROSE = new Set(["description", "background", "impact", "workaround"]);

const isElement = (n: XmlNode): n is XmlElement => "tag" in n;

/** Entities a GLSA does not define read as nothing, as expat skips them (the DTD is external). */
const SKIPPED_ENTITIES: Record<string, string> = new Proxy(
  { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" } as Record<string, string>,
  {
    get: (known, name) =>
      typeof name === "string" ? (Object.hasOwn(known, name) ? known[name] : "") : undefined,
  },
);

/** Parse the document into the root elements' tree; GlsaFormatError when it is not well-formed. */
function parseXml(xml: string): XmlElement[] {
  const parser = new SaxesParser();
  parser.ENTITIES = SKIPPED_ENTITIES;
  const roots: XmlElement[] = [];
  const open: XmlElement[] = [];
  /** Depth inside a prose element of <glsa> whose content is not kept (0: keeping). */
  let skipping = 0;
  parser.on("opentag", (t) => {
    if (skipping > 0) {
      skipping++;
      return;
    }
    const node: XmlElement = { tag: t.name, attrs: t.attributes as Record<string, string>, children: [] };
    const parent = open[open.length - 1];
    if (parent) parent.children.push(node);
    else roots.push(node);
    if (open.length === 1 && parent!.tag === "glsa" && PROSE.has(t.name)) skipping = 1;
    else open.push(node);
  });
  parser.on("closetag", () => {
    if (skipping > 0) skipping--;
    else open.pop();
  });
  const onText = (text: string) => {
    if (skipping === 0 && open.length > 0) open[open.length - 1]!.children.push({ text });
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  // Errors are collected (saxes goes on after one) and the first position's are reported.
  const errors: { at: string; message: string }[] = [];
  parser.on("error", (e) => {
    const m = /^(\d+):(\d+): (.*)$/s.exec(e.message);
    errors.push({
      at: m ? `line ${m[1]}, column ${m[2]}` : "",
      message: (m?.[3] ?? e.message).replace(/\.$/, ""),
    });
  });
  parser.write(xml).close();
  if (errors.length > 0) {
    const at = errors[0]!.at;
    const messages = [...new Set(errors.filter((e) => e.at === at).map((e) => e.message))];
    throw new GlsaFormatError(`not well-formed XML: ${at ? `${at}: ` : ""}${messages.join("; ")}`);
  }
  return roots;
}

const attr = (n: XmlElement, name: string): string => n.attrs[name] ?? "";
const elements = (nodes: XmlNode[]): XmlElement[] => nodes.filter(isElement);

/** All descendants named `tag`, in document order (DOM getElementsByTagName). */
function findAll(nodes: XmlNode[], tag: string, out: XmlElement[] = []): XmlElement[] {
  for (const n of nodes) {
    if (!isElement(n)) continue;
    if (n.tag === tag) out.push(n);
    findAll(n.children, tag, out);
  }
  return out;
}

/** Concatenated text of a node; `<uri>`/`<mail>` contribute `text:link` (Portage's getText). */
function rawText(n: XmlNode): string {
  if (!isElement(n)) return n.text;
  if (n.tag === "uri" || n.tag === "mail") {
    const first = n.children[0];
    return `${first ? rawText(first) : ""}:${attr(n, "link")}`;
  }
  return n.children.map(rawText).join("");
}

/** getText(format="strip"): trim spaces/newlines/tabs, then collapse runs of 2+ whitespace. */
export function stripText(s: string): string {
  return s.replace(/^[ \n\t]+|[ \n\t]+$/g, "").replace(/\s{2,}/g, " ");
}

const text = (n: XmlNode) => stripText(rawText(n));

/** The top-level elements of `<glsa>` by name (all GLSAs keep their fields there). */
type Fields = Map<string, XmlElement[]>;

function fieldsOf(root: XmlNode[]): Fields {
  const fields: Fields = new Map();
  for (const n of elements(root)) {
    const list = fields.get(n.tag) ?? [];
    list.push(n);
    fields.set(n.tag, list);
  }
  return fields;
}

/** The first `<tag>`: a direct child, else anywhere below (as getElementsByTagName finds it). */
function first(root: XmlNode[], fields: Fields, tag: string): XmlElement {
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

const CVE_RE = /\b(?:CVE|CAN)-\d{4}-\d{4,}\b/g;

/** Parse one GLSA document. `expectedId` (from the file name) must equal `<glsa id>` when given. */
export function parseGlsa(xml: string, expectedId?: string): Glsa {
  const systemId = doctypeSystemId(xml);
  if (systemId === undefined) throw new GlsaFormatError("no DOCTYPE", "GlsaTypeException");
  if (!GLSA_DTD_URLS.includes(systemId))
    throw new GlsaFormatError(`wrong DOCTYPE: ${systemId}`, "GlsaTypeException");
  const doc = parseXml(xml);
  const rootNode = doc.find((n) => n.tag === "glsa") ?? findAll(doc, "glsa")[0];
  if (!rootNode) throw new GlsaFormatError("no <glsa> element");
  const id = attr(rootNode, "id");
  if (expectedId !== undefined && id !== expectedId)
    throw new GlsaFormatError(`filename and internal id don't match: ${id} != ${expectedId}`);
  const root = rootNode.children;
  const fields = fieldsOf(root);

  const revisedNode = first(root, fields, "revised");
  const count = attr(revisedNode, "count");
  if (!count) throw new GlsaFormatError(`count attribute is missing or blank in GLSA ${id}`);
  if (!/^\s*[+-]?\d+\s*$/.test(count))
    throw new GlsaFormatError(`revision count in GLSA ${id} is not an integer: ${count}`);

  // Portage requires these even though it does not need their text here.
  for (const tag of ["description", "workaround", "impact"]) first(root, fields, tag);
  const references = findAll(first(root, fields, "references").children, "uri").map((u) => ({
    text: stripText(u.children.map(rawText).join("")),
    link: u.attrs.link ?? null,
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
    packages: findAll(first(root, fields, "affected").children, "package").map((p) => parsePackage(p)),
    severity: attr(first(root, fields, "impact"), "type"),
    resolution: renderProse(first(root, fields, "resolution").children),
    references,
    cves: cvesOf(references),
  };
}

function parsePackage(p: XmlElement): GlsaPackage {
  const name = attr(p, "name");
  let valid = false;
  try {
    const atom = parseAtom(name);
    valid = atom.text === atom.cp;
  } catch {
    valid = false;
  }
  if (!valid) throw new GlsaFormatError(`invalid package name: ${name}`);
  const ranges = (tag: string) => findAll(p.children, tag).map((v) => parseRange(name, v));
  return {
    name,
    arch: attr(p, "arch"),
    auto: attr(p, "auto") === "yes",
    vulnerable: ranges("vulnerable"),
    unaffected: ranges("unaffected"),
  };
}

function parseRange(pkg: string, v: XmlElement): GlsaVersionRange {
  return versionRange(pkg, attr(v, "range"), text(v), attr(v, "slot"));
}

function cvesOf(references: GlsaReference[]): string[] {
  // one match over all references (a space never belongs to an id, so none spans two)
  const text = references.map((r) => `${r.text} ${r.link ?? ""}`).join(" ");
  const seen = new Set<string>();
  for (const id of text.match(CVE_RE) ?? []) seen.add(id.startsWith("CAN") ? `CVE${id.slice(3)}` : id);
  return [...seen];
}

/** `<p>`, `<code>`, `<ul>`/`<ol>` as plain text: paragraphs separated by blank lines. */
function renderProse(nodes: XmlNode[]): string {
  const blocks: string[] = [];
  for (const n of nodes) {
    if (!isElement(n)) {
      if (stripText(n.text)) blocks.push(stripText(n.text));
      continue;
    }
    const t = n.tag;
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
        findAll(n.children, "li")
          .map((li, i) => `${t === "ol" ? `${i + 1}.` : "-"} ${text(li)}`)
          .join("\n"),
      );
  }
  return blocks.filter((b) => b !== "").join("\n\n");
}
