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
