// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the test data is shell and Jinja text
import { describe, expect, it } from "vitest";
import { evaluate, literalText, type Part, TemplateError, templateText } from "./jinja.js";

const vars: Record<string, Part[]> = {
  v: [{ kind: "text", text: "2026.06" }],
  eessi_version: [{ kind: "placeholder", name: "version", value: "2026.06" }],
  arch: [{ kind: "placeholder", name: "arch" }],
};
const lookup = (name: string): Part[] => {
  const p = vars[name];
  if (!p) throw new TemplateError(`unknown variable ${name}`, 0);
  return p;
};
const render = (s: string) => literalText(evaluate(s, lookup));

describe("Jinja evaluation", () => {
  // Expected values are what Jinja2 3.1 renders with trim_blocks=True (Ansible's setting).
  it.each([
    ["a{% raw %}\nX{{y}}\n{% endraw %}\nb", "a\nX{{y}}\nb"],
    ["{% raw %}{{a}}{% endraw %}", "{{a}}"],
    ["x{% raw %}  {% endraw %}  \ny", "x    \ny"],
    ["{{ v | replace('.', '') }}", "202606"],
    [`{{ 'a.b' | upper }}-{{ "x" }}`, "A.B-x"],
    ["plain ${EPREFIX} text", "plain ${EPREFIX} text"],
  ])("renders %j as Jinja does", (source, expected) => {
    expect(render(source)).toBe(expected);
  });

  it("keeps per-arch values as placeholders and turns version without dots into {versionTag}", () => {
    expect(templateText(evaluate("/x/{{ arch }}/EESSI_{{ eessi_version | replace('.', '') }}", lookup))).toBe(
      "/x/{arch}/EESSI_{versionTag}",
    );
    expect(literalText(evaluate("{{ eessi_version | replace('.', '') }}", lookup))).toBe("202606");
    expect(literalText(evaluate("{{ arch }}", lookup))).toBeUndefined();
  });

  it.each([
    ["{% if a %}x{% endif %}", /unsupported Jinja statement \{% if a %\}/, 0],
    ["ab {{ v | ternary('a', 'b') }}", /unsupported filter "ternary"/, 10],
    ["{{ v.attr }}", /attribute access and calls are not supported/, 4],
    ["x ${#array[@]}", /Jinja comment/, 3],
    ["{{ v ", /unclosed `\{\{`/, 0],
    ["{% raw %}x", /without \{% endraw %\}/, 0],
    ["{{ nope }}", /unknown variable nope/, 3],
    ["{{ arch | upper }}", /cannot apply the filter upper to \{arch\}: its value differs per arch/, 10],
  ])("refuses %j, saying where", (source, message, offset) => {
    let error: unknown;
    try {
      evaluate(source, lookup);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as TemplateError).message).toMatch(message);
    expect((error as TemplateError).offset).toBe(offset);
  });
});
