# ruff: noqa: E501  (HTML lines are kept whole for readability)
"""The HTML report template (Jinja2, autoescaped: every value printed is escaped unless marked safe)."""

HTML = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'{% if js_src %} 'self'{% endif %}; style-src 'unsafe-inline'; img-src data:">
<title>distillguard: distillation campaign report</title>
<style>
  :root { --ink: #1d2733; --muted: #5f6b7a; --rule: #d9dee4; --accent: #1f4e79; --alarm: #b03a2e; }
  * { box-sizing: border-box; }
  body { font: 13px/1.45 Helvetica, Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 760px; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 0 0 6px; color: var(--accent); }
  h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 18px 0 6px;
       border-bottom: 1px solid var(--rule); padding-bottom: 2px; }
  .meta { color: var(--muted); margin-bottom: 12px; }
  .facts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; margin: 10px 0; }
  .fact { border: 1px solid var(--rule); border-radius: 4px; padding: 5px 8px; }
  .fact b { display: block; font-size: 16px; } .fact span { color: var(--muted); font-size: 11px; }
  table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; font-size: 12px; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--rule); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
  .grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 16px; }
  .risk { color: var(--alarm); font-weight: 700; }
  .family { border-left: 3px solid var(--accent); padding: 2px 0 2px 10px; margin: 8px 0; }
  .prompt { font: 11.5px/1.4 Menlo, Consolas, monospace; background: #f5f7f9; padding: 4px 6px; margin: 3px 0;
            white-space: pre-wrap; overflow-wrap: anywhere; }
  .sys { color: var(--muted); }
  .chart { margin: 6px 0; }
  .note { color: var(--muted); font-size: 11px; }
  ul.ev li { margin: 2px 0; overflow-wrap: anywhere; }
  a { color: var(--accent); text-decoration: none; }
  section.page + section.page { margin-top: 40px; border-top: 2px solid var(--rule); padding-top: 24px; }
  @page { size: A4; margin: 14mm 12mm; }
  @media print {
    body { max-width: none; padding: 0; font-size: 11.5px; }
    section.page { break-before: page; } section.page:first-of-type { break-before: auto; }
    section.page + section.page { margin-top: 0; border-top: none; padding-top: 0; }
    .chart, table, .family, .fact, h3 { break-inside: avoid; } h3 { break-after: avoid; }
    * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    a { color: inherit; }
  }
</style>
{% if js_src %}<script src="{{ js_src }}"></script>{% else %}<script>{{ plotly_js|safe }}</script>{% endif %}
</head>
<body>
<section class="page" id="summary">
  <h1>Distillation campaigns</h1>
  <div class="meta">Generated {{ r.generated_at|dt }} from <code>{{ r.results }}</code>{% if not r.store_used %}
    · store not found: timelines, prompts and payment clusters left out{% endif %}</div>
  <div class="facts">
    <div class="fact"><b>{{ r.summary.campaigns|num }}</b><span>campaigns</span></div>
    <div class="fact"><b>{{ r.summary.flagged_accounts|num }}</b><span>flagged accounts</span></div>
    <div class="fact"><b>{{ r.summary.campaign_exchanges|num }}</b><span>campaign exchanges</span></div>
    <div class="fact"><b>{{ r.summary.exchanges|num }}</b><span>exchanges analysed</span></div>
  </div>
  {% if r.campaigns %}
  {{ chart(ranking) }}
  <table>
    <tr><th>#</th><th>campaign</th><th class="n">risk</th><th class="n">accounts</th><th class="n">exchanges</th>
        <th>first seen</th><th>last seen</th><th>main capability</th></tr>
    {% for c in r.campaigns %}
    <tr><td>{{ c.rank }}</td><td><a href="#{{ c.campaign_id }}">{{ c.campaign_id }}</a></td>
        <td class="n risk">{{ c.risk|fmt2 }}</td><td class="n">{{ c.accounts|num }}</td><td class="n">{{ c.exchanges|num }}</td>
        <td>{{ c.first_seen|day }}</td><td>{{ c.last_seen|day }}</td>
        <td>{% if c.capabilities %}{{ c.capabilities[0].name }} ({{ c.capabilities[0].share|pct }}){% endif %}</td></tr>
    {% endfor %}
  </table>
  {% else %}<p>No campaign was found in these results.</p>{% endif %}
  {% if r.releases %}<p class="note">Model releases seen in the log:
    {% for rel in r.releases %}{{ rel.model }} ({{ rel.released|dt }}){% if not loop.last %}, {% endif %}{% endfor %}</p>{% endif %}
