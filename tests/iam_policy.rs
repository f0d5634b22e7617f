//! The least-privilege IAM policy of the bluegreen binary, `docs/iam/bluegreen-policy.json`,
//! grants exactly the AWS operations the source calls: a new SDK call without a policy update
//! fails here, and so does a grant nothing calls any more.
//!
//! What is real: the crate's source (every `src/**/*.rs`, read from disk) and the policy file.
//! Nothing here calls AWS or the emulator, and no list of operations is kept by hand: the calls
//! are found in the source. The scan is a small Rust tokenizer (comments and string contents
//! cannot fake or hide a call) and works per file:
//!
//! - the SDK crate a file uses (`aws_sdk_ecs`, …) names the IAM service of its calls
//!   ([`SDK_CRATES`]; a crate missing there fails the test);
//! - an operation is a no-argument method call on an SDK client, `<client>.<op>()`, whatever
//!   whitespace or lines separate them, where `<client>` is `client`, `self.client`, or any
//!   name the file declares with a `Client` type or binds to `Client::new`/`from_conf`,
//!   `self.client(…)` or `&self.client`; `describe_target_health` becomes
//!   `elasticloadbalancing:DescribeTargetHealth`;
//! - `TransactWriteItems` needs no action of its own: IAM checks each item's action
//!   (`ConditionCheckItem`, `PutItem`, …), read from the item types the file builds.
//!
//! Two checks keep the scan honest: it must find every call known to exist today
//! ([`KNOWN_CALLS`]), and the operations the code names in its errors (`AwsError::sdk("X", …)`,
//! `sdk_err("X", …)`, the convention every call follows) must be exactly the operations found,
//! so a call through a receiver the scan does not recognise still fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const POLICY: &str = "docs/iam/bluegreen-policy.json";

/// Each SDK crate the source may use, with the IAM service prefix of its operations.
const SDK_CRATES: &[(&str, &str)] = &[
    ("aws_sdk_applicationautoscaling", "application-autoscaling"),
    ("aws_sdk_cloudwatch", "cloudwatch"),
    ("aws_sdk_dynamodb", "dynamodb"),
    ("aws_sdk_ecr", "ecr"),
    ("aws_sdk_ecs", "ecs"),
    ("aws_sdk_elasticloadbalancingv2", "elasticloadbalancing"),
    ("aws_sdk_sts", "sts"),
];

/// Client methods that are not operations.
const NOT_OPERATIONS: &[&str] = &["clone", "config"];

/// The item types of a DynamoDB transaction and the action IAM checks for each.
const TRANSACTION_ITEMS: &[(&str, &str)] = &[
    ("ConditionCheck", "dynamodb:ConditionCheckItem"),
    ("Put", "dynamodb:PutItem"),
    ("Update", "dynamodb:UpdateItem"),
    ("Delete", "dynamodb:DeleteItem"),
    ("Get", "dynamodb:GetItem"),
];

/// Operations whose permission is not the action of the same name (handled in [`actions_of`]).
const TRANSACTIONS: &[&str] = &["dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"];

