//! The examples under `examples/` must stay runnable against the real CLI.
//!
//! - Every `*.yml`/`*.yaml` parses as YAML; a GitHub Actions workflow (a document with `on` and
//!   `jobs`) has `on.schedule[].cron` entries that are valid 5-field cron expressions.
//! - Every `.tf` file parses as HCL (`hcl::from_str::<hcl::Body>`).
//! - Every `bluegreen …` command line in the examples parses with `bluegreen::cli::Cli` and names
//!   a subcommand. The command lines are found by one rule per kind of file:
//!   - **crontab** (`examples/**/crontab`): each line that is not blank, a comment or a
//!     `NAME=value` assignment is `m h dom mon dow command`; the five fields must be valid cron
//!     and the command is shell.
//!   - **workflow** (`*.yml`/`*.yaml`): each `jobs.*.steps[].run` string is shell.
//!   - **shell** (both of the above): lines ending in `\` are joined; the text is cut at `&&`,
//!     `||`, `|`, `;`, `&` and newlines (outside quotes) into simple commands; leading
//!     `if`/`then`/`else`/`do`/`!`/`exec`/`time` words and `NAME=value` assignments are skipped; a
//!     command whose first word is `bluegreen` or ends in `/bluegreen` is one, and its argv is its
//!     words up to the first redirection (`>`, `>>`, `2>&1`, `<` …). `${{ … }}` (GitHub
//!     expressions) and `$NAME`/`${NAME}` are replaced by a dummy value before parsing.
//!   - **Terraform** (`*.tf`): every list literal assigned to a key named `command` (attribute or
//!     object key, at any depth, also inside function calls such as `jsonencode`) is the argv
//!     after the container's entry point `bluegreen`; string elements are taken as they are,
//!     any other expression (`var.environment`, `"${…}"`) becomes the dummy value.
//!
//!   Each source must yield at least one command, so a change that makes the rule find nothing
//!   fails too.

use bluegreen::cli::{Cli, Command};
use clap::Parser;
use std::path::{Path, PathBuf};

/// What a placeholder (`$ENV`, `${{ matrix.environment }}`, `var.environment`) becomes.
const DUMMY: &str = "placeholder";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                files_under(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

fn example_files(pred: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut all = Vec::new();
    files_under(&examples_dir(), &mut all);
    all.into_iter().filter(|p| pred(p)).collect()
}

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.contains(&e))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(p)
        .display()
        .to_string()
}

// --- cron -----------------------------------------------------------------------------------

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn cron_value(s: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is outside {min}-{max}"))
        };
    }
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + min)
        .ok_or_else(|| format!("`{s}` is not a number in {min}-{max}"))
}

fn cron_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= max => {}
                _ => return Err(format!("bad step `{step}` in `{item}`")),
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    cron_value(a, min, max, names)?,
                    cron_value(b, min, max, names)?,
                );
                if a > b {
                    return Err(format!("range `{range}` runs backwards"));
                }
            }
            None => {
                cron_value(range, min, max, names)?;
            }
        }
    }
    Ok(())
}

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week), as cron and
/// GitHub Actions read it: `*`, numbers, names (`JAN`, `MON`), ranges, lists and steps.
fn check_cron(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("{} fields, want 5", fields.len()));
    }
    let limits: [(u32, u32, &[&str]); 5] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, &MONTHS),
        (0, 6, &DAYS),
    ];
    for (f, (min, max, names)) in fields.iter().zip(limits) {
        cron_field(f, min, max, names).map_err(|e| format!("field `{f}`: {e}"))?;
    }
    Ok(())
}

#[test]
fn cron_checker_rejects_what_it_should() {
    for ok in [
        "17 * * * *",
        "30 2 * * 1-6",
        "*/15 0-6 1,15 JAN-MAR MON",
        "0 0 * * 0",
    ] {
        assert_eq!(check_cron(ok), Ok(()), "{ok}");
    }
    for bad in [
        "17 * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * * 7",
        "0 0 * * ?",
        "5-1 * * * *",
        "*/0 * * * *",
        "0 0 * * * *",
    ] {
        assert!(check_cron(bad).is_err(), "{bad} should be rejected");
    }
}

// --- shell ----------------------------------------------------------------------------------

