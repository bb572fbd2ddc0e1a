//! The API reference as one HTML page, rendered from the OpenAPI document the stack serves
//! (`GET /docs`): every operation with its scope, parameters, body and answers, then every
//! schema with its fields. Nothing is fetched from elsewhere (no script, no CDN, no font), so it
//! reads offline; the document stays the one source, and this page cannot drift from it.

use serde_json::Value;

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A description: paragraphs split on blank lines, `code` spans kept as code.
fn prose(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|paragraph| {
            let escaped = escape(paragraph.trim());
            let mut html = String::new();
            for (i, part) in escaped.split('`').enumerate() {
                if i % 2 == 1 {
                    html.push_str(&format!("<code>{part}</code>"));
                } else {
                    html.push_str(part);
                }
            }
            format!("<p>{html}</p>")
        })
        .collect()
}

/// The name a `$ref` points at (`#/components/schemas/Invoice` → `Invoice`).
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// Follows a `$ref` into the document's components, once.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let mut target = doc;
            for segment in reference.trim_start_matches("#/").split('/') {
                target = &target[segment];
            }
            target
        }
        None => value,
    }
}

/// A schema's type in a few words, linking named schemas to their section.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = escape(ref_name(reference));
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", type_of(items));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[combinator].as_array() {
            let parts: Vec<String> = options.iter().map(type_of).collect();
            return parts.join(if combinator == "allOf" {
                " and "
            } else {
                " or "
            });
        }
    }
    let mut kind = match &schema["type"] {
        Value::String(t) => escape(t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .map(escape)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    if let Some(values) = schema["enum"].as_array() {
        let listed: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&v.to_string())))
            .collect();
        kind.push_str(&format!(": {}", listed.join(", ")));
    }
    if let Some(format) = schema["format"].as_str() {
        kind.push_str(&format!(" ({})", escape(format)));
    }
    kind
}

