//! `/`: a page listing every endpoint with an example, and `/openapi.json`.

use axum::Json;
use axum::response::Html;

use crate::spec::{ENDPOINTS, openapi as openapi_doc};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub async fn page() -> Html<String> {
    let mut rows = String::new();
    for e in ENDPOINTS {
        let params: Vec<String> = e
            .params
            .iter()
            .map(|p| if p.required { format!("<b>{}</b>", p.name) } else { p.name.to_owned() })
            .collect();
        rows.push_str(&format!(
            "<tr><td><code>{nsid}</code></td><td>{desc}</td><td>{params}</td><td><a href=\"{ex}\"><code>{ex}</code></a></td></tr>\n",
            nsid = e.nsid,
            desc = escape(e.description),
            params = params.join(", "),
            ex = escape(e.example),
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>reprise API</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:80rem}}td,th{{padding:.3rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}}code{{font-size:13px}}</style>
</head><body><h1>reprise</h1>
<p>A read API over plyr.fm and teal.fm records on the AT Protocol. All endpoints are <code>GET</code>, answer JSON,
page with an opaque <code>cursor</code> (absent on the last page) and take <code>limit</code> 1..100 (default 50);
<code>actor</code> is a DID or a handle. Errors are <code>{{\"error\", \"message\"}}</code>. Machine-readable:
<a href=\"/openapi.json\">/openapi.json</a>. Also <a href=\"/health\">/health</a> and <a href=\"/metrics\">/metrics</a>.</p>
<table><tr><th>query</th><th>what</th><th>parameters (required in bold)</th><th>example</th></tr>
{rows}</table></body></html>"
    ))
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_doc())
}
