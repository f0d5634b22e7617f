//! Size limits that keep `src/` readable (docs/architecture.md, "Layers"): no source file over
//! 600 lines, and no function of the application layer (`src/flow/`) or of a command
//! (`src/commands/`) over 80 lines. Test code is excluded: `tests.rs`, `*_tests.rs`, files under
//! a `tests/` directory, and everything from a file's `#[cfg(test)]` on.
//! Real: the source tree as it is; nothing is emulated.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("tests") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name != "tests.rs" && !name.ends_with("_tests.rs") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

/// The lines before the file's test module.
fn non_test_lines(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .collect()
}

/// Every `fn` and how many lines it spans, from its `fn` line to its closing brace. Braces in
/// comments, strings and char literals are ignored.
fn functions(lines: &[&str]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        let is_fn = !t.starts_with("//")
            && (t.starts_with("fn ")
                || t.contains(" fn ") && !t.contains("=>") && !t.contains("impl Fn"));
        if !is_fn || t.ends_with(';') {
            i += 1;
            continue;
        }
        let name = t
            .split("fn ")
            .nth(1)
            .unwrap_or("")
            .split(['(', '<'])
            .next()
            .unwrap_or("")
            .to_string();
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        while j < lines.len() {
            for c in braces(lines[j]) {
                depth += if c == '{' { 1 } else { -1 };
                opened = true;
            }
            if opened && depth == 0 {
                break;
            }
            // A declaration without a body (a trait method) ends at `;` before any brace.
            if !opened && lines[j].trim_end().ends_with(';') {
                break;
            }
            j += 1;
        }
        if opened {
            out.push((name, i + 1, j - i + 1));
        }
        i += 1;
    }
    out
}

/// The braces of a line outside comments, strings and char literals.
fn braces(line: &str) -> Vec<char> {
    let b: Vec<char> = line.chars().collect();
    let (mut out, mut i, mut in_str) = (Vec::new(), 0, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == '\\' {
                i += 1;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'/') {
            break;
        } else if c == '"' {
            in_str = true;
        } else if c == '\'' && b.get(i + 2) == Some(&'\'') {
            i += 2;
        } else if c == '\'' && b.get(i + 1) == Some(&'\\') {
            i += 3;
        } else if c == '{' || c == '}' {
            out.push(c);
        }
        i += 1;
    }
    out
}

#[test]
fn no_source_file_is_over_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = sources(&src)
        .into_iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            let n = non_test_lines(&text).len();
            (n > MAX_FILE_LINES).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "source files over {MAX_FILE_LINES} lines (split them by what they do):\n{}",
        long.join("\n")
    );
}

#[test]
fn no_flow_or_command_function_is_over_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for dir in ["flow", "commands"] {
        for f in sources(&src.join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            for (name, line, n) in functions(&non_test_lines(&text)) {
                if n > MAX_FN_LINES {
                    long.push(format!("{}:{line}: fn {name}: {n} lines", f.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines in the application layer or commands:\n{}",
        long.join("\n")
    );
}

/// The counters themselves: a long function and a long file are seen, braces in strings are not.
#[test]
fn the_counters_count() {
    let mut body = vec!["pub async fn long(x: u8) -> u8 {"];
    body.extend(std::iter::repeat_n("    let s = \"}\"; // }", 85));
    body.push("}");
    body.push("fn short() { let c = '{'; }");
    let found = functions(&body);
    assert_eq!(
        found,
        vec![("long".to_string(), 1, 87), ("short".to_string(), 88, 1)]
    );
    let text = "a\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(non_test_lines(text), vec!["a"]);
}
