//! The drift report for people.

use super::Report;

/// The report as lines: each stack, the runtime comparison, the errors, then the verdict.
pub(super) fn human(r: &Report) -> String {
    let mut out = String::new();
    for s in &r.stacks {
        out.push_str(&format!("[{}] {}\n", s.stack, s.status));
        for c in &s.changes {
            out.push_str(&format!(
                "    {} {} ({})\n",
                c.action,
                c.address,
                if c.attributes.is_empty() {
                    "no attribute changes listed".into()
                } else {
                    c.attributes.join(", ")
                }
            ));
        }
        if let Some(e) = &s.error {
            out.push_str(&format!("    error: {}\n", e.lines().next().unwrap_or("")));
        }
    }
    for d in &r.informational {
        out.push_str(&format!(
            "[info] {} {}: recorded {}, live {} (autoscaled: not drift)\n",
            d.resource, d.field, d.recorded, d.live
        ));
    }
    if r.runtime_status == "unknown" {
        out.push_str("[runtime] UNKNOWN: AWS was not compared with the journal (see the errors)\n");
    } else if r.runtime_status == "nothing-recorded" {
        out.push_str("[runtime] nothing recorded in the journal to compare AWS with\n");
    } else if r.runtime.is_empty() {
        out.push_str("[runtime] AWS matches the journal\n");
    } else {
        out.push_str("[runtime] AWS differs from the journal:\n");
        for d in &r.runtime {
            out.push_str(&format!(
                "    {} {}: recorded {}, live {}\n",
                d.resource, d.field, d.recorded, d.live
            ));
        }
    }
    for e in &r.errors {
        out.push_str(&format!("error: {}\n", e.lines().next().unwrap_or("")));
    }
    let failed = r.errors.len();
    out.push_str(&match r.result {
        "no-drift" => "no drift".to_string(),
        "drift" if failed == 0 => "DRIFT found".to_string(),
        "drift" => format!("DRIFT found, and {failed} check(s) could not be made (unknown)"),
        _ => format!("UNKNOWN: {failed} check(s) could not be made; this is not a clean result"),
    });
    out
}
