//! Keeps the layering of `src/` true (docs/architecture.md, "Layers"): it reads every module's
//! `crate::…` and `super::…` paths and fails on an edge the architecture forbids or on a cycle.
//! Real: the source tree as it is. Nothing is emulated; no build of the crate is inspected.
//!
//! The layers, bottom to top (an edge may only point to the same layer or a lower one):
//! - 0 core: `domain` (colors, weights, schedules, the machine, verdicts, the spec, the ports)
//!   and `exit` (the exit-code constants). Imports nothing else of the crate, no tokio, no SDK.
//! - 1 adapters: `aws`, `iac`, `state`, `artifact`, `health`, `config`, `contract`, `input`,
//!   `workdir`, `report`, `cli` (the command line is the driving adapter).
//! - 2 application: `flow::*` and `error` (the one error → exit-code map).
//! - 3 commands: `commands::*`. A command never imports another command; the dispatcher
//!   (`commands/mod.rs`) imports them all.
//!
//! Cycles are refused between units: a core or adapter module as a whole, each `flow` file, each
//! command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("exit", 0),
    ("aws", 1),
    ("iac", 1),
    ("state", 1),
    ("artifact", 1),
    ("canonical", 1),
    ("health", 1),
    ("config", 1),
    ("contract", 1),
    ("input", 1),
    ("workdir", 1),
    ("report", 1),
    ("cli", 1),
    ("flow", 2),
    ("error", 2),
    ("commands", 3),
];

/// What the core must not name: the async runtime and the SDK.
const CORE_FORBIDDEN: &[&str] = &["tokio::", "aws_sdk_", "aws_config", "aws_smithy", "reqwest"];

fn layer_of(top: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == top).map(|(_, l)| *l)
}

/// The unit a module path belongs to: `flow::drive`, `commands::deploy`, or a top module.
fn unit(path: &[String]) -> String {
    match path {
        [top, sub, ..] if top == "flow" || top == "commands" => format!("{top}::{sub}"),
        [top, ..] => top.clone(),
        [] => "crate".into(),
    }
}

/// Module path of a source file: `src/flow/drive.rs` → `[flow, drive]`, `src/aws/mod.rs` →
/// `[aws]`, `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code without comments (line comments, doc comments, block comments) and string contents,
/// so a path named in prose is not an edge.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // a char literal like '"' or '{'
            out.push_str("' '");
            i += 3;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every module path the code names through `crate::` or `super::`, expanded through `use`
/// groups (`use crate::{a::b, c::{d, e}}`), as absolute module paths (item names included; the
/// unit is taken from the first segments).
fn referenced(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let prev_colon = i > 1 && chars[i - 1] == ':' && chars[i - 2] == ':';
        if !prev_ident
            && !prev_colon
            && (rest.starts_with("crate::") || rest.starts_with("super::"))
        {
            let (paths, end) = parse_tree(&chars, i);
            for p in paths {
                if let Some(abs) = absolute(&p, module) {
                    out.push(abs);
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Parses a path starting at `i` (`a::b::{c, d::e}`), returns every full path and where it ended.
fn parse_tree(chars: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i > start {
            prefix.push(chars[start..i].iter().collect::<String>());
        }
        if i + 1 < chars.len() && chars[i] == ':' && chars[i + 1] == ':' {
            i += 2;
            if chars.get(i) == Some(&'{') {
                i += 1;
                let mut all = Vec::new();
                loop {
                    while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                        i += 1;
                    }
                    if i >= chars.len() || chars[i] == '}' {
                        i += 1;
                        break;
                    }
                    let (sub, end) = parse_tree(chars, i);
                    for s in sub {
                        let mut p = prefix.clone();
                        p.extend(s);
                        all.push(p);
                    }
                    // skip an `as alias`
                    i = end;
                    while i < chars.len() && chars[i] != ',' && chars[i] != '}' {
                        i += 1;
                    }
                }
                return (all, i);
            }
            if chars.get(i) == Some(&'*') {
                return (vec![prefix], i + 1);
            }
            continue;
        }
        return (vec![prefix], i);
    }
}

/// `crate::a::b` → `[a, b]`; `super::x` from `[flow, drive]` → `[flow, x]`.
fn absolute(path: &[String], module: &[String]) -> Option<Vec<String>> {
    let mut segs = path.iter();
    let first = segs.next()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "super" => {
            // `module_of` already dropped `mod`: a file's parent is one segment up either way.
            let mut m = module.to_vec();
            m.pop();
            m
        }
        _ => return None,
    };
    for s in segs {
        if s == "super" {
            base.pop();
        } else if s == "self" {
            continue;
        } else {
            base.push(s.clone());
        }
    }
    Some(base)
}

#[derive(Debug, Default)]
struct Findings {
    forbidden: Vec<String>,
    cycles: Vec<String>,
    /// Every edge between units that was seen.
    edges: BTreeMap<String, BTreeSet<String>>,
}

/// Checks a set of `(file, module path, text)`.
fn check(files: &[(PathBuf, Vec<String>, String)]) -> Findings {
    let mut findings = Findings::default();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, module, text) in files {
        let code = code_only(text);
        let from_top = module.first().cloned().unwrap_or_default();
        let from_unit = unit(module);
        if from_top == "domain" {
            for bad in CORE_FORBIDDEN {
                if code.contains(bad) {
                    findings.forbidden.push(format!(
                        "{}: the core names `{bad}` (no tokio or SDK type in the core)",
                        file.display()
                    ));
                }
            }
        }
        let Some(from_layer) = layer_of(&from_top) else {
            continue; // lib.rs, main.rs
        };
        for target in referenced(&code, module) {
            let Some(to_top) = target.first() else {
                continue;
            };
            let Some(to_layer) = layer_of(to_top) else {
                continue;
            };
            let to_unit = unit(&target);
            if to_unit == from_unit {
                continue;
            }
            let edge = format!(
                "{}: {from_unit} → {to_unit} (`{}`)",
                file.display(),
                target.join("::")
            );
            if to_layer > from_layer {
                findings.forbidden.push(format!(
                    "{edge}: layer {from_layer} may not depend on layer {to_layer}"
                ));
            }
            let command = |u: &str| u.starts_with("commands::");
            if command(&from_unit) && command(&to_unit) {
                findings
                    .forbidden
                    .push(format!("{edge}: a command never imports another command"));
            }
            graph.entry(from_unit.clone()).or_default().insert(to_unit);
        }
    }
    findings.cycles = cycles(&graph);
    findings.edges = graph;
    findings
}

