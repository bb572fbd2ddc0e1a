//! The library's import graph: each top-level module of `src/` is one layer, and a module may
//! use only its own layer and the layers below; no two files use each other, directly or in a
//! circle. A module's layer is where it lives (its first path segment), so the only table is
//! the order below; docs/architecture.md describes the same layers in the same order (checked
//! here). Read from the source, since Rust itself allows any module to use any other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom to top: `src/<layer>` (a folder, or one file for a layer of one module).
const LAYERS: &[&str] = &[
    "foundation",
    "domain",
    "edge",
    "store",
    "app",
    "features",
    "gate",
    "handlers",
    "runtime",
];

fn layer_of(top: &str) -> usize {
    LAYERS.iter().position(|layer| *layer == top).unwrap_or_else(|| {
        panic!("src/{top} is no layer: a module lives inside one (or add it to LAYERS and docs/architecture.md)")
    })
}

/// Every source file as its module path (`store::clients`), with its text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.to_vec();
                if name != "mod" && name != "lib" {
                    module.push(name);
                }
                out.insert(module.join("::"), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut out,
    );
    out
}

/// The modules `text` (the file of `module`) names through `crate::…` or `super::…` paths,
/// resolved to the longest known module path.
fn uses(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent: Vec<&str> = {
        let mut parts: Vec<&str> = module.split("::").collect();
        parts.pop();
        parts
    };
    let mut out = BTreeSet::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        for (at, _) in text.match_indices(prefix) {
            if at > 0 && text.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let rest = &text[at + prefix.len()..];
            let path: Vec<&str> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut full: Vec<&str> = base.clone();
            full.extend(path);
            // The longest prefix that is a module (an item's path ends in its module).
            while !full.is_empty() && !known.contains(&full.join("::")) {
                full.pop();
            }
            // `super::x` naming an item of the parent module is a use of the parent.
            let target = if full.is_empty() {
                base.join("::")
            } else {
                full.join("::")
            };
            if !target.is_empty() && target != module {
                out.insert(target);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .filter(|(module, _)| !module.is_empty())
        .map(|(module, text)| (module.clone(), uses(module, text, &known)))
        .collect()
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (module, used) in graph() {
        for target in used {
            if layer_of(top(&target)) > layer_of(top(&module)) {
                upward.push(format!(
                    "{module} ({}) uses {target} ({})",
                    LAYERS[layer_of(top(&module))],
                    LAYERS[layer_of(top(&target))]
                ));
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

/// A circle in `graph`, if there is one: depth-first, a node met again while still on the
/// path closes it.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            circle.push(node.to_string());
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_files_use_each_other_in_a_circle() {
    if let Some(circle) = find_circle(&graph()) {
        panic!("a circle: {}", circle.join(" -> "));
    }
}

#[test]
fn the_checker_sees_an_upward_use_and_a_circle() {
    let known: BTreeSet<String> = ["store", "store::clients", "store::grants", "app"]
        .into_iter()
        .map(String::from)
        .collect();
    let used = uses(
        "store::grants",
        "use super::clients::client_pk;\nuse crate::app::AppState;\nuse super::dynamo_error;",
        &known,
    );
    assert_eq!(
        used,
        BTreeSet::from(["store::clients".into(), "app".into(), "store".into()])
    );
    assert!(layer_of("app") > layer_of("store"));
    let circle: BTreeMap<String, BTreeSet<String>> = [
        ("store::clients", "store::grants"),
        ("store::grants", "store::schema"),
        ("store::schema", "store::clients"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
    .collect();
    assert_eq!(find_circle(&circle).map(|c| c.len()), Some(4));
    let mut line = circle.clone();
    line.remove("store::schema");
    assert_eq!(find_circle(&line), None);
}

#[test]
fn every_top_level_module_is_a_layer_and_every_layer_is_there() {
    let tops: BTreeSet<String> = graph().keys().map(|m| top(m).to_string()).collect();
    let layers: BTreeSet<String> = LAYERS.iter().map(|l| l.to_string()).collect();
    assert_eq!(tops, layers, "src/ holds exactly the layers");
}

#[test]
fn the_architecture_doc_lists_the_layers_in_their_order() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md"),
    )
    .unwrap();
    // Its table is top to bottom: `| layer | … |` rows whose first cell is a layer's name.
    let listed: Vec<&str> = doc
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .filter(|cell| LAYERS.contains(cell))
        .collect();
    let mut top_down = LAYERS.to_vec();
    top_down.reverse();
    assert_eq!(listed, top_down, "docs/architecture.md's layer table");
}
