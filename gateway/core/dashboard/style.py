"""The dashboard's stylesheet, inlined, and the CSP that allows exactly it (pure).

The page carries no script and no style attribute; its one `<style>` element is allowed by
its SHA-256 in `style-src`, so nothing injected into the page could style or run anything.
Colours: text at least 7:1 on its background, chart colours at least 3:1 on white.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

STYLESHEET: Final = """
:root{color-scheme:light;--ink:#0f172a;--muted:#475569;--line:#e2e8f0;--bg:#f1f5f9;
--card:#fff;--accent:#3730a3;--warn-bg:#fffbeb;--warn-line:#d97706;--warn-ink:#78350f}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.5;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,select:focus-visible,input:focus-visible,
summary:focus-visible,.scroll:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.wrap{max-width:1200px;margin:0 auto;padding:0 24px}
header.top{background:#1e1b4b;color:#fff}
header.top .wrap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;
gap:8px 24px;padding-top:18px;padding-bottom:18px}
.product{margin:0;font-size:.8rem;letter-spacing:.08em;text-transform:uppercase;color:#c7d2fe}
h1{margin:0;font-size:1.5rem;line-height:1.25}
h1 .site{font-weight:400;color:#e0e7ff}
.period{margin:2px 0 0;font-size:.9rem;color:#e0e7ff}
header.top nav{display:flex;gap:4px}
header.top nav a{color:#fff;text-decoration:none;padding:4px 10px;border-radius:999px;
border:1px solid #6366f1;font-size:.9rem}
header.top nav a[aria-current]{background:#fff;color:#1e1b4b;border-color:#fff;font-weight:600}
main.wrap{padding-top:20px;padding-bottom:8px}
form.filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:12px 16px;
background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px;
margin-bottom:20px}
.field{display:flex;flex-direction:column;gap:4px;min-width:150px;flex:1 1 150px}
.field label{font-size:.85rem;font-weight:600;color:var(--muted)}
select,input{font:inherit;color:var(--ink);background:#fff;border:1px solid #94a3b8;
border-radius:8px;padding:7px 10px;min-height:40px}
button{font:inherit;font-weight:600;color:#fff;background:var(--accent);border:0;
border-radius:8px;padding:8px 20px;min-height:40px;cursor:pointer}
button:hover{background:#312e81}
h2{font-size:1.05rem;margin:0 0 12px;line-height:1.3}
h3{font-size:.95rem;margin:0 0 8px;line-height:1.3}
.kpis{list-style:none;margin:0 0 20px;padding:0;display:grid;gap:12px;
grid-template-columns:repeat(auto-fill,minmax(150px,1fr))}
.kpis li{background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:12px 14px}
.kpi-label{display:block;font-size:.85rem;color:var(--muted)}
.kpi-value{display:block;font-size:1.6rem;font-weight:700;line-height:1.2;
font-variant-numeric:tabular-nums}
.grid{display:grid;gap:16px;margin-bottom:16px;
grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr))}
.grid.tables{grid-template-columns:repeat(auto-fit,minmax(min(100%,330px),1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px;
min-width:0}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;margin:0 0 8px;padding:0;
font-size:.85rem;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px}
.chart svg{display:block;width:100%;height:auto}
.chart .chart-narrow{display:none}
.chart text{font-size:12px;fill:#475569}
.chart text.value{font-size:11px;fill:#0f172a;font-weight:600}
.chart .grid{stroke:#e2e8f0;stroke-width:1}
.chart polyline{fill:none;stroke-width:2.5;stroke-linejoin:round}
.help{font-size:.85rem;color:var(--muted);margin:8px 0 0}
details{margin-top:10px;font-size:.9rem}
summary{cursor:pointer;color:var(--accent);font-weight:600}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:6px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.label{overflow-wrap:anywhere;width:100%}
tr.sum td{font-weight:600;border-bottom:0}
td .sw{vertical-align:-1px}
th.label{width:100%}
.share{display:block;width:100%;height:6px;margin-top:4px}
.share .track{fill:#eef2ff}
.bar{fill:#6366f1}
.empty{color:var(--muted);margin:0}
.scroll{overflow-x:auto}
.scroll table{min-width:640px}
.scroll th,.scroll td{white-space:nowrap}
.scroll code{overflow-wrap:normal}
.scroll th:first-child,.scroll td:first-child{position:sticky;left:0;background:var(--card)}
.scroll td.text{white-space:normal;min-width:220px;max-width:420px}
.note{display:block;font-size:.8rem;color:var(--muted)}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:.8rem;
background:#e2e8f0;color:#1e293b;white-space:nowrap}
.badge.unknown{background:#92400e;color:#fff;font-weight:600}
tr.unknown td,.scroll tr.unknown td:first-child{background:#fef3c7}
.warning{background:var(--warn-bg);border-left:4px solid var(--warn-line);color:var(--warn-ink);
padding:10px 12px;border-radius:0 8px 8px 0;margin:0 0 12px}
.counts{list-style:none;display:flex;flex-wrap:wrap;gap:8px;margin:12px 0;padding:0}
footer{color:var(--muted);font-size:.85rem;padding-bottom:28px}
footer p{margin:4px 0}
.s-visitors{fill:#4f46e5;background:#4f46e5}
.s-pageviews{fill:#0891b2;background:#0891b2}
.s-accept_all{fill:#059669;background:#059669}
.s-custom{fill:#2563eb;background:#2563eb}
.s-reject_all{fill:#ea580c;background:#ea580c}
.s-gpc{fill:#9333ea;background:#9333ea}
.s-withdraw{fill:#64748b;background:#64748b}
.s-erase{fill:#334155;background:#334155}
.s-other{fill:#94a3b8;background:#94a3b8}
.s-rate{fill:#059669;background:#059669}
.l-rate{stroke:#059669}
.s-mode-opt-in{fill:#2563eb;background:#2563eb}.l-mode-opt-in{stroke:#2563eb}
.s-mode-notice{fill:#d97706;background:#d97706}.l-mode-notice{stroke:#d97706}
.s-mode-none{fill:#64748b;background:#64748b}.l-mode-none{stroke:#64748b}
.s-implied{fill:#a3a3a3;background:#a3a3a3}
@media (max-width:600px){
.wrap{padding:0 12px}
h1{font-size:1.25rem}
.chart .chart-wide{display:none}
.chart .chart-narrow{display:block}
.kpis{grid-template-columns:repeat(2,1fr)}
.kpis li:last-child:nth-child(odd){grid-column:1/-1}
.kpi-value{font-size:1.3rem}
.card{padding:12px}
}
"""

STYLE_HASH: Final = "sha256-" + base64.b64encode(
    hashlib.sha256(STYLESHEET.encode("utf-8")).digest()
).decode("ascii")

# Nothing from elsewhere, no script at all; only the inline stylesheet above, the form
# submitting to this page, and no framing.
DASHBOARD_CSP: Final = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
