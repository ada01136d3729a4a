/**
 * The one stylesheet, served from the server itself (no CDN, no web font, no script). Readable on
 * a laptop and a phone: tables become stacked cards below 720 px. States carry a symbol and a word
 * besides their colour, so nothing is told by colour alone.
 */
export const STYLE = `
:root { --fg:#1b1f24; --muted:#5b6470; --bg:#fff; --line:#d7dce2; --head:#f3f5f8; --link:#0b57d0;
  --ok:#116329; --ok-bg:#dafbe1; --bad:#a40e26; --bad-bg:#ffebe9; --warn:#7d4e00; --warn-bg:#fff8c5;
  --info:#0a3069; --info-bg:#ddf4ff; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--link); }
header { background:#24292f; color:#fff; }
header nav { display:flex; flex-wrap:wrap; gap:.25rem 1rem; align-items:center; padding:.6rem 1rem; max-width:1400px; margin:0 auto; }
header a { color:#fff; text-decoration:none; }
header a.brand { font-weight:700; margin-right:.5rem; }
header a[aria-current=page] { text-decoration:underline; }
header .who { margin-left:auto; display:flex; gap:.5rem; align-items:center; color:#d0d7de; }
header .who button { background:none; border:1px solid #8c959f; color:#fff; border-radius:4px; padding:.1rem .5rem; cursor:pointer; }
main { max-width:1400px; margin:0 auto; padding:1rem; }
h1 { font-size:1.45rem; margin:.2rem 0 1rem; }
h2 { font-size:1.15rem; margin:1.5rem 0 .5rem; }
table { border-collapse:collapse; width:100%; margin:.5rem 0 1rem; }
th, td { border-bottom:1px solid var(--line); padding:.4rem .5rem; text-align:left; vertical-align:top; }
th { background:var(--head); font-weight:600; }
td.num, th.num { text-align:right; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:.9em; }
pre { background:var(--head); padding:.6rem; overflow:auto; max-height:70vh; white-space:pre-wrap; word-break:break-all; }
.muted { color:var(--muted); }
.badge { display:inline-block; border-radius:1rem; padding:0 .55rem; font-size:.85em; white-space:nowrap; border:1px solid transparent; }
.s-ok { color:var(--ok); background:var(--ok-bg); border-color:#4ac26b; }
.s-bad { color:var(--bad); background:var(--bad-bg); border-color:#ff8182; }
.s-warn { color:var(--warn); background:var(--warn-bg); border-color:#d4a72c; }
.s-info { color:var(--info); background:var(--info-bg); border-color:#54aeff; }
.s-none { color:var(--muted); background:var(--head); border-color:var(--line); }
.cell { display:flex; flex-direction:column; gap:.15rem; }
.gates { display:flex; flex-wrap:wrap; gap:.2rem; }
.sev { display:flex; flex-wrap:wrap; gap:.2rem; }
.flash { padding:.6rem .8rem; border-radius:6px; margin:0 0 1rem; }
.flash.error { background:var(--bad-bg); color:var(--bad); border:1px solid #ff8182; }
.flash.ok { background:var(--ok-bg); color:var(--ok); border:1px solid #4ac26b; }
form.inline { display:inline; }
form.stack { display:flex; flex-direction:column; gap:.5rem; max-width:28rem; }
fieldset { border:1px solid var(--line); border-radius:6px; margin:.5rem 0 1rem; padding:.6rem .8rem; }
legend { font-weight:600; }
label { display:flex; flex-direction:column; gap:.15rem; }
label.check { flex-direction:row; gap:.4rem; align-items:center; }
input, select, textarea, button { font:inherit; }
input[type=text], input[type=password], select, textarea { padding:.35rem .45rem; border:1px solid #8c959f; border-radius:4px; max-width:100%; }
button { padding:.35rem .8rem; border-radius:4px; border:1px solid #8c959f; background:#f6f8fa; cursor:pointer; }
button.primary { background:#1f883d; color:#fff; border-color:#1a7f37; }
button.danger { background:#cf222e; color:#fff; border-color:#a40e26; }
.filters { display:flex; flex-wrap:wrap; gap:.6rem 1rem; align-items:flex-end; margin-bottom:1rem; }
.bars td.bar span { display:inline-block; height:.8rem; vertical-align:middle; }
.bars .opened { background:#cf222e; } .bars .resolved { background:#1f883d; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; word-break:break-all; }
@media (max-width: 720px) {
  table.cards thead { display:none; }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display:block; width:100%; }
  table.cards tr { border:1px solid var(--line); border-radius:6px; margin:0 0 .8rem; padding:.3rem .5rem; }
  table.cards td { border:none; padding:.25rem 0; }
  table.cards td[data-label]::before { content: attr(data-label); display:block; font-size:.8em; color:var(--muted); }
  main { padding:.6rem; }
}
`;
