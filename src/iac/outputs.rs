//! `output -json` → [`Outputs`].
//!
//! `output -json` prints sensitive values in plain text. [`Outputs`] keeps
//! them (the deploy needs them in memory), but its `Debug`, `Display` and
//! `Serialize` show [`REDACTED`] in their place. The getters do return
//! sensitive values: whoever calls them owns keeping the value out of logs,
//! the journal and any artifact.
//!
//! Terraform leaves outputs whose value is null out of `output -json`, so a
//! missing output and a null one cannot be told apart: both are "no value".

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::error::IacError;
use super::plan::document_error;
use super::redact::REDACTED;

#[derive(Clone, PartialEq, Deserialize)]
pub struct OutputValue {
    /// Always in `output -json`; a state document leaves it out when false.
    #[serde(default)]
    pub sensitive: bool,
    /// Terraform's type expression: `"string"`, `["map","string"]`,
    /// `["object",{…}]`, …
    #[serde(rename = "type", default)]
    pub value_type: Value,
    #[serde(default)]
    value: Value,
}

impl OutputValue {
    /// The value — sensitive or not. Keep a sensitive value out of logs.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value, or [`REDACTED`] for a sensitive one: safe to show.
    pub fn display_value(&self) -> Value {
        if self.sensitive {
            Value::String(REDACTED.to_owned())
        } else {
            self.value.clone()
        }
    }
}

impl fmt::Debug for OutputValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputValue")
            .field("sensitive", &self.sensitive)
            .field("type", &self.value_type)
            .field("value", &self.display_value())
            .finish()
    }
}

impl Serialize for OutputValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("sensitive", &self.sensitive)?;
        map.serialize_entry("type", &self.value_type)?;
        map.serialize_entry("value", &self.display_value())?;
        map.end()
    }
}

/// A root module's outputs, by name.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Outputs {
    entries: BTreeMap<String, OutputValue>,
}

impl Outputs {
    /// Parses `output -json` (an object of name → `{sensitive, type, value}`).
    pub fn from_json(bytes: &[u8]) -> Result<Outputs, IacError> {
        let entries = serde_json::from_slice(bytes)
            .map_err(|source| document_error("`output -json`", source))?;
        Ok(Outputs { entries })
    }

    /// No outputs at all: the stack was never applied (or declares none).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&OutputValue> {
        self.entries.get(name)
    }

    pub fn is_sensitive(&self, name: &str) -> bool {
        self.entries.get(name).is_some_and(|o| o.sensitive)
    }

    /// A string output; `None` when missing or null. Returns sensitive values too.
    pub fn get_string(&self, name: &str) -> Result<Option<String>, IacError> {
        match self.entries.get(name).map(OutputValue::value) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong_type(name, "a string", other)),
        }
    }

    /// A string output that must be there.
    pub fn require_string(&self, name: &str) -> Result<String, IacError> {
        self.get_string(name)?
            .ok_or_else(|| IacError::MissingOutput {
                name: name.to_owned(),
            })
    }

    /// A map or object output whose values are all strings (`map(string)`,
    /// or an object such as `{ blue = string, green = string }`). Must be there.
    pub fn get_string_map(&self, name: &str) -> Result<BTreeMap<String, String>, IacError> {
        const EXPECTED: &str = "a map of strings";
        let map = match self.entries.get(name).map(OutputValue::value) {
            None | Some(Value::Null) => {
                return Err(IacError::MissingOutput {
                    name: name.to_owned(),
                })
            }
            Some(Value::Object(map)) => map,
            Some(other) => return Err(wrong_type(name, EXPECTED, other)),
        };
        map.iter()
            .map(|(key, value)| match value {
                Value::String(s) => Ok((key.clone(), s.clone())),
                other => Err(IacError::OutputType {
                    name: name.to_owned(),
                    expected: EXPECTED,
                    found: format!("a map whose `{key}` is {}", kind(other)),
                }),
            })
            .collect()
    }
    /// A list (or set, or tuple) output whose items are all strings. Missing or null is the
    /// empty list: the outputs that use this are optional.
    pub fn get_string_list(&self, name: &str) -> Result<Vec<String>, IacError> {
        const EXPECTED: &str = "a list of strings";
        let items = match self.entries.get(name).map(OutputValue::value) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(wrong_type(name, EXPECTED, other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(IacError::OutputType {
                    name: name.to_owned(),
                    expected: EXPECTED,
                    found: format!("a list whose item {index} is {}", kind(other)),
                }),
            })
            .collect()
    }
}

fn wrong_type(name: &str, expected: &'static str, found: &Value) -> IacError {
    IacError::OutputType {
        name: name.to_owned(),
        expected,
        found: kind(found).to_owned(),
    }
}

/// The JSON kind of a value, never the value itself.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

