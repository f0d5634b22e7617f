//! Redaction of sensitive values in `show -json` plans.
//!
//! Terraform prints sensitive values in plain text and describes which ones
//! are sensitive with a parallel "shape": `true` for a sensitive value, an
//! object or array mirroring the value for one with sensitive parts,
//! `false`/absent otherwise. Redaction follows the shapes first.
//!
//! Shapes are not enough. Terraform 1.11 marks `terraform_data.input.secret`
//! sensitive but not the same string copied into `terraform_data.output`
//! (recorded in `tests/fixtures/terraform/show_plan_*.json`), and a provider can
//! echo a secret into any attribute. So every string redacted by a shape (or
//! a sensitive variable, or a sensitive output) becomes a known secret, and a
//! second pass replaces each string in the document that equals a known
//! secret, or contains one of at least [`MIN_SUBSTRING_SECRET`] characters.
//! Over-redaction is the safe direction. Not covered: object keys, and
//! secrets that are numbers or booleans (their redaction is by shape only).

use std::collections::HashSet;

use aho_corasick::AhoCorasick;
use serde_json::{Map, Value};

use super::error::IacError;
use super::plan::document_error;

/// What a sensitive value is replaced with.
pub const REDACTED: &str = "(sensitive)";

/// Known secrets at least this long are also removed from inside other strings.
pub const MIN_SUBSTRING_SECRET: usize = 8;

/// `value` with every leaf that `sensitive` marks replaced by [`REDACTED`].
/// A shape that does not fit the value (but marks something) redacts it whole.
pub fn redact_value(value: &Value, sensitive: &Value) -> Value {
    let mut value = value.clone();
    redact_by_shape(&mut value, sensitive, &mut Vec::new());
    value
}

/// Parses `show -json` output and returns it with sensitive values redacted.
pub fn redacted_plan_json(bytes: &[u8]) -> Result<Value, IacError> {
    let plan: Value = serde_json::from_slice(bytes)
        .map_err(|source| document_error("`show -json` plan", source))?;
    Ok(redact_owned_plan(plan))
}

/// A copy of a `show -json` plan with every sensitive value redacted: resource
/// and drift changes (`before`/`after` by `before_sensitive`/`after_sensitive`),
/// `planned_values` and `prior_state` (by `sensitive_values`, outputs by their
/// `sensitive` flag), `output_changes`, and the values and defaults of
/// variables the configuration declares sensitive — then every copy of those
/// secrets anywhere else.
pub fn redact_plan_json(plan: &Value) -> Value {
    redact_owned_plan(plan.clone())
}

