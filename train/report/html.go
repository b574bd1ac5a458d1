package report

import (
	"html/template"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"num":   num,
	"clip":  clip,
	"short": func(s string) string { return s[:min(len(s), 12)] },
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") },
	"day":   func(t time.Time) string { return t.UTC().Format("Jan 2 15:04") },
	"metric": func(m map[string]float64, k string) string {
		if v, ok := m[k]; ok {
			return num(v)
		}
		return "—"
	},
	"join": strings.Join,
	"half": func(n int) int { return n / 2 },
	"add":  func(a, b float64) float64 { return a + b },
	"yes": func(b bool, y, n string) string {
		if b {
			return y
		}
		return n
	},
}

var page = template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>dv report: {{.Model}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:0 0 10px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 18px;margin:16px 0}
.sub{color:#57606a}.none{color:#8c959f;font-style:italic}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #eaeef2;text-align:left;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.tag{display:inline-block;border-radius:10px;padding:0 7px;font-size:12px;background:#ddf4ff;color:#0969da;margin-right:3px}
.charts{display:flex;flex-wrap:wrap;gap:18px}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
.node rect{fill:#fff;stroke:#8c959f;stroke-width:1.2;rx:6}
.node.dataset rect{fill:#ddf4ff;stroke:#54aeff}.node.labels rect{fill:#fff8c5;stroke:#d4a72c}
.node.import rect{fill:#f6f8fa;stroke:#8c959f}.node.run rect{fill:#fbefff;stroke:#c297ff}
.node.model rect{fill:#dafbe1;stroke:#4ac26b}.node.holder rect{stroke:#1a7f37;stroke-width:3}
.node text.t{font-weight:600;fill:#1f2328;font-size:12px}
.edge{fill:none;stroke:#8c959f;stroke-width:1.3}.edge.previous{stroke-dasharray:4 3}
.axis{stroke:#8c959f}.grid{stroke:#eaeef2}
.line{fill:none;stroke-width:2}.s0{stroke:#0969da;fill:#0969da}.s1{stroke:#bf3989;fill:#bf3989}.s2{stroke:#1a7f37;fill:#1a7f37}
.s3{stroke:#9a6700;fill:#9a6700}.s4{stroke:#8250df;fill:#8250df}.s5{stroke:#cf222e;fill:#cf222e}
path.line.s0,path.line.s1,path.line.s2,path.line.s3,path.line.s4,path.line.s5{fill:none}
.threshold{stroke:#cf222e;stroke-dasharray:6 4;stroke-width:1.5}text.threshold-label{fill:#cf222e}
.holder-mark{fill:none;stroke:#1a7f37;stroke-width:2}
.d-promoted{fill:#1a7f37}.d-rejected{fill:#cf222e}.d-rolled-back,.d-rollback{fill:#bc4c00}.d-forced{fill:#8250df}
.yes{color:#cf222e;font-weight:600}.no{color:#1a7f37}
.bar{fill:#54aeff}.bar.drift{fill:#ff8182}.mark{stroke:#1f2328;stroke-width:2}
.legend span{margin-right:12px;font-size:12px}
figcaption span.s0{color:#0969da}figcaption span.s1{color:#bf3989}figcaption span.s2{color:#1a7f37}
figcaption span.s3{color:#9a6700}figcaption span.s4{color:#8250df}figcaption span.s5{color:#cf222e}
</style>
</head>
<body>
<main>
<header>
<h1>{{.Model}}{{if .Holder}} <span class="tag">{{.Alias}}: {{.Holder}}</span>{{end}}</h1>
<p class="sub">{{if .Project}}project {{.Project}} · {{end}}report written by dv at {{.GeneratedText}}</p>
{{if .Goal}}<p><strong>Goal.</strong> {{.Goal}}</p>{{end}}
{{if .KPI}}<p><strong>KPI.</strong> {{.KPI}} ({{yes .KPIHigher "higher" "lower"}} is better){{if .Primary}} · <strong>primary metric</strong> {{.Primary}}{{end}}</p>{{end}}
{{range .Notes}}<p class="none">{{.}}</p>{{end}}
</header>

<section id="lineage-section">
<h2>Lineage of {{if .Holder}}{{.Model}}@{{.Alias}} ({{.Holder}}){{else}}the latest version of {{.Model}}{{end}}</h2>
{{with .Lineage}}
<p class="legend sub"><span>data flows top to bottom: sources and data → runs → model</span><span>dashed: an earlier version</span></p>
<div class="scroll">
<svg id="lineage" class="graph" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" style="max-width:100%;height:auto" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="lineage graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>
{{range .Edges}}{{if .Path}}<path class="edge {{.Label}}" d="{{.Path}}" marker-end="url(#arrow)"><title>{{.Label}}</title></path>
{{end}}{{end}}
{{range .Nodes}}<g class="node {{.Type}}{{if .Holder}} holder{{end}}" data-id="{{.ID}}" transform="translate({{.X}},{{.Y}})">
<title>{{.Type}} {{.Title}} ({{.ID}})</title>
<rect width="210" height="64" rx="6"></rect>
<text class="t" x="10" y="18">{{.Type}} · {{clip .Title 24}}</text>
{{range $i, $l := .Lines}}<text x="10" y="{{if eq $i 0}}35{{else}}51{{end}}">{{clip $l 32}}</text>
{{end}}</g>
{{end}}
</svg>
</div>
{{else}}<p class="none">none yet: no version of {{.Model}} is recorded</p>{{end}}
</section>

<section id="metrics-section">
<h2>Metrics across versions</h2>
{{if .MetricCharts}}
<div class="charts">
{{range .MetricCharts}}{{template "chart" .}}{{end}}
</div>
<div class="scroll"><table id="versions">
<thead><tr><th>version</th><th>trained</th><th>commit</th><th>params</th>{{range $.MetricNames}}<th>{{.}}</th>{{end}}{{range $.SliceNames}}<th>{{$.SliceMetric}} {{.}}</th>{{end}}<th>aliases</th></tr></thead>
<tbody>
{{range .Versions}}{{$v := .}}<tr><td>{{.Name}}</td><td>{{when .Time}}</td><td>{{short .Commit}}</td><td>{{clip .Run 40}}</td>
{{range $.MetricNames}}<td class="n">{{metric $v.Metrics .}}</td>{{end}}
{{range $.SliceNames}}<td class="n">{{metric $v.Metrics (printf "slices.%s.%s" . $.SliceMetric)}}</td>{{end}}
<td>{{range .Aliases}}<span class="tag">{{.}}</span>{{end}}</td></tr>
{{end}}</tbody></table></div>
{{else}}<p class="none">none yet: no version has metrics</p>{{end}}
</section>

<section id="aliases-section">
<h2>Alias history</h2>
{{with .Timeline}}
<div class="scroll">
<svg id="timeline" class="timeline" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="alias timeline">
<line class="axis" x1="20" y1="60" x2="{{.Width}}" y2="60"></line>
{{range .Events}}<g class="event">
<title>{{when .Time}} {{.Alias}}: {{.Decision}} {{.Label}}{{if .Who}} by {{.Who}}{{end}}{{if .Reason}}: {{.Reason}}{{end}}</title>
<circle class="{{.Class}}" cx="{{.X}}" cy="60" r="8"></circle>
<text x="{{.X}}" y="{{.LabelY}}" text-anchor="middle">{{clip .Label 18}}</text>
<text x="{{.X}}" y="{{add .TimeY -4}}" text-anchor="middle">{{clip .Decision 16}}</text>
<text x="{{.X}}" y="{{add .TimeY 12}}" text-anchor="middle">{{day .Time}}</text>
</g>
{{end}}</svg></div>
<div class="scroll"><table id="events"><thead><tr><th>time</th><th>alias</th><th>decision</th><th>from</th><th>to</th><th>who</th><th>reason</th></tr></thead><tbody>
{{range .Events}}<tr><td>{{when .Time}}</td><td>{{.Alias}}</td><td>{{.Decision}}</td><td>{{.From}}</td><td>{{.To}}</td><td>{{.Who}}</td><td>{{clip .Reason 90}}</td></tr>
{{end}}</tbody></table></div>
{{else}}<p class="none">none yet: no alias of {{.Model}} has moved</p>{{end}}
</section>

<section id="drift-section">
<h2>Latest drift check</h2>
{{with .Drift}}
<p class="sub">{{when .Time}} · reference {{.Reference}} · current {{.Current}} · {{if .Drifted}}<span class="yes">the data drifted</span>{{else}}<span class="no">no drift</span>{{end}}</p>
<div class="scroll"><table id="drift"><thead><tr><th>column</th><th>type</th><th>method</th><th>score</th><th>threshold</th><th></th><th>drift</th></tr></thead><tbody>
{{range $.DriftRows}}<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Method}}</td><td class="n">{{num .Statistic}}</td><td class="n">{{num .Threshold}}</td>
<td><svg class="driftbar" width="166" height="14" viewBox="0 0 166 14"><rect class="bar{{if .Drift}} drift{{end}}" x="0" y="2" width="{{.Bar}}" height="10"></rect><line class="mark" x1="{{.Mark}}" y1="0" x2="{{.Mark}}" y2="14"></line></svg></td>
<td>{{if .Drift}}<span class="yes">yes</span>{{else}}<span class="no">no</span>{{end}}</td></tr>
{{end}}</tbody></table></div>
{{else}}<p class="none">none yet: no drift check is recorded</p>{{end}}
</section>

<section id="production-section">
<h2>Production metrics</h2>
{{if .ProdCharts}}<div class="charts">{{range .ProdCharts}}{{template "chart" .}}{{end}}</div>
{{else}}<p class="none">none yet: no metrics from production are recorded (dv metrics log)</p>{{end}}
</section>
</main>
</body>
</html>
{{define "chart"}}<figure style="margin:0">
<svg id="{{.ID}}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
{{$c := .}}{{range .YTicks}}<line class="grid" x1="{{$c.X0}}" y1="{{.Pos}}" x2="{{$c.X1}}" y2="{{.Pos}}"></line><text x="{{add $c.X0 -6}}" y="{{add .Pos 4}}" text-anchor="end">{{.Label}}</text>
{{end}}<line class="axis" x1="{{.X0}}" y1="{{.Y1}}" x2="{{.X1}}" y2="{{.Y1}}"></line>
{{range .XTicks}}<text x="{{.Pos}}" y="{{add $c.Y1 16}}" text-anchor="middle">{{clip .Label 12}}</text>
{{end}}{{with .Threshold}}<line class="threshold" x1="{{$c.X0}}" y1="{{.Y}}" x2="{{$c.X1}}" y2="{{.Y}}"></line><text class="threshold-label" x="{{$c.X1}}" y="{{add .Y -5}}" text-anchor="end">{{.Label}}</text>
{{end}}{{range .Series}}{{$s := .}}<path class="line {{.Class}}" d="{{.Path}}"></path>
{{range .Points}}<circle class="{{$s.Class}}" cx="{{.X}}" cy="{{.Y}}" r="{{if .Mark}}5{{else}}3.5{{end}}"><title>{{.Label}}</title></circle>{{if .Mark}}<circle class="holder-mark" cx="{{.X}}" cy="{{.Y}}" r="9"></circle>{{end}}
{{end}}{{end}}</svg>
<figcaption class="sub">{{.Title}}{{if gt (len .Series) 1}}: {{range $i, $s := .Series}}{{if $i}}, {{end}}<span class="{{.Class}}">{{.Name}}</span>{{end}}{{end}}</figcaption>
</figure>{{end}}
`