/// Calls known to exist when this test was written: the scan must find at least these.
const KNOWN_CALLS: &[(&str, &str)] = &[
    ("src/aws/elbv2.rs", "elasticloadbalancing:DescribeListeners"),
    ("src/aws/elbv2.rs", "elasticloadbalancing:DescribeRules"),
    ("src/aws/elbv2.rs", "elasticloadbalancing:ModifyListener"),
    ("src/aws/elbv2.rs", "elasticloadbalancing:ModifyRule"),
    (
        "src/aws/elbv2.rs",
        "elasticloadbalancing:DescribeTargetHealth",
    ),
    ("src/aws/ecs.rs", "ecs:DescribeServices"),
    ("src/aws/ecs.rs", "ecs:UpdateService"),
    ("src/aws/ecs.rs", "ecs:DescribeTaskDefinition"),
    ("src/aws/cloudwatch.rs", "cloudwatch:DescribeAlarms"),
    ("src/aws/ecr.rs", "ecr:DescribeImages"),
    (
        "src/aws/autoscaling.rs",
        "application-autoscaling:DescribeScalableTargets",
    ),
    ("src/aws/sts.rs", "sts:GetCallerIdentity"),
    ("src/state/dynamo.rs", "dynamodb:GetItem"),
    ("src/state/dynamo.rs", "dynamodb:PutItem"),
    ("src/state/dynamo.rs", "dynamodb:DeleteItem"),
    ("src/state/dynamo.rs", "dynamodb:Query"),
    ("src/state/dynamo.rs", "dynamodb:TransactWriteItems"),
];

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Rust source as identifiers, string literals and punctuation, each with its line; comments
/// dropped, numbers and char literals reduced to punctuation-free placeholders.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let count_lines =
        |from: usize, to: usize| chars[from..to].iter().filter(|c| **c == '\n').count();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(start, i);
        } else if (c == 'r' || c == 'b')
            && matches!(next, Some('"') | Some('#') | Some('r'))
            && raw_string_at(&chars, i).is_some()
        {
            let (end, body) = raw_string_at(&chars, i).unwrap();
            out.push((Tok::Str(body), line));
            line += count_lines(i, end);
            i = end;
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            let start = i;
            i += if c == 'b' { 2 } else { 1 };
            let mut body = String::new();
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                body.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push((Tok::Str(body), line));
            line += count_lines(start, i.min(chars.len()));
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            out.push((Tok::Punct('\''), line));
        } else if c.is_alphabetic() || c == '_' {
            if c == 'r' && next == Some('#') {
                i += 2; // raw identifier: r#type is `type`
            }
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), line));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Punct('0'), line));
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// A raw (byte) string literal starting at `i` (`r"…"`, `r#"…"#`, `br"…"`): its end and body.
fn raw_string_at(chars: &[char], mut i: usize) -> Option<(usize, String)> {
    if chars[i] == 'b' {
        i += 1;
    }
    if chars.get(i) != Some(&'r') {
        return None;
    }
    i += 1;
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    let start = i;
    loop {
        if i >= chars.len() {
            return None;
        }
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return Some((i + 1 + hashes, chars[start..i].iter().collect()));
        }
        i += 1;
    }
}

fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

fn punct(t: Option<&(Tok, usize)>, c: char) -> bool {
    matches!(t, Some((Tok::Punct(p), _)) if *p == c)
}

// ---------------------------------------------------------------------------------------------
// The scan

