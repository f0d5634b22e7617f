//! The documentation that is an interface (exit codes) must match the code.

use std::collections::BTreeMap;

#[test]
fn exit_codes_doc_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/exit-codes.md"))
        .expect("docs/exit-codes.md exists");
    let mut documented = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 {
            if let Ok(code) = cells[1].parse::<i32>() {
                documented.insert(code, cells[2].trim_matches('`').to_string());
            }
        }
    }
    let code: BTreeMap<i32, String> = bluegreen::exit::ALL
        .iter()
        .map(|(c, n)| (*c, n.to_string()))
        .collect();
    assert_eq!(
        documented, code,
        "docs/exit-codes.md and src/exit.rs disagree"
    );
}

/// The rows of the markdown tables in `section` of `doc`, as trimmed cells, headers and
/// separator lines left out.
fn table_rows(doc: &str, section: &str) -> Vec<Vec<String>> {
    let body = doc
        .split(&format!("\n## {section}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a `## {section}` section"));
    let body = body.split("\n## ").next().unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            cells[1..cells.len() - 1]
                .iter()
                .map(|c| c.trim().to_string())
                .collect()
        })
        .filter(|cells: &Vec<String>| cells[0] != "field" && cells[0] != "file")
        .collect()
}

#[test]
fn limits_doc_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .expect("docs/configuration.md exists");
    let rows = table_rows(&doc, "Limits");

    let documented: Vec<(String, std::time::Duration, String)> = rows
        .iter()
        .filter(|r| r.len() == 3)
        .map(|r| {
            let max = humantime::parse_duration(&r[1])
                .unwrap_or_else(|e| panic!("limit of {}: {e}", r[0]));
            (r[0].trim_matches('`').to_string(), max, r[2].clone())
        })
        .collect();
    let code: Vec<(String, std::time::Duration, String)> = bluegreen::config::DURATION_LIMITS
        .iter()
        .map(|l| (l.field.to_string(), l.max, l.why.to_string()))
        .collect();
    assert_eq!(
        documented, code,
        "docs/configuration.md (Limits) and src/config/limits.rs disagree"
    );

    let documented: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.len() == 2)
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let code: Vec<(String, String)> = bluegreen::input::FILE_LIMITS
        .iter()
        .map(|(what, max)| (what.to_string(), bluegreen::input::Bytes(*max).to_string()))
        .collect();
    assert_eq!(
        documented, code,
        "docs/configuration.md (Limits) and src/input.rs disagree"
    );
}