/// Every cycle of the unit graph, as `a → b → a` (one per strongly connected component).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    let nodes: Vec<&String> = graph.keys().collect();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for start in nodes {
        if reported.contains(start) {
            continue;
        }
        // A path back to `start`, found by depth-first search.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut p = path.clone();
                    p.push(start.clone());
                    reported.extend(p.iter().cloned());
                    out.push(p.join(" → "));
                    stack.clear();
                    break;
                }
                if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    out
}

fn sources(src: &Path) -> Vec<(PathBuf, Vec<String>, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let module = module_of(src, &path);
                files.push((path, module, text));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn dependencies_point_one_way_and_never_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&src);
    assert!(
        files.len() > 50,
        "read only {} files under src/",
        files.len()
    );
    let findings = check(&files);
    // The reader sees the edges that are there (else it would pass on anything).
    for (from, to) in [
        ("commands::deploy", "flow::run"),
        ("flow::drive", "domain"),
        ("aws", "domain"),
        ("commands::status", "flow::context"),
    ] {
        assert!(
            findings.edges.get(from).is_some_and(|t| t.contains(to)),
            "expected an edge {from} → {to}; seen: {:?}",
            findings.edges.get(from)
        );
    }
    assert!(
        findings.forbidden.is_empty() && findings.cycles.is_empty(),
        "the layering of src/ is broken (docs/architecture.md, \"Layers\"):\n{}\n{}",
        findings.forbidden.join("\n"),
        findings
            .cycles
            .iter()
            .map(|c| format!("cycle: {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every top module under `src/` has a layer: a new module must be placed on purpose.
#[test]
fn every_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let unplaced: BTreeSet<String> = sources(&src)
        .into_iter()
        .filter_map(|(_, m, _)| m.first().cloned())
        .filter(|top| layer_of(top).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer (add them to LAYERS in tests/layering.rs and to docs/architecture.md): {unplaced:?}"
    );
}

fn file(path: &str, text: &str) -> (PathBuf, Vec<String>, String) {
    let src = Path::new("src");
    let p = src.join(path);
    (p.clone(), module_of(src, &p), text.to_string())
}

/// The checker itself can fail: each forbidden kind of edge is caught.
#[test]
fn the_checker_catches_each_forbidden_edge() {
    let core_to_adapter = check(&[file("domain/machine.rs", "use crate::aws::Traffic;\n")]);
    assert_eq!(core_to_adapter.forbidden.len(), 1, "{core_to_adapter:?}");
    let core_tokio = check(&[file(
        "domain/machine.rs",
        "fn f() { tokio::time::sleep(d); }\n",
    )]);
    assert_eq!(core_tokio.forbidden.len(), 1, "{core_tokio:?}");
    let adapter_to_flow = check(&[file(
        "state/mod.rs",
        "use crate::{domain::color::Color, flow::session::Session};\n",
    )]);
    assert_eq!(adapter_to_flow.forbidden.len(), 1, "{adapter_to_flow:?}");
    let command_to_command = check(&[file(
        "commands/apply.rs",
        "fn f() { super::deploy::run(); }\n",
    )]);
    assert_eq!(
        command_to_command.forbidden.len(),
        1,
        "{command_to_command:?}"
    );
    let cycle = check(&[
        file("flow/a.rs", "use crate::flow::b::X;\n"),
        file("flow/b.rs", "use super::a::Y;\n"),
    ]);
    assert_eq!(cycle.cycles.len(), 1, "{cycle:?}");
    // Allowed: prose, strings, the dispatcher, a command's own child, and going down.
    let fine = check(&[
        file(
            "domain/machine.rs",
            "//! see crate::flow::drive\nconst S: &str = \"crate::aws\";\n",
        ),
        file(
            "commands/mod.rs",
            "mod deploy;\nuse crate::commands::deploy::run;\nfn f() { deploy::run(); }\n",
        ),
        file("commands/status/human.rs", "use super::Status;\n"),
        file(
            "flow/drive.rs",
            "use crate::{aws::Traffic, domain::{Machine, color::Color}};\n",
        ),
    ]);
    assert!(
        fine.forbidden.is_empty() && fine.cycles.is_empty(),
        "{fine:?}"
    );
}