</section>
{% for c in r.campaigns %}
<section class="page" id="{{ c.campaign_id }}">
  <h2>Campaign {{ c.campaign_id }} <span class="risk">risk {{ c.risk|fmt2 }}</span></h2>
  <div class="meta">rank {{ c.rank }} of {{ r.campaigns|length }}{% if c.models %} · models:
    {% for m in c.models[:4] %}{{ m.name }} {{ m.share|pct }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}</div>
  <div class="facts">
    <div class="fact"><b>{{ c.accounts|num }}</b><span>accounts</span></div>
    <div class="fact"><b>{{ c.exchanges|num }}</b><span>exchanges</span></div>
    <div class="fact"><b>{{ c.n_nets|num }}</b><span>networks</span></div>
    <div class="fact"><b>{{ c.n_payment_fingerprints|num }}</b><span>payment methods</span></div>
    <div class="fact"><b>{{ c.first_seen|day }}</b><span>first seen</span></div>
    <div class="fact"><b>{{ c.last_seen|day }}</b><span>last seen</span></div>
    <div class="fact"><b>{{ c.first_flagged_at|day }}</b><span>first flagged</span></div>
    <div class="fact"><b>{{ (c.last_seen - c.first_seen).days if c.first_seen and c.last_seen else "–" }} d</b><span>active</span></div>
  </div>
  <h3>Capabilities targeted</h3>
  {{ chart(charts[c.campaign_id].capabilities) }}
  <h3>Activity over time</h3>
  {% if charts[c.campaign_id].timeline %}{{ chart(charts[c.campaign_id].timeline) }}{% else %}<p class="note">Needs the store.</p>{% endif %}
  {% for p in c.pivots or [] %}
  <p>{% if p.pivot %}<b>Pivot:</b> {% endif %}{{ p.share_24h|pct }} of the campaign's traffic went to
    <b>{{ p.model }}</b> in the 24 h after its release ({{ p.released|dt }}){% if p.others_share_24h is not none %};
    other accounts: {{ p.others_share_24h|pct }}{% endif %}.</p>
  {% endfor %}
  <h3>Infrastructure</h3>
  <div class="grid2">
    {% for title, key in [("Address ranges", "nets"), ("User agents", "user_agents"), ("Pathways", "pathways"), ("Countries", "countries")] %}
    <div><table><tr><th>{{ title }}</th><th class="n">accounts</th><th class="n">exchanges</th></tr>
      {% for i in (c.infrastructure or {}).get(key) or [] %}{% if loop.index <= 6 %}
      <tr><td>{{ i.name }}</td><td class="n">{{ i.accounts|num }}</td><td class="n">{{ i.exchanges|num }}</td></tr>{% endif %}
      {% endfor %}</table></div>
    {% endfor %}
    <div><table><tr><th>ASN</th><th>class</th><th class="n">accounts (all)</th></tr>
      {% for a in (c.asn_classes or [])[:6] %}<tr><td>{{ a.asn }}</td><td>{{ a["class"] }}</td>
        <td class="n">{{ a.campaign_accounts|num }} ({{ a.all_accounts|num }})</td></tr>{% endfor %}</table></div>
    <div><table><tr><th>Payment cluster</th><th class="n">accounts</th></tr>
      {% for p in (c.payment_clusters or [])[:6] %}<tr><td>{{ p.name }}</td><td class="n">{{ p.accounts|num }}</td></tr>{% endfor %}
      </table></div>
  </div>
  <h3>Representative prompts by template family</h3>
  {% for f in c.families or [] %}
  <div class="family"><b>{{ f.capability }}</b> · {{ f.n_exchanges|num }} exchanges from {{ f.n_accounts|num }} accounts
    <span class="note">family {{ f.family_id }}</span>
    {% for e in f.examples %}<div class="prompt">{% if e.system %}<span class="sys">[system] {{ e.system }}</span>
{% endif %}{{ e.user }}</div>{% endfor %}</div>
  {% else %}<p class="note">Needs the store.</p>{% endfor %}
  <p class="note">Prompts are masked (numbers, names, quotes, code, addresses replaced by placeholders) and cut to {{ cap }} characters.</p>
  <h3>Evidence behind the score</h3>
  <ul class="ev">{% for e in c.evidence or [] %}<li>{{ e }}</li>{% endfor %}</ul>
  {% if c.account_evidence %}<table><tr><th>account-level signal</th><th class="n">accounts</th><th>example</th></tr>
    {% for e in c.account_evidence %}<tr><td>{{ e.rule }}</td><td class="n">{{ e.accounts|num }}</td><td>{{ e.example }}</td></tr>{% endfor %}
  </table>{% endif %}
  <h3>Highest-risk accounts</h3>
  <table><tr><th>account</th><th class="n">risk</th><th class="n">exchanges</th><th>pathway</th><th>country</th><th>first flagged</th></tr>
    {% for a in c.top_accounts %}<tr><td>{{ a.account_id }}</td><td class="n">{{ a.risk|fmt2 }}</td><td class="n">{{ a.n_exchanges|num }}</td>
      <td>{{ a.pathway or "" }}</td><td>{{ a.country or "" }}</td><td>{{ a.first_flagged_at|dt }}</td></tr>{% endfor %}
  </table>
  {% if c.accounts > c.top_accounts|length %}<p class="note">{{ c.accounts - c.top_accounts|length }} more accounts in accounts.parquet.</p>{% endif %}
  <h3>Recommended actions</h3>
  <ol>{% for a in c.actions %}<li><b>{{ a.action }}</b>: {{ a.why }}</li>{% endfor %}</ol>
</section>
{% endfor %}
</body>
</html>
"""