/// One `name = value` line per output, sensitive values redacted.
impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, output) in &self.entries {
            writeln!(f, "{name} = {}", output.display_value())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "listener_arn": {"sensitive": false, "type": "string", "value": "arn:aws:elasticloadbalancing:l/1"},
        "db_password": {"sensitive": true, "type": "string", "value": "hunter2-very-secret"},
        "target_group_arns": {"sensitive": false, "type": ["object", {"blue": "string", "green": "string"}],
                              "value": {"blue": "arn:tg/blue", "green": "arn:tg/green"}},
        "ports": {"sensitive": false, "type": ["map", "number"], "value": {"http": 80}},
        "count": {"sensitive": false, "type": "number", "value": 3},
        "rule_arns": {"sensitive": false, "type": ["list", "string"], "value": ["arn:r/1", "arn:r/2"]},
        "no_rules": {"sensitive": false, "type": ["tuple", []], "value": []},
        "mixed": {"sensitive": false, "type": ["tuple", ["string", "number"]], "value": ["a", 7]},
        "future": {"sensitive": false, "type": "string", "value": "x", "deprecated": "new field"}
    }"#;

    fn outputs() -> Outputs {
        Outputs::from_json(DOC.as_bytes()).unwrap()
    }

    #[test]
    fn sensitive_values_never_appear_in_debug_display_or_json() {
        let o = outputs();
        for shown in [
            format!("{o:?}"),
            format!("{o:#?}"),
            o.to_string(),
            serde_json::to_string(&o).unwrap(),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
            assert!(
                shown.contains("arn:tg/blue"),
                "non-sensitive values stay visible: {shown}"
            );
        }
        let one = o.get("db_password").unwrap();
        assert!(!format!("{one:?}").contains("hunter2"));
        assert!(!serde_json::to_string(one).unwrap().contains("hunter2"));
    }

    #[test]
    fn getters_return_sensitive_values_for_in_memory_use() {
        let o = outputs();
        assert!(o.is_sensitive("db_password"));
        assert_eq!(
            o.require_string("db_password").unwrap(),
            "hunter2-very-secret"
        );
    }

    #[test]
    fn strings_missing_and_wrong_types() {
        let o = outputs();
        assert_eq!(
            o.get_string("listener_arn").unwrap().as_deref(),
            Some("arn:aws:elasticloadbalancing:l/1")
        );
        assert_eq!(o.get_string("test_listener_arn").unwrap(), None);
        let err = o.require_string("test_listener_arn").unwrap_err();
        assert!(
            err.to_string()
                .contains("output `test_listener_arn` is missing or null"),
            "{err}"
        );
        let err = o.get_string("count").unwrap_err();
        assert_eq!(
            err.to_string(),
            "output `count` is a number, expected a string (see docs/contract.md)"
        );
    }

    #[test]
    fn string_maps_accept_objects_and_name_the_bad_entry() {
        let o = outputs();
        let map = o.get_string_map("target_group_arns").unwrap();
        assert_eq!(map["blue"], "arn:tg/blue");
        assert_eq!(map["green"], "arn:tg/green");
        let err = o.get_string_map("ports").unwrap_err();
        assert!(
            err.to_string()
                .contains("output `ports` is a map whose `http` is a number"),
            "{err}"
        );
        assert!(matches!(
            o.get_string_map("listener_arn"),
            Err(IacError::OutputType { .. })
        ));
        assert!(matches!(
            o.get_string_map("nope"),
            Err(IacError::MissingOutput { .. })
        ));
    }

    #[test]
    fn string_lists_are_optional_and_name_the_bad_item() {
        let o = outputs();
        assert_eq!(
            o.get_string_list("rule_arns").unwrap(),
            ["arn:r/1", "arn:r/2"]
        );
        assert!(o.get_string_list("no_rules").unwrap().is_empty());
        assert!(o.get_string_list("extra_listener_arns").unwrap().is_empty());
        let err = o.get_string_list("mixed").unwrap_err();
        assert_eq!(
            err.to_string(),
            "output `mixed` is a list whose item 1 is a number, expected a list of strings \
             (see docs/contract.md)"
        );
        let err = o.get_string_list("listener_arn").unwrap_err();
        assert!(
            err.to_string()
                .contains("output `listener_arn` is a string, expected a list of strings"),
            "{err}"
        );
    }

    #[test]
    fn type_errors_never_print_the_value() {
        let o = Outputs::from_json(
            br#"{"pw": {"sensitive": true, "type": "number", "value": 123456789}}"#,
        )
        .unwrap();
        let err = o.get_string("pw").unwrap_err();
        assert!(!err.to_string().contains("123456789"), "{err}");
    }

    #[test]
    fn bad_json_is_reported_without_content() {
        let err =
            Outputs::from_json(br#"{"pw": {"sensitive": true, "value": hunter2}}"#).unwrap_err();
        assert!(matches!(err, IacError::BadJson { excerpt: None, .. }));
        assert!(!err.to_string().contains("hunter2"));
    }
}