/// One SDK operation found in the source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Call {
    /// `service:Operation`, e.g. `elasticloadbalancing:ModifyRule`.
    operation: String,
    /// `src/aws/elbv2.rs:146`
    at: String,
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The names an SDK client goes by in this file.
fn client_names(toks: &[(Tok, usize)]) -> BTreeSet<String> {
    let mut names = BTreeSet::from(["client".to_string()]);
    for i in 0..toks.len() {
        // `name: Client`, `name: &ecr::Client`, `name: aws_sdk_sts::Client`
        if let (Some(name), true) = (ident(toks.get(i)), punct(toks.get(i + 1), ':')) {
            if punct(toks.get(i + 2), ':') || (i > 0 && punct(toks.get(i - 1), ':')) {
                continue; // a path segment, not a declaration
            }
            let mut j = i + 2;
            while punct(toks.get(j), '&')
                || ident(toks.get(j)) == Some("mut")
                || (ident(toks.get(j)).is_some()
                    && punct(toks.get(j + 1), ':')
                    && punct(toks.get(j + 2), ':'))
            {
                j += if punct(toks.get(j), '&') || ident(toks.get(j)) == Some("mut") {
                    1
                } else {
                    3
                };
            }
            if ident(toks.get(j)) == Some("Client") {
                names.insert(name.to_string());
            }
        }
        // `let [mut] name = … Client::new(…) / Client::from_conf(…) / self.client(…) …;`
        if ident(toks.get(i)) == Some("let") {
            let mut j = i + 1;
            if ident(toks.get(j)) == Some("mut") {
                j += 1;
            }
            let (Some(name), true) = (ident(toks.get(j)), punct(toks.get(j + 1), '=')) else {
                continue;
            };
            if let Some(end) = client_expression(toks, j + 2) {
                if punct(toks.get(end), ';') {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names
}

/// Where a client-making expression starting at `k` ends (the token after its closing paren):
/// `self.client(…)`, `client(…)`, `&self.client`, `self.client.clone()`, or
/// `[path::]Client::new(…)` / `::from_conf(…)`.
fn client_expression(toks: &[(Tok, usize)], mut k: usize) -> Option<usize> {
    if punct(toks.get(k), '&') {
        k += 1;
    }
    if ident(toks.get(k)) == Some("self") && punct(toks.get(k + 1), '.') {
        k += 2;
    }
    if ident(toks.get(k)) == Some("client") {
        k += 1;
        // `&self.client` or `self.client.clone()`: the field itself
        if punct(toks.get(k), ';') {
            return Some(k);
        }
        if punct(toks.get(k), '.') && ident(toks.get(k + 1)) == Some("clone") {
            return Some(k + 4);
        }
    } else {
        while ident(toks.get(k)).is_some_and(|s| s != "Client")
            && punct(toks.get(k + 1), ':')
            && punct(toks.get(k + 2), ':')
        {
            k += 3;
        }
        let builds = ident(toks.get(k)) == Some("Client")
            && punct(toks.get(k + 1), ':')
            && punct(toks.get(k + 2), ':')
            && matches!(ident(toks.get(k + 3)), Some("new" | "from_conf"));
        if !builds {
            return None;
        }
        k += 4;
    }
    if !punct(toks.get(k), '(') {
        return None;
    }
    let mut depth = 0;
    while k < toks.len() {
        if punct(toks.get(k), '(') {
            depth += 1;
        } else if punct(toks.get(k), ')') {
            depth -= 1;
            if depth == 0 {
                return Some(k + 1);
            }
        }
        k += 1;
    }
    None
}

/// The SDK crates a file uses, as IAM service prefixes. Panics on a crate [`SDK_CRATES`] lacks.
fn services_of(file: &str, toks: &[(Tok, usize)]) -> BTreeSet<&'static str> {
    let mut services = BTreeSet::new();
    for (t, line) in toks {
        if let Tok::Ident(s) = t {
            if s.starts_with("aws_sdk_") {
                let service = SDK_CRATES
                    .iter()
                    .find(|(c, _)| c == s)
                    .map(|(_, svc)| *svc)
                    .unwrap_or_else(|| {
                        panic!(
                            "{file}:{line} uses {s}, which tests/iam_policy.rs does not know: \
                             add it to SDK_CRATES with its IAM service prefix"
                        )
                    });
                services.insert(service);
            }
        }
    }
    services
}

/// Every SDK operation called in one file's source.
fn calls_in(file: &str, src: &str) -> Vec<Call> {
    let toks = tokenize(src);
    let services = services_of(file, &toks);
    let clients = client_names(&toks);
    let mut calls = Vec::new();
    for i in 0..toks.len() {
        let Some(receiver) = ident(toks.get(i)) else {
            continue;
        };
        if !clients.contains(receiver) || !punct(toks.get(i + 1), '.') {
            continue;
        }
        let Some(op) = ident(toks.get(i + 2)) else {
            continue;
        };
        if !punct(toks.get(i + 3), '(') || !punct(toks.get(i + 4), ')') {
            continue;
        }
        if NOT_OPERATIONS.contains(&op) {
            continue;
        }
        let line = toks[i + 2].1;
        let service = match services.len() {
            1 => *services.iter().next().unwrap(),
            0 => continue, // not an SDK client (e.g. reqwest's `client.get(…)` takes arguments anyway)
            _ => panic!(
                "{file}:{line}: `.{op}()` on a client, in a file that uses several SDK crates \
                 ({services:?}); keep one SDK per file or teach tests/iam_policy.rs which is which"
            ),
        };
        calls.push(Call {
            operation: format!("{service}:{}", pascal(op)),
            at: format!("{file}:{line}"),
        });
    }
    calls
}

/// The item types a file builds for DynamoDB transactions (`Put::builder()`, …), as actions.
fn transaction_item_actions(src: &str) -> BTreeSet<&'static str> {
    let toks = tokenize(src);
    let mut actions = BTreeSet::new();
    for i in 0..toks.len() {
        if let Some(name) = ident(toks.get(i)) {
            let builds = punct(toks.get(i + 1), ':')
                && punct(toks.get(i + 2), ':')
                && ident(toks.get(i + 3)) == Some("builder");
            if builds {
                if let Some((_, action)) = TRANSACTION_ITEMS.iter().find(|(t, _)| *t == name) {
                    actions.insert(*action);
                }
            }
        }
    }
    actions
}

/// The IAM actions an operation found in `src` needs.
fn actions_of(call: &Call, src: &str) -> BTreeSet<String> {
    if TRANSACTIONS.contains(&call.operation.as_str()) {
        let items = transaction_item_actions(src);
        assert!(
            !items.is_empty(),
            "{}: {} but no transaction item type (Put::builder(), …) in the file",
            call.at,
            call.operation
        );
        items.into_iter().map(str::to_string).collect()
    } else {
        BTreeSet::from([call.operation.clone()])
    }
}

/// The operation names the code puts in its errors: the first argument of `sdk(…)` /
/// `sdk_err(…)`, a literal or a `const NAME: &str = "…"` of the same file.
fn operations_named_in_errors(src: &str) -> BTreeSet<String> {
    let toks = tokenize(src);
    // A const is function-scoped (two functions may each have `const OP`): the nearest
    // definition before a use is the one it means.
    let mut consts = BTreeMap::new();
    let mut named = BTreeSet::new();
    for (i, w) in toks.windows(3).enumerate() {
        if let Some(
            [(Tok::Ident(k), _), (Tok::Ident(name), _), (Tok::Punct(':'), _), (Tok::Punct('&'), _), (Tok::Ident(ty), _), (Tok::Punct('='), _), (Tok::Str(v), _)],
        ) = toks.get(i..i + 7)
        {
            if k == "const" && ty == "str" {
                consts.insert(name.clone(), v.clone());
            }
        }
        if let [(Tok::Ident(f), _), (Tok::Punct('('), _), (arg, _)] = w {
            if f == "sdk" || f == "sdk_err" {
                match arg {
                    Tok::Str(s) => {
                        named.insert(s.clone());
                    }
                    Tok::Ident(c) if consts.contains_key(c) => {
                        named.insert(consts[c].clone());
                    }
                    _ => {}
                }
            }
        }
    }
    named
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

struct Scan {
    calls: Vec<Call>,
    /// IAM action → where the source needs it.
    needed: BTreeMap<String, Vec<String>>,
    named_in_errors: BTreeSet<String>,
}

fn scan_source() -> Scan {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut scan = Scan {
        calls: Vec::new(),
        needed: BTreeMap::new(),
        named_in_errors: BTreeSet::new(),
    };
    for path in files {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let src = std::fs::read_to_string(&path).unwrap();
        for call in calls_in(&rel, &src) {
            for action in actions_of(&call, &src) {
                let at = format!("{} ({})", call.at, call.operation);
                scan.needed.entry(action).or_default().push(at);
            }
            scan.calls.push(call);
        }
        if !services_of(&rel, &tokenize(&src)).is_empty() {
            scan.named_in_errors
                .extend(operations_named_in_errors(&src));
        }
    }
    scan
}

/// Every action the policy grants, with its statement's Sid; checks the statements' shape.
fn policy_actions() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(POLICY);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{POLICY}: {e}"));
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{POLICY} is not JSON: {e}"));
    assert_eq!(doc["Version"], "2012-10-17", "{POLICY}: Version");
    let mut actions = BTreeMap::new();
    let mut sids = BTreeSet::new();
    for st in doc["Statement"].as_array().expect("a Statement array") {
        let sid = st["Sid"].as_str().expect("every statement has a Sid");
        assert!(sids.insert(sid.to_string()), "{POLICY}: Sid {sid} twice");
        assert_eq!(st["Effect"], "Allow", "{POLICY}: {sid}: Effect");
        assert!(st.get("NotAction").is_none() && st.get("NotResource").is_none());
        assert!(st.get("Resource").is_some(), "{POLICY}: {sid}: no Resource");
        for a in st["Action"].as_array().expect("Action is a list") {
            let a = a.as_str().expect("actions are strings");
            assert!(
                !a.contains('*'),
                "{POLICY}: {sid}: `{a}` is a wildcard; grant the actions one by one"
            );
            let before = actions.insert(a.to_string(), sid.to_string());
            assert!(before.is_none(), "{POLICY}: {a} granted twice");
        }
    }
    actions
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn every_aws_call_in_the_source_is_granted_by_the_policy() {
    let scan = scan_source();
    let granted = policy_actions();
    let missing: Vec<String> = scan
        .needed
        .iter()
        .filter(|(action, _)| !granted.contains_key(*action))
        .map(|(action, at)| format!("  {action}  needed by {}", at.join(", ")))
        .collect();
    assert!(
        missing.is_empty(),
        "the source calls AWS operations {POLICY} does not grant; add each action to the \
         statement of its service (scoped to a resource where AWS allows) and to docs/aws.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_policy_grants_nothing_the_source_does_not_call() {
    let scan = scan_source();
    let stale: Vec<String> = policy_actions()
        .into_iter()
        .filter(|(action, _)| !scan.needed.contains_key(action))
        .map(|(action, sid)| format!("  {action} (statement {sid})"))
        .collect();
    assert!(
        stale.is_empty(),
        "{POLICY} grants actions no code calls any more; remove them:\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_scan_finds_every_call_known_to_exist() {
    let scan = scan_source();
    let found: BTreeSet<(String, String)> = scan
        .calls
        .iter()
        .map(|c| {
            let file = c.at.rsplit_once(':').unwrap().0.to_string();
            (file, c.operation.clone())
        })
        .collect();
    for (file, op) in KNOWN_CALLS {
        assert!(
            found.contains(&(file.to_string(), op.to_string())),
            "the scan missed {op} in {file} (it found: {found:#?}); the detection is broken, \
             or the call moved: update KNOWN_CALLS"
        );
    }
}

/// Every call names its operation in its error (`AwsError::sdk("ModifyRule", …)`): those names,
/// found independently of the call, must be exactly the operations the scan found. A call
/// through a receiver the scan does not recognise shows up here.
#[test]
fn the_operations_named_in_errors_are_the_operations_found() {
    let scan = scan_source();
    let found: BTreeSet<String> = scan
        .calls
        .iter()
        .map(|c| c.operation.split_once(':').unwrap().1.to_string())
        .collect();
    assert!(!scan.named_in_errors.is_empty(), "no error names found");
    assert_eq!(
        scan.named_in_errors, found,
        "operations named in errors (left) and SDK calls found (right) differ: a call the scan \
         does not see, or a call whose errors do not name it"
    );
}

#[test]
fn the_scan_sees_calls_however_they_are_written() {
    let src = r#"
        use aws_sdk_elasticloadbalancingv2 as elb;
        // self.client.delete_load_balancer() in a comment is not a call
        struct T { lb: elb::Client }
        async fn f(t: &T, other: &aws_sdk_elasticloadbalancingv2::Client) {
            let msg = "client.delete_rule()";
            t.lb
                .delete_listener()
                .send();
            other.describe_tags().send();
            let c = elb::Client::from_conf(conf);
            c . create_rule ( ) . send();
            let alias = &self.client;
            alias.delete_rule().send();
            self.client.add_tags().resource_arns(r#type).send();
            http.client.get(url);
        }
    "#;
    let ops: Vec<String> = calls_in("x.rs", src)
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        ops,
        [
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:CreateRule",
            "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:AddTags",
        ]
    );
}

#[test]
fn a_transaction_needs_the_actions_of_its_items() {
    let src = r#"
        use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
        let check = ConditionCheck::builder().build();
        let put = Put::builder().build();
        self.client.transact_write_items().send();
    "#;
    let calls = calls_in("x.rs", src);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        actions_of(&calls[0], src),
        BTreeSet::from([
            "dynamodb:ConditionCheckItem".to_string(),
            "dynamodb:PutItem".to_string()
        ])
    );
}