/// Replaces every `${{ … }}` with [`DUMMY`].
fn substitute_github_expressions(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("unterminated ${{") + i;
        out.push_str(DUMMY);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Replaces `${{ … }}`, `${NAME}` and `$NAME` with [`DUMMY`].
fn substitute(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix("{{") {
            let end = inner.find("}}").expect("unterminated ${{");
            out.push_str(DUMMY);
            rest = &inner[end + 2..];
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').expect("unterminated ${");
            out.push_str(DUMMY);
            rest = &inner[end + 1..];
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if n == 0 {
                out.push('$');
            } else {
                out.push_str(DUMMY);
            }
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    out
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    /// `&&`, `||`, `|`, `;`, `&` or a newline.
    Sep,
    /// `>`, `>>`, `<`, `2>`, `&>`, … (`2>&1` included).
    Redirect,
}

/// A small shell lexer: words (with `'…'` and `"…"` quoting), separators and redirections.
fn lex(script: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = script.chars().peekable();
    let mut word = String::new();
    let mut in_word = false;
    let flush = |word: &mut String, in_word: &mut bool, toks: &mut Vec<Tok>| {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '#' if !in_word => {
                // A comment to the end of the line.
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            ' ' | '\t' => flush(&mut word, &mut in_word, &mut toks),
            '\n' | ';' | '|' | '&' => {
                let fd_redirect = c == '&' && chars.peek() == Some(&'>');
                flush(&mut word, &mut in_word, &mut toks);
                if fd_redirect {
                    chars.next();
                    if chars.peek() == Some(&'>') {
                        chars.next();
                    }
                    toks.push(Tok::Redirect);
                    continue;
                }
                if (c == '|' || c == '&') && chars.peek() == Some(&c) {
                    chars.next();
                }
                toks.push(Tok::Sep);
            }
            '>' | '<' => {
                // A word made only of digits before `>` is the fd being redirected (`2>`).
                if in_word && !word.chars().all(|c| c.is_ascii_digit()) {
                    flush(&mut word, &mut in_word, &mut toks);
                }
                word.clear();
                in_word = false;
                while chars
                    .peek()
                    .is_some_and(|&c| c == '>' || c == '<' || c == '&')
                {
                    chars.next();
                }
                toks.push(Tok::Redirect);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut toks);
    toks
}

fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The argv of every `bluegreen …` simple command in a shell script (rule in the module doc).
fn bluegreen_commands_in_shell(script: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    // GitHub replaces `${{ … }}` before the shell sees the script; so do we.
    let toks = lex(&substitute_github_expressions(script));
    for simple in toks.split(|t| *t == Tok::Sep) {
        let mut words: Vec<String> = Vec::new();
        let mut i = 0;
        while i < simple.len() {
            match &simple[i] {
                Tok::Redirect => {
                    // A redirection ends the argv we look at; its target is not an argument.
                    break;
                }
                Tok::Word(w) => words.push(w.clone()),
                Tok::Sep => unreachable!(),
            }
            i += 1;
        }
        let start = words
            .iter()
            .position(|w| {
                !matches!(
                    w.as_str(),
                    "if" | "then" | "else" | "elif" | "do" | "!" | "exec" | "time"
                ) && !is_assignment(w)
            })
            .unwrap_or(words.len());
        let words = &words[start..];
        if let Some(first) = words.first() {
            if first == "bluegreen" || first.ends_with("/bluegreen") {
                let mut argv = vec!["bluegreen".to_string()];
                argv.extend(words[1..].iter().map(|w| substitute(w)));
                found.push(argv);
            }
        }
    }
    found
}

#[test]
fn shell_rule_finds_what_it_should() {
    let s = "set +e\nif [ \"$X\" = 1 ]; then\n  /usr/bin/bluegreen drift --env \"$E\" \\\n   --output json > d.json 2>&1\nfi\nA=1 bluegreen rebuild --env ${{ matrix.environment }} || notify \"bluegreen x | y\"; echo bluegreen";
    assert_eq!(
        bluegreen_commands_in_shell(s),
        vec![
            vec!["bluegreen", "drift", "--env", DUMMY, "--output", "json"],
            vec!["bluegreen", "rebuild", "--env", DUMMY],
        ]
    );
}

// --- checks ---------------------------------------------------------------------------------

/// Parses `argv` with the real CLI definition; the error names where the line came from.
fn check_argv(source: &str, argv: &[String]) -> Result<&'static str, String> {
    match Cli::try_parse_from(argv) {
        Ok(cli) => Ok(match cli.command {
            Command::Rebuild { .. } => "rebuild",
            Command::Drift { .. } => "drift",
            Command::Deploy { .. } => "deploy",
            Command::Plan { .. } => "plan",
            Command::Apply { .. } => "apply",
            Command::Approve { .. } => "approve",
            Command::Resume { .. } => "resume",
            Command::Promote { .. } => "promote",
            Command::Status { .. } => "status",
            Command::Rollback { .. } => "rollback",
            Command::History { .. } => "history",
            Command::Unlock { .. } => "unlock",
            Command::Journal { .. } => "journal",
            Command::Validate { .. } => "validate",
        }),
        Err(e) => Err(format!(
            "{source}: `{}` does not parse with the bluegreen CLI:\n{e}",
            argv.join(" ")
        )),
    }
}

fn yaml_files() -> Vec<PathBuf> {
    example_files(|p| has_ext(p, &["yml", "yaml"]))
}

fn load_yaml(p: &Path) -> serde_norway::Value {
    let text = std::fs::read_to_string(p).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", rel(p)))
}

/// `on` of a workflow (a YAML 1.1 reader would turn the key into `true`; accept both).
fn workflow_on(doc: &serde_norway::Value) -> Option<&serde_norway::Value> {
    doc.get("on")
        .or_else(|| doc.get(serde_norway::Value::Bool(true)))
}

#[test]
fn yaml_examples_parse_and_workflow_schedules_are_valid_cron() {
    let files = yaml_files();
    assert!(!files.is_empty(), "no YAML under examples/");
    let mut workflows = 0;
    for p in &files {
        let doc = load_yaml(p);
        let (Some(on), Some(_)) = (workflow_on(&doc), doc.get("jobs")) else {
            continue;
        };
        workflows += 1;
        let schedule = on
            .get("schedule")
            .and_then(|s| s.as_sequence())
            .unwrap_or_else(|| panic!("{}: on.schedule is not a list", rel(p)));
        assert!(!schedule.is_empty(), "{}: on.schedule is empty", rel(p));
        for entry in schedule {
            let cron = entry
                .get("cron")
                .and_then(|c| c.as_str())
                .unwrap_or_else(|| panic!("{}: schedule entry without cron: {entry:?}", rel(p)));
            if let Err(e) = check_cron(cron) {
                panic!("{}: cron `{cron}` is not valid: {e}", rel(p));
            }
        }
        // Every `github.event.schedule == '…'` in the file must name one of the schedules,
        // or that job never runs.
        let text = std::fs::read_to_string(p).unwrap();
        let crons: Vec<&str> = schedule
            .iter()
            .filter_map(|e| e.get("cron").and_then(|c| c.as_str()))
            .collect();
        for (i, _) in text.match_indices("github.event.schedule == '") {
            let rest = &text[i + "github.event.schedule == '".len()..];
            let named = &rest[..rest.find('\'').unwrap()];
            assert!(
                crons.contains(&named),
                "{}: a job waits for schedule `{named}`, which is not in on.schedule {crons:?}",
                rel(p)
            );
        }
    }
    assert!(workflows > 0, "no GitHub Actions workflow under examples/");
}

#[test]
fn tf_examples_parse_as_hcl() {
    let files = example_files(|p| has_ext(p, &["tf"]));
    assert!(!files.is_empty(), "no .tf files under examples/");
    for p in &files {
        let text = std::fs::read_to_string(p).unwrap();
        if let Err(e) = hcl::from_str::<hcl::Body>(&text) {
            panic!("{} is not valid HCL: {e}", rel(p));
        }
    }
}

/// Every list literal under a key named `command`, as argv after the entry point `bluegreen`.
fn commands_in_hcl_expr(key: Option<&str>, expr: &hcl::Expression, out: &mut Vec<Vec<String>>) {
    use hcl::Expression as E;
    match expr {
        E::Array(items) => {
            if key == Some("command") {
                let mut argv = vec!["bluegreen".to_string()];
                argv.extend(items.iter().map(|e| match e {
                    E::String(s) => s.clone(),
                    _ => DUMMY.to_string(),
                }));
                out.push(argv);
            }
            for e in items {
                commands_in_hcl_expr(None, e, out);
            }
        }
        E::Object(obj) => {
            for (k, v) in obj {
                let k = match k {
                    hcl::ObjectKey::Identifier(id) => Some(id.as_str().to_string()),
                    hcl::ObjectKey::Expression(E::String(s)) => Some(s.clone()),
                    _ => None,
                };
                commands_in_hcl_expr(k.as_deref(), v, out);
            }
        }
        E::FuncCall(call) => {
            for a in &call.args {
                commands_in_hcl_expr(None, a, out);
            }
        }
        E::Parenthesis(e) => commands_in_hcl_expr(key, e, out),
        E::Conditional(c) => {
            commands_in_hcl_expr(key, &c.true_expr, out);
            commands_in_hcl_expr(key, &c.false_expr, out);
        }
        _ => {}
    }
}

fn commands_in_hcl_body(body: &hcl::Body, out: &mut Vec<Vec<String>>) {
    for attr in body.attributes() {
        commands_in_hcl_expr(Some(attr.key()), attr.expr(), out);
    }
    for block in body.blocks() {
        commands_in_hcl_body(block.body(), out);
    }
}

/// `(source, argv)` of every bluegreen command line in the examples, and how many each file
/// kind yielded.
fn all_commands() -> Vec<(String, Vec<String>)> {
    let mut all = Vec::new();

    let crontabs = example_files(|p| p.file_name().is_some_and(|n| n == "crontab"));
    assert!(!crontabs.is_empty(), "no crontab under examples/");
    for p in &crontabs {
        let text = std::fs::read_to_string(p).unwrap();
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || is_assignment(line) {
                continue;
            }
            let fields: Vec<&str> = line.splitn(6, char::is_whitespace).collect();
            assert_eq!(
                fields.len(),
                6,
                "{}:{}: not `m h dom mon dow command`",
                rel(p),
                i + 1
            );
            let when = fields[..5].join(" ");
            if let Err(e) = check_cron(&when) {
                panic!("{}:{}: `{when}` is not valid cron: {e}", rel(p), i + 1);
            }
            assert!(
                !fields[5].contains('%'),
                "{}:{}: `%` is a newline to cron",
                rel(p),
                i + 1
            );
            for argv in bluegreen_commands_in_shell(fields[5]) {
                all.push((format!("{}:{}", rel(p), i + 1), argv));
                n += 1;
            }
        }
        assert!(n > 0, "{}: no bluegreen command found", rel(p));
    }

    for p in yaml_files() {
        let doc = load_yaml(&p);
        let Some(jobs) = doc.get("jobs").and_then(|j| j.as_mapping()) else {
            continue;
        };
        let mut n = 0;
        for (job, spec) in jobs {
            let steps = spec.get("steps").and_then(|s| s.as_sequence());
            for (i, step) in steps.into_iter().flatten().enumerate() {
                let Some(run) = step.get("run").and_then(|r| r.as_str()) else {
                    continue;
                };
                for argv in bluegreen_commands_in_shell(run) {
                    let job = job.as_str().unwrap_or("?");
                    all.push((format!("{} jobs.{job}.steps[{i}]", rel(&p)), argv));
                    n += 1;
                }
            }
        }
        assert!(n > 0, "{}: no bluegreen command in any run step", rel(&p));
    }

    let mut tf_n = 0;
    for p in example_files(|p| has_ext(p, &["tf"])) {
        let body: hcl::Body = hcl::from_str(&std::fs::read_to_string(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", rel(&p)));
        let mut found = Vec::new();
        commands_in_hcl_body(&body, &mut found);
        tf_n += found.len();
        all.extend(found.into_iter().map(|argv| (rel(&p), argv)));
    }
    assert!(
        tf_n > 0,
        "no `command = [...]` list in any .tf file under examples/"
    );

    all
}

#[test]
fn every_bluegreen_command_in_the_examples_parses_with_the_cli() {
    let commands = all_commands();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (source, argv) in &commands {
        eprintln!("{source}: {}", argv.join(" "));
        match check_argv(source, argv) {
            Ok(name) => {
                seen.insert((source.split([':', ' ']).next().unwrap().to_string(), name));
            }
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    // Each scheduling example runs both jobs.
    for file in [
        "examples/scheduling/crontab",
        "examples/scheduling/github-actions.yml",
        "examples/scheduling/eventbridge/main.tf",
    ] {
        for job in ["drift", "rebuild"] {
            assert!(
                seen.contains(&(file.to_string(), job)),
                "{file}: no `bluegreen {job}` found (found: {seen:?})"
            );
        }
    }
}

#[test]
fn scheduled_drift_asks_for_json_and_rebuild_waits_for_the_lock() {
    for (source, argv) in all_commands() {
        let has = |flag: &str| argv.iter().any(|a| a == flag);
        match argv.get(1).map(String::as_str) {
            Some("drift") => assert!(
                argv.windows(2)
                    .any(|w| w[0] == "--output" && w[1] == "json"),
                "{source}: scheduled drift should use --output json: {argv:?}"
            ),
            Some("rebuild") => assert!(
                has("--lock-timeout"),
                "{source}: a scheduled rebuild should pass --lock-timeout: {argv:?}"
            ),
            _ => {}
        }
    }
}