/// [`redact_plan_json`] in place: no copy of the document.
fn redact_owned_plan(mut doc: Value) -> Value {
    let mut secrets = Vec::new();
    if let Some(obj) = doc.as_object_mut() {
        for key in ["resource_changes", "resource_drift"] {
            for change in array_mut(obj, key) {
                if let Some(change) = change.get_mut("change").and_then(Value::as_object_mut) {
                    redact_change(change, &mut secrets);
                }
            }
        }
        if let Some(outputs) = obj.get_mut("output_changes").and_then(Value::as_object_mut) {
            for change in outputs.values_mut().filter_map(Value::as_object_mut) {
                redact_change(change, &mut secrets);
            }
        }
        if let Some(values) = obj.get_mut("planned_values") {
            redact_values(values, &mut secrets);
        }
        if let Some(values) = obj.get_mut("prior_state").and_then(|s| s.get_mut("values")) {
            redact_values(values, &mut secrets);
        }
        let sensitive_vars = redact_variable_defaults(obj.get_mut("configuration"), &mut secrets);
        if let Some(vars) = obj.get_mut("variables").and_then(Value::as_object_mut) {
            for name in &sensitive_vars {
                if let Some(value) = vars.get_mut(name).and_then(|v| v.get_mut("value")) {
                    redact_whole(value, &mut secrets);
                }
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    scrub(&mut doc, &secrets);
    doc
}

fn array_mut<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

pub(super) fn redact_change(change: &mut Map<String, Value>, secrets: &mut Vec<String>) {
    for (value_key, shape_key) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
        // Taken out and put back, not copied: the shape can be as large as the value.
        let shape = change.remove(shape_key);
        if let Some(value) = change.get_mut(value_key) {
            redact_by_shape(value, shape.as_ref().unwrap_or(&Value::Null), secrets);
        }
        if let Some(shape) = shape {
            change.insert(shape_key.to_owned(), shape);
        }
    }
}

/// `planned_values` / `prior_state.values`: outputs and the module tree.
pub(super) fn redact_values(values: &mut Value, secrets: &mut Vec<String>) {
    if let Some(outputs) = values.get_mut("outputs").and_then(Value::as_object_mut) {
        for output in outputs.values_mut() {
            if output.get("sensitive") == Some(&Value::Bool(true)) {
                if let Some(value) = output.get_mut("value") {
                    redact_whole(value, secrets);
                }
            }
        }
    }
    if let Some(module) = values.get_mut("root_module") {
        redact_module(module, secrets);
    }
}

pub(super) fn redact_resource(resource: &mut Map<String, Value>, secrets: &mut Vec<String>) {
    let shape = resource.remove("sensitive_values");
    if let Some(values) = resource.get_mut("values") {
        redact_by_shape(values, shape.as_ref().unwrap_or(&Value::Null), secrets);
    }
    if let Some(shape) = shape {
        resource.insert("sensitive_values".to_owned(), shape);
    }
}

fn redact_module(module: &mut Value, secrets: &mut Vec<String>) {
    let Some(obj) = module.as_object_mut() else {
        return;
    };
    for resource in array_mut(obj, "resources").filter_map(Value::as_object_mut) {
        redact_resource(resource, secrets);
    }
    for child in array_mut(obj, "child_modules") {
        redact_module(child, secrets);
    }
}

/// Redacts the defaults of sensitive variables in the configuration (root and
/// module calls) and returns the names of the root module's sensitive variables.
pub(super) fn redact_variable_defaults(
    config: Option<&mut Value>,
    secrets: &mut Vec<String>,
) -> Vec<String> {
    let Some(root) = config.and_then(|c| c.get_mut("root_module")) else {
        return Vec::new();
    };
    redact_config_module(root, secrets)
}

fn redact_config_module(module: &mut Value, secrets: &mut Vec<String>) -> Vec<String> {
    let mut sensitive = Vec::new();
    if let Some(vars) = module.get_mut("variables").and_then(Value::as_object_mut) {
        for (name, var) in vars.iter_mut() {
            if var.get("sensitive") == Some(&Value::Bool(true)) {
                sensitive.push(name.clone());
                if let Some(default) = var.get_mut("default") {
                    redact_whole(default, secrets);
                }
            }
        }
    }
    if let Some(calls) = module
        .get_mut("module_calls")
        .and_then(Value::as_object_mut)
    {
        for call in calls.values_mut() {
            if let Some(child) = call.get_mut("module") {
                redact_config_module(child, secrets);
            }
        }
    }
    sensitive
}

pub(super) fn redact_by_shape(value: &mut Value, shape: &Value, secrets: &mut Vec<String>) {
    match (shape, &mut *value) {
        (Value::Bool(true), _) => redact_whole(value, secrets),
        (_, Value::Null) => {}
        (Value::Object(shapes), Value::Object(fields)) => {
            for (key, field) in fields.iter_mut() {
                if let Some(shape) = shapes.get(key) {
                    redact_by_shape(field, shape, secrets);
                }
            }
        }
        (Value::Array(shapes), Value::Array(items)) => {
            for (item, shape) in items.iter_mut().zip(shapes) {
                redact_by_shape(item, shape, secrets);
            }
        }
        (shape, _) if marks_something(shape) => redact_whole(value, secrets),
        _ => {}
    }
}

pub(super) fn marks_something(shape: &Value) -> bool {
    match shape {
        Value::Bool(b) => *b,
        Value::Object(map) => map.values().any(marks_something),
        Value::Array(items) => items.iter().any(marks_something),
        _ => false,
    }
}

pub(super) fn redact_whole(value: &mut Value, secrets: &mut Vec<String>) {
    collect_strings(value, secrets);
    if !value.is_null() {
        *value = Value::String(REDACTED.to_owned());
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.is_empty() && s != REDACTED => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Replaces every string that equals a known secret, or contains one of at least
/// [`MIN_SUBSTRING_SECRET`] bytes, with [`REDACTED`]. One pass over the document whatever the
/// number of secrets: whole-string matches through a hash set, substrings through one
/// Aho–Corasick automaton of the long secrets (linear in the string's length). Checking every
/// string against every secret with `str::contains` made a plan whose every value is
/// sensitive cost O(strings × secrets): 9 s for 10,000 resources (issue 16).
fn scrub(value: &mut Value, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    let matcher = SecretMatcher::new(secrets);
    scrub_with(value, &matcher);
}

/// The known secrets, compiled for [`scrub`].
pub(super) struct SecretMatcher<'a> {
    whole: HashSet<&'a str>,
    /// `None` when no secret is long enough to be looked for inside other strings.
    inside: Option<Inside<'a>>,
}

enum Inside<'a> {
    Automaton(AhoCorasick),
    /// The automaton could not be built (beyond its size limits): the slow way, same answers.
    Each(Vec<&'a str>),
}

impl<'a> SecretMatcher<'a> {
    pub(super) fn new(secrets: &'a [String]) -> SecretMatcher<'a> {
        let whole = secrets.iter().map(String::as_str).collect();
        let long: Vec<&str> = secrets
            .iter()
            .map(String::as_str)
            .filter(|s| s.len() >= MIN_SUBSTRING_SECRET)
            .collect();
        let inside = (!long.is_empty()).then(|| match AhoCorasick::new(&long) {
            Ok(automaton) => Inside::Automaton(automaton),
            Err(_) => Inside::Each(long),
        });
        SecretMatcher { whole, inside }
    }

    fn leaks(&self, s: &str) -> bool {
        if self.whole.contains(s) {
            return true;
        }
        match &self.inside {
            // A string shorter than every long secret cannot contain one.
            _ if s.len() < MIN_SUBSTRING_SECRET => false,
            Some(Inside::Automaton(automaton)) => automaton.is_match(s),
            Some(Inside::Each(long)) => long.iter().any(|secret| s.contains(secret)),
            None => false,
        }
    }
}

pub(super) fn scrub_with(value: &mut Value, matcher: &SecretMatcher<'_>) {
    match value {
        Value::String(s) if matcher.leaks(s) => *s = REDACTED.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_with(v, matcher)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_with(v, matcher)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::redacted::{stream_redact, summarized_plan_json, RedactedPlan};
    use super::*;
    use serde_json::json;

    #[test]
    fn shape_redaction_table() {
        let cases = [
            (json!("pw"), json!(true), json!(REDACTED)),
            (json!("pw"), json!(false), json!("pw")),
            (json!(null), json!(true), json!(null)),
            (
                json!({"a": "x", "b": "pw"}),
                json!({"b": true}),
                json!({"a": "x", "b": REDACTED}),
            ),
            (
                json!({"a": {"b": ["x", "pw"]}}),
                json!({"a": {"b": [false, true]}}),
                json!({"a": {"b": ["x", REDACTED]}}),
            ),
            (
                json!({"a": [1, 2]}),
                json!({"a": true}),
                json!({"a": REDACTED}),
            ),
            (json!({"a": "x"}), json!({}), json!({"a": "x"})),
            // A shape that does not fit but marks something: redact it all.
            (json!("pw"), json!({"x": true}), json!(REDACTED)),
            (json!(["pw"]), json!({"x": true}), json!(REDACTED)),
            // An empty shape of another kind marks nothing.
            (json!("x"), json!([]), json!("x")),
        ];
        for (value, shape, want) in cases {
            assert_eq!(redact_value(&value, &shape), want, "{value} / {shape}");
        }
    }

    fn plan() -> Value {
        json!({
            "format_version": "1.2",
            "variables": {"db_password": {"value": "correct-horse"}, "name": {"value": "app"}},
            "planned_values": {
                "outputs": {"pw": {"sensitive": true, "value": "correct-horse"},
                            "name": {"sensitive": false, "value": "app"}},
                "root_module": {"child_modules": [{"resources": [
                    {"address": "module.m.x.y", "values": {"token": "tok-123456789"},
                     "sensitive_values": {"token": true}}]}]}
            },
            "resource_changes": [{"address": "x.y", "change": {
                "actions": ["update"],
                "before": {"conn": "postgres://u:correct-horse@db", "name": "app"},
                "after": {"conn": "postgres://u:correct-horse@db", "copy": "tok-123456789", "name": "app"},
                "before_sensitive": {}, "after_sensitive": {}}}],
            "output_changes": {"pw": {"actions": ["no-op"], "before": "correct-horse", "after": "correct-horse",
                                      "before_sensitive": true, "after_sensitive": true}},
            "configuration": {"root_module": {
                "variables": {"db_password": {"sensitive": true, "default": "correct-horse"},
                              "name": {"default": "app"}},
                "module_calls": {"m": {"module": {"variables": {
                    "inner": {"sensitive": true, "default": "inner-secret-value"}}}}}}}
        })
    }

    #[test]
    fn plan_redaction_covers_variables_outputs_state_and_copies() {
        let redacted = redact_plan_json(&plan());
        let text = redacted.to_string();
        for secret in ["correct-horse", "tok-123456789", "inner-secret-value"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(
            redacted.pointer("/variables/db_password/value"),
            Some(&json!(REDACTED))
        );
        assert_eq!(
            redacted.pointer("/variables/name/value"),
            Some(&json!("app"))
        );
        assert_eq!(
            redacted.pointer("/planned_values/outputs/name/value"),
            Some(&json!("app"))
        );
        // Copies not marked by any shape are caught by the second pass.
        assert_eq!(
            redacted.pointer("/resource_changes/0/change/after/copy"),
            Some(&json!(REDACTED))
        );
        assert_eq!(
            redacted.pointer("/resource_changes/0/change/after/conn"),
            Some(&json!(REDACTED))
        );
        assert_eq!(
            redacted.pointer("/resource_changes/0/change/after/name"),
            Some(&json!("app"))
        );
    }

    #[test]
    fn short_secrets_are_scrubbed_by_equality_only() {
        let doc = json!({
            "variables": {"pin": {"value": "1234"}, "note": {"value": "code 1234"}, "same": {"value": "1234"}},
            "configuration": {"root_module": {"variables": {"pin": {"sensitive": true}}}}
        });
        let redacted = redact_plan_json(&doc);
        assert_eq!(
            redacted.pointer("/variables/same/value"),
            Some(&json!(REDACTED))
        );
        assert_eq!(
            redacted.pointer("/variables/note/value"),
            Some(&json!("code 1234"))
        );
    }

    #[test]
    fn bad_json_does_not_echo_content() {
        let err = redacted_plan_json(b"{\"variables\": hunter2}").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    /// The scrub before issue 16 (every string against every secret), kept as the oracle.
    fn scrub_naive(value: &mut Value, secrets: &[String]) {
        match value {
            Value::String(s) => {
                let leaks = secrets.iter().any(|secret| {
                    s == secret
                        || (secret.len() >= MIN_SUBSTRING_SECRET && s.contains(secret.as_str()))
                });
                if leaks {
                    *s = REDACTED.to_owned();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| scrub_naive(v, secrets)),
            Value::Object(map) => map.values_mut().for_each(|v| scrub_naive(v, secrets)),
            _ => {}
        }
    }

    #[test]
    fn long_secrets_are_found_inside_strings_and_overlapping_ones_too() {
        let secrets: Vec<String> = ["abcdefgh", "cdefghij", "short", "é-unicode-secret"]
            .map(String::from)
            .to_vec();
        let mut doc = json!({
            "a": "xxabcdefghxx", "b": "xxcdefghijxx", "c": "ab cdefgh", "d": "short",
            "e": "a short one", "f": ["é-unicode-secret!", {"g": "cdefghi"}], "h": 12
        });
        scrub(&mut doc, &secrets);
        assert_eq!(
            doc,
            json!({
                "a": REDACTED, "b": REDACTED, "c": "ab cdefgh", "d": REDACTED,
                "e": "a short one", "f": [REDACTED, {"g": "cdefghi"}], "h": 12
            })
        );
    }

    /// Strings over a three-letter alphabet, so that secrets and strings overlap often.
    fn word() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("[abc]{0,14}").unwrap()
    }

    fn doc() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            word().prop_map(Value::String),
            any::<i32>().prop_map(|n| json!(n)),
            Just(Value::Null),
        ];
        leaf.prop_recursive(3, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(word(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// What the tree redaction gives, as the canonical text the streamed one holds.
    fn tree_redacted(doc: &Value) -> RedactedPlan {
        RedactedPlan::from_value(&redact_plan_json(doc))
    }

    fn streamed(doc: &Value) -> RedactedPlan {
        stream_redact(doc.to_string().as_bytes()).expect("valid JSON")
    }

    #[test]
    fn streamed_redaction_agrees_with_the_tree_redaction_on_fixtures() {
        let mut docs = vec![
            plan(),
            json!({"variables": {"pin": {"value": "1234"}, "same": {"value": "1234"}},
                   "configuration": {"root_module": {"variables": {"pin": {"sensitive": true}}}}}),
            json!([1, "x"]),
            json!("a string"),
            json!({"resource_changes": "not an array", "planned_values": [1, 2],
                   "prior_state": {"values": {"root_module": {"resources": 3}}}}),
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/terraform");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("show_plan_") && name.ends_with(".json") {
                docs.push(serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap());
            }
        }
        assert!(docs.len() >= 10, "the show -json fixtures are read");
        for doc in &docs {
            assert_eq!(streamed(doc), tree_redacted(doc), "{doc}");
        }
        // The secrets of the fixture plan are gone from the text, as from the tree.
        let text = streamed(&plan()).raw().get().to_owned();
        for secret in ["correct-horse", "tok-123456789", "inner-secret-value"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn streamed_redaction_refuses_bad_json_without_echoing_it() {
        let err =
            summarized_plan_json(b"{\"format_version\": \"1.2\", \"v\": hunter2}").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(stream_redact(b"{\"a\": 1} trailing").is_err());
        assert!(stream_redact(b"\xff").is_err());
    }

    /// Sensitivity shapes: booleans, and objects/arrays of them over the same keys as values.
    fn shape() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![any::<bool>().prop_map(Value::Bool), Just(json!({}))];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(word(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A plan-shaped document: every section the redaction reads, random values and shapes.
    fn plan_doc() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;
        let change = || {
            (doc(), doc(), shape(), shape()).prop_map(|(b, a, bs, as_)| {
                json!({"address": "x.y", "change": {"actions": ["update"], "before": b,
                       "after": a, "before_sensitive": bs, "after_sensitive": as_}})
            })
        };
        let resource =
            || (doc(), shape()).prop_map(|(v, s)| json!({"values": v, "sensitive_values": s}));
        let module = || {
            (vec(resource(), 0..3), vec(vec(resource(), 0..3), 0..2)).prop_map(
                |(resources, children)| {
                    let children: Vec<Value> = children
                        .into_iter()
                        .map(|r| json!({"resources": r}))
                        .collect();
                    json!({"resources": resources, "child_modules": children})
                },
            )
        };
        let output = (doc(), any::<bool>()).prop_map(|(v, s)| json!({"value": v, "sensitive": s}));
        let var = (doc(), any::<bool>()).prop_map(|(d, s)| json!({"default": d, "sensitive": s}));
        (
            vec(change(), 0..4),
            vec(change(), 0..2),
            btree_map(word(), output, 0..3),
            module(),
            module(),
            btree_map(word(), var, 0..3),
            btree_map(word(), doc(), 0..3),
            doc(),
        )
            .prop_map(
                |(changes, drift, outputs, planned, prior, vars, values, other)| {
                    let var_values: serde_json::Map<String, Value> = vars
                        .keys()
                        .chain(values.keys())
                        .map(|k| {
                            let value = values.get(k).cloned().unwrap_or(json!("v"));
                            (k.clone(), json!({ "value": value }))
                        })
                        .collect();
                    json!({
                        "format_version": "1.2",
                        "resource_changes": changes,
                        "resource_drift": drift,
                        "output_changes": {"o": {"actions": ["no-op"], "before": other.clone(),
                                                 "after": other.clone(), "after_sensitive": true}},
                        "planned_values": {"outputs": outputs, "root_module": planned},
                        "prior_state": {"values": {"root_module": prior}, "format_version": "1.0"},
                        "variables": var_values,
                        "configuration": {"root_module": {"variables": vars}},
                        "other": other,
                    })
                },
            )
    }

    proptest::proptest! {
        /// The streamed redaction (piece by piece, canonical text) gives what the tree one does.
        #[test]
        fn streamed_redaction_agrees_with_the_tree_redaction(doc in plan_doc()) {
            proptest::prop_assert_eq!(streamed(&doc), tree_redacted(&doc));
        }

        /// The linear scrub redacts exactly what the quadratic one did.
        #[test]
        fn scrub_agrees_with_the_naive_scrub(
            doc in doc(),
            mut secrets in proptest::collection::vec(word(), 0..12),
        ) {
            secrets.retain(|s| !s.is_empty());
            secrets.sort();
            secrets.dedup();
            let (mut fast, mut slow) = (doc.clone(), doc);
            scrub(&mut fast, &secrets);
            scrub_naive(&mut slow, &secrets);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
