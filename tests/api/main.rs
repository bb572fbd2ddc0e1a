//! The integration suite, as one test binary (one link of the whole dev stack, not seven).
//!
//! Outside `internals/`, each module is black-box: it drives the API over HTTP as a connector
//! would, and the platform's side (publishing invoices, reading what was stored) through the
//! named `TestStack` steps in `ledgerdock_tests` (the `support/` folder). It may name the API's
//! vocabulary (`domain`), the route table and documented limits, but no store, feature or
//! function state ([`black_box_reaches`] checks). `internals/` drives those directly.
//!
//! `sam_local` needs Docker and is `#[ignore]`d here; CI runs it as its own step with
//! `cargo test -p ledgerdock-tests --test api -- --ignored sam_local`.

mod auth_and_errors;
mod bulk;
mod claims;
mod dev_stack;
mod events;
mod export;
mod history;
mod imports;
mod internals;
mod master_data;
mod reference_connector;
mod runtime_emulator;
mod sam_local;
mod tenancy_and_limits;
mod webhook_recovery;
mod webhooks;

/// What a black-box test file reaches past the API and the stack's steps, one line each:
/// a path into the library's stores, features, container or runtime (other than an
/// UPPER_CASE constant, a documented limit), the gate's `serve`, an `AppState`, a function's
/// own state, or the stack's adapters (its `config` aside).
fn black_box_reaches(text: &str) -> Vec<String> {
    const INTERNAL: [&str; 4] = ["store", "features", "app", "runtime"];
    // A chain rustfmt broke over lines (`t.stack\n    .app\n    .grants`) is read as one line,
    // numbered where it starts.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        match lines.last_mut() {
            Some((_, joined)) if line.trim_start().starts_with('.') => joined.push_str(line.trim()),
            _ => lines.push((number, line.to_string())),
        }
    }
    let mut found = Vec::new();
    for (number, line) in &lines {
        let line = line.as_str();
        let mut say =
            |what: &str| found.push(format!("line {}: {what}: {}", number + 1, line.trim()));
        for (at, _) in line.match_indices("ledgerdock_shared::") {
            let path: Vec<&str> = line[at + "ledgerdock_shared::".len()..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let constant = path.last().is_some_and(|leaf| {
                leaf.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            });
            if path.first().is_some_and(|top| INTERNAL.contains(top)) && !constant {
                say("a library internal");
            }
        }
        for marker in ["gate::serve", "AppState", "functions.of("] {
            if line.contains(marker) {
                say(marker);
            }
        }
        for (at, _) in line.match_indices("stack.app.") {
            if !line[at + "stack.app.".len()..].starts_with("config") {
                say("the stack's adapters");
            }
        }
    }
    found
}

#[test]
fn the_black_box_suite_reaches_only_the_api_and_the_stack() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api");
    let mut reaches = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for reach in black_box_reaches(&text) {
                reaches.push(format!("{}: {reach}", path.display()));
            }
        }
    }
    assert!(
        reaches.is_empty(),
        "move these tests to internals/, or give TestStack a step:\n{}",
        reaches.join("\n")
    );
}

#[test]
fn the_black_box_check_sees_each_kind_of_reach() {
    for (line, seen) in [
        (
            "use ledgerdock_shared::store::invoices::InvoiceStore;",
            true,
        ),
        (
            "use ledgerdock_shared::features::publish::{Publisher, SoftCopy};",
            true,
        ),
        ("let app = &t.stack.functions.of(\"get-invoice\");", true),
        ("t.stack.app.invoices.header(c, i)", true),
        ("serve(&local, list, event)", false),
        ("use ledgerdock_shared::gate::serve;", true),
        (
            "use ledgerdock_shared::features::imports::MAX_RECORDS;",
            false,
        ),
        ("use ledgerdock_shared::domain::{InvoiceId, Scope};", false),
        ("json!(t.stack.app.config.bucket_name)", false),
        (
            "t.stack\n        .app\n        .grants\n        .put(c, a, s)",
            true,
        ),
    ] {
        assert_eq!(!black_box_reaches(line).is_empty(), seen, "{line}");
    }
}