/// An HTML table: a header row of `headers`, then `rows`, each a list of cells already HTML.
fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let head: String = headers.iter().map(|h| format!("<th>{h}</th>")).collect();
    let body: String = rows
        .map(|cells| {
            let cells: String = cells.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    format!("<table><tr>{head}</tr>{body}</table>")
}

fn yes_no(yes: bool) -> String {
    if yes { "yes" } else { "no" }.to_string()
}

fn parameters(doc: &Value, operation: &Value) -> String {
    let Some(listed) = operation["parameters"].as_array() else {
        return String::new();
    };
    let rows = listed.iter().map(|p| resolve(doc, p)).map(|p| {
        vec![
            format!(
                "<code>{}</code>",
                escape(p["name"].as_str().unwrap_or_default())
            ),
            escape(p["in"].as_str().unwrap_or_default()),
            yes_no(p["required"].as_bool() == Some(true)),
            type_of(&p["schema"]),
            prose(p["description"].as_str().unwrap_or_default()),
        ]
    });
    format!(
        "<h4>Parameters</h4>{}",
        table(&["name", "in", "required", "type", "description"], rows)
    )
}

fn body_schema(doc: &Value, content: &Value) -> String {
    content
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media, body)| {
            let body = resolve(doc, body);
            format!(
                "<code>{}</code> {}",
                escape(media),
                type_of(&body["schema"])
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn operation_html(doc: &Value, method: &str, path: &str, operation: &Value) -> String {
    let id = escape(operation["operationId"].as_str().unwrap_or(path));
    let scopes: Vec<String> = operation["security"][0]["clientCredentials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| format!("<code>{}</code>", escape(s)))
        .collect();
    let mut html = format!(
        "<section id=\"op-{id}\"><h3><span class=\"method\">{}</span> <code>{}</code></h3><p class=\"summary\">{}</p>",
        escape(&method.to_uppercase()),
        escape(path),
        escape(operation["summary"].as_str().unwrap_or_default()),
    );
    if !scopes.is_empty() {
        html.push_str(&format!("<p>Scope: {}</p>", scopes.join(", ")));
    }
    html.push_str(&prose(
        operation["description"].as_str().unwrap_or_default(),
    ));
    html.push_str(&parameters(doc, operation));
    let request = resolve(doc, &operation["requestBody"]);
    if !request.is_null() {
        html.push_str(&format!(
            "<h4>Body</h4><p>{}{}</p>",
            if request["required"].as_bool() == Some(true) {
                ""
            } else {
                "(optional) "
            },
            body_schema(doc, &request["content"])
        ));
        html.push_str(&prose(request["description"].as_str().unwrap_or_default()));
    }
    let rows = operation["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, response)| {
            let response = resolve(doc, response);
            vec![
                escape(status),
                prose(response["description"].as_str().unwrap_or_default()),
                body_schema(doc, &response["content"]),
            ]
        });
    html.push_str(&format!(
        "<h4>Answers</h4>{}</section>",
        table(&["status", "meaning", "body"], rows)
    ));
    html
}

fn schema_html(name: &str, schema: &Value) -> String {
    let name = escape(name);
    let mut html = format!(
        "<section id=\"schema-{name}\"><h3>{name}</h3><p>{}</p>",
        type_of(&schema_without_description(schema))
    );
    html.push_str(&prose(schema["description"].as_str().unwrap_or_default()));
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(properties) = schema["properties"].as_object() {
        let rows = properties.iter().map(|(field, property)| {
            vec![
                format!("<code>{}</code>", escape(field)),
                type_of(property),
                yes_no(required.contains(&field.as_str())),
                prose(property["description"].as_str().unwrap_or_default()),
            ]
        });
        html.push_str(&table(&["field", "type", "required", "description"], rows));
    }
    html.push_str("</section>");
    html
}

/// A schema's own type line: an object says "object", whatever its description says.
fn schema_without_description(schema: &Value) -> Value {
    let mut copy = schema.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("description");
        map.remove("properties");
    }
    copy
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1d1d1f}\
code{font-family:ui-monospace,monospace;background:#f3f3f5;padding:0 .2em;border-radius:3px}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
td p{margin:0}section{border-top:1px solid #eee;padding-top:.5rem}.method{font-weight:700;color:#0a5}nav li{margin:.1rem 0}";

/// The whole page.
pub fn render(doc: &Value) -> String {
    let title = escape(doc["info"]["title"].as_str().unwrap_or("API"));
    let mut operations = String::new();
    let mut index = String::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let id = escape(operation["operationId"].as_str().unwrap_or(path));
            index.push_str(&format!(
                "<li><a href=\"#op-{id}\"><span class=\"method\">{}</span> <code>{}</code></a> {}</li>",
                escape(&method.to_uppercase()),
                escape(path),
                escape(operation["summary"].as_str().unwrap_or_default())
            ));
            operations.push_str(&operation_html(doc, method, path, operation));
        }
    }
    let schemas: String = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| schema_html(name, schema))
        .collect();
    let token_url = escape(
        doc["components"]["securitySchemes"]["clientCredentials"]["flows"]["clientCredentials"]
            ["tokenUrl"]
            .as_str()
            .unwrap_or_default(),
    );
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>\
<h1>{title} <small>{}</small></h1>{}\
<p>Token URL (OAuth2 client credentials): <code>{token_url}</code>. The machine-readable document: <a href=\"/openapi.json\"><code>/openapi.json</code></a>.</p>\
<h2>Operations</h2><nav><ul>{index}</ul></nav>{operations}<h2>Schemas</h2>{schemas}</body></html>",
        escape(doc["info"]["version"].as_str().unwrap_or_default()),
        prose(doc["info"]["description"].as_str().unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_every_operation_and_schema_of_the_document_and_fetches_nothing() {
        let doc = super::super::openapi::document(
            "http://127.0.0.1:3000",
            "http://127.0.0.1:3000/oauth2/token",
        )
        .unwrap();
        let page = render(&doc);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(page.contains(&format!("id=\"op-{id}\"")), "{method} {path}");
                assert!(
                    page.contains(&format!("<code>{}</code></h3>", escape(path))),
                    "{path}"
                );
            }
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(page.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
        // Every link inside the page lands on a section of it.
        for anchor in page.split("href=\"#").skip(1) {
            let target = &anchor[..anchor.find('"').unwrap()];
            assert!(
                page.contains(&format!("id=\"{target}\"")),
                "#{target} goes nowhere"
            );
        }
        for external in ["<script", "<link", "src=", "@import", "url("] {
            assert!(
                !page.contains(external),
                "the page fetches something: {external}"
            );
        }
    }

    #[test]
    fn text_from_the_document_is_escaped() {
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(
            prose("a `<x>` b\n\nc"),
            "<p>a <code>&lt;x&gt;</code> b</p><p>c</p>"
        );
    }
}
