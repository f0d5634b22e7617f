//! The machine-readable UI stream (`plan -json`, `apply -json`): one JSON
//! object per line.
//!
//! Tolerant by design: unknown message types become [`UiEvent::Other`] and
//! unknown fields are ignored, because new ones appear between releases. What
//! is not tolerated is a UI format with an unknown major version, or a tool
//! too old for the flags bluegreen passes.
//!
//! The stream spells actions differently from plan JSON (`noop`, `replace`,
//! `remove` for a forget); see [`UiAction`]. The plan JSON from `show -json`
//! is the authority on what a plan does; this stream is for progress and
//! diagnostics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::discover::IacKind;
use super::error::IacError;

/// The UI format major version bluegreen understands.
pub const UI_MAJOR: u64 = 1;
/// Oldest releases with everything bluegreen uses (`workspace select -or-create`
/// arrived in Terraform 1.4; OpenTofu has had it since its first release).
pub const MIN_TERRAFORM: (u64, u64) = (1, 4);
pub const MIN_TOFU: (u64, u64) = (1, 6);

/// One line of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct UiMessage {
    /// `@level`: `info`, `warn`, `error`, … (`apply_errored` is `info`: the
    /// `diagnostic` that follows it carries the error).
    pub level: String,
    /// `@message`: the human-readable line.
    pub message: String,
    pub timestamp: String,
    pub event: UiEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UiEvent {
    Version(ToolVersion),
    Log,
    Diagnostic(Diagnostic),
    PlannedChange(PlannedChange),
    ResourceDrift(PlannedChange),
    ChangeSummary(ChangeSummary),
    ApplyStart(Hook),
    ApplyProgress(Hook),
    ApplyComplete(Hook),
    ApplyErrored(Hook),
    ProvisionStart(Hook),
    ProvisionProgress(Hook),
    ProvisionComplete(Hook),
    ProvisionErrored(Hook),
    RefreshStart(Hook),
    RefreshComplete(Hook),
    /// Output names and what happens to them. Sensitive outputs never carry
    /// a value here (the stream omits it; the parser drops it if present).
    Outputs(BTreeMap<String, UiOutput>),
    /// A message type bluegreen does not know (kept by name, otherwise ignored).
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolVersion {
    pub kind: IacKind,
    pub version: String,
    pub ui: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    #[serde(default)]
    pub detail: String,
    /// The resource the diagnostic is about, when Terraform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<SourceRange>,
}

#[cfg(test)]
impl Diagnostic {
    /// An error diagnostic with no address or range (tests of the error readings).
    pub(crate) fn error_for_tests(summary: &str, detail: &str) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            address: None,
            range: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRange {
    pub filename: String,
    pub start: SourcePos,
    pub end: SourcePos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePos {
    pub line: u64,
    pub column: u64,
    #[serde(default)]
    pub byte: u64,
}

/// The stream's spelling of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UiAction {
    Noop,
    Create,
    Read,
    Update,
    Replace,
    Delete,
    /// Plan JSON's `forget`: the object leaves the state but is not destroyed.
    Remove,
    Move,
    Import,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResourceAddr {
    pub addr: String,
    #[serde(default)]
    pub module: String,
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub resource_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlannedChange {
    pub resource: ResourceAddr,
    #[serde(default)]
    pub previous_resource: Option<ResourceAddr>,
    pub action: UiAction,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The payload of `apply_*`, `provision_*` and `refresh_*` messages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hook {
    pub resource: ResourceAddr,
    #[serde(default)]
    pub action: Option<UiAction>,
    #[serde(default)]
    pub id_key: Option<String>,
    #[serde(default)]
    pub id_value: Option<String>,
    #[serde(default)]
    pub elapsed_seconds: Option<u64>,
    #[serde(default)]
    pub provisioner: Option<String>,
    /// A line the provisioner printed (Terraform suppresses it when the
    /// command involves a sensitive value).
    #[serde(default)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    pub add: u64,
    pub change: u64,
    #[serde(default)]
    pub import: u64,
    pub remove: u64,
    /// `plan`, `apply` or `destroy`.
    #[serde(default)]
    pub operation: ChangeOperation,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOperation {
    Plan,
    Apply,
    Destroy,
    #[default]
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UiOutput {
    pub sensitive: bool,
    /// Present in plans (what will happen to the output).
    #[serde(default)]
    pub action: Option<UiAction>,
    /// Present after apply.
    #[serde(default, rename = "type")]
    pub value_type: Option<Value>,
    /// Present after apply, never for a sensitive output.
    #[serde(default)]
    pub value: Option<Value>,
}

/// The envelope every line shares; the payload is picked by `type`.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "@level", default)]
    level: String,
    #[serde(rename = "@message", default)]
    message: String,
    #[serde(rename = "@timestamp", default)]
    timestamp: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Parses one line of the stream. Blank lines give `Ok(None)`.
pub fn parse_ui_line(line: &str) -> Result<Option<UiMessage>, serde_json::Error> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let mut env: Envelope = serde_json::from_str(line)?;
    let event = event(&env.kind, &mut env.rest)?;
    Ok(Some(UiMessage {
        level: env.level,
        message: env.message,
        timestamp: env.timestamp,
        event,
    }))
}

fn event(kind: &str, rest: &mut Map<String, Value>) -> Result<UiEvent, serde_json::Error> {
    let mut take = |field: &str| rest.remove(field).unwrap_or(Value::Null);
    Ok(match kind {
        "version" => UiEvent::Version(tool_version(&take("terraform"), &take("tofu"), &take("ui"))),
        "log" => UiEvent::Log,
        "diagnostic" => UiEvent::Diagnostic(serde_json::from_value(take("diagnostic"))?),
        "planned_change" => UiEvent::PlannedChange(serde_json::from_value(take("change"))?),
        "resource_drift" => UiEvent::ResourceDrift(serde_json::from_value(take("change"))?),
        "change_summary" => UiEvent::ChangeSummary(serde_json::from_value(take("changes"))?),
        "outputs" => UiEvent::Outputs(outputs(take("outputs"))?),
        "apply_start" => UiEvent::ApplyStart(serde_json::from_value(take("hook"))?),
        "apply_progress" => UiEvent::ApplyProgress(serde_json::from_value(take("hook"))?),
        "apply_complete" => UiEvent::ApplyComplete(serde_json::from_value(take("hook"))?),
        "apply_errored" => UiEvent::ApplyErrored(serde_json::from_value(take("hook"))?),
        "provision_start" => UiEvent::ProvisionStart(serde_json::from_value(take("hook"))?),
        "provision_progress" => UiEvent::ProvisionProgress(serde_json::from_value(take("hook"))?),
        "provision_complete" => UiEvent::ProvisionComplete(serde_json::from_value(take("hook"))?),
        "provision_errored" => UiEvent::ProvisionErrored(serde_json::from_value(take("hook"))?),
        "refresh_start" => UiEvent::RefreshStart(serde_json::from_value(take("hook"))?),
        "refresh_complete" => UiEvent::RefreshComplete(serde_json::from_value(take("hook"))?),
        other => UiEvent::Other(other.to_owned()),
    })
}

fn tool_version(terraform: &Value, tofu: &Value, ui: &Value) -> ToolVersion {
    let (kind, version) = match (tofu.as_str(), terraform.as_str()) {
        (Some(v), _) => (IacKind::Tofu, v),
        (None, Some(v)) => (IacKind::Terraform, v),
        (None, None) => (IacKind::Terraform, ""),
    };
    ToolVersion {
        kind,
        version: version.to_owned(),
        ui: ui.as_str().unwrap_or_default().to_owned(),
    }
}

fn outputs(value: Value) -> Result<BTreeMap<String, UiOutput>, serde_json::Error> {
    let mut outputs: BTreeMap<String, UiOutput> = serde_json::from_value(value)?;
    for output in outputs.values_mut().filter(|o| o.sensitive) {
        output.value = None;
    }
    Ok(outputs)
}

impl ToolVersion {
    /// Rejects a UI format with an unknown major and a tool older than
    /// bluegreen needs.
    pub fn check(&self) -> Result<(), IacError> {
        match major_minor(&self.ui) {
            Some((UI_MAJOR, _)) => {}
            _ => {
                return Err(IacError::UnsupportedVersion {
                    what: "machine-readable UI (-json) format",
                    found: self.ui.clone(),
                    supported: "1.x",
                })
            }
        }
        let (minimum, supported) = match self.kind {
            IacKind::Terraform => (MIN_TERRAFORM, "Terraform 1.4 or newer"),
            IacKind::Tofu => (MIN_TOFU, "OpenTofu 1.6 or newer"),
        };
        match major_minor(&self.version) {
            Some(found) if found >= minimum => Ok(()),
            _ => Err(IacError::UnsupportedVersion {
                what: self.kind.name(),
                found: self.version.clone(),
                supported,
            }),
        }
    }
}

/// `"1.11.4"` → `(1, 11)`; also accepts `"1.2"` and pre-release suffixes.
pub(crate) fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor_part = parts.next().unwrap_or("0");
    let digits = minor_part
        .find(|c: char| !c.is_ascii_digit())
        .map_or(minor_part, |end| &minor_part[..end]);
    Some((major, digits.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(line: &str) -> UiMessage {
        parse_ui_line(line).unwrap().unwrap()
    }

    #[test]
    fn version_line_for_terraform_and_tofu() {
        let tf = parse(
            r#"{"@level":"info","@message":"Terraform 1.11.4","type":"version","terraform":"1.11.4","ui":"1.2"}"#,
        );
        let UiEvent::Version(v) = tf.event else {
            panic!("{tf:?}")
        };
        assert_eq!(
            (v.kind, v.version.as_str(), v.ui.as_str()),
            (IacKind::Terraform, "1.11.4", "1.2")
        );
        v.check().unwrap();

        let tofu =
            parse(r#"{"@message":"OpenTofu 1.8.0","type":"version","tofu":"1.8.0","ui":"1.2"}"#);
        let UiEvent::Version(v) = tofu.event else {
            panic!()
        };
        assert_eq!(v.kind, IacKind::Tofu);
        v.check().unwrap();
    }

    #[test]
    fn unknown_ui_major_and_old_tools_are_rejected() {
        let v = |kind, version: &str, ui: &str| ToolVersion {
            kind,
            version: version.into(),
            ui: ui.into(),
        };
        let err = v(IacKind::Terraform, "1.11.4", "2.0").check().unwrap_err();
        assert!(
            err.to_string().contains("version 2.0 is not supported"),
            "{err}"
        );
        assert!(v(IacKind::Terraform, "1.3.9", "1.1").check().is_err());
        assert!(v(IacKind::Terraform, "", "1.2").check().is_err());
        assert!(v(IacKind::Tofu, "1.5.0", "1.2").check().is_err());
        v(IacKind::Terraform, "1.4.0", "1.1").check().unwrap();
        v(IacKind::Tofu, "1.10.0-beta1", "1.2").check().unwrap();
    }

    #[test]
    fn major_minor_parses_what_tools_print() {
        assert_eq!(major_minor("1.11.4"), Some((1, 11)));
        assert_eq!(major_minor("1.2"), Some((1, 2)));
        assert_eq!(major_minor("v1.10-rc1"), Some((1, 10)));
        assert_eq!(major_minor("x.1"), None);
    }

    #[test]
    fn unknown_types_and_fields_are_tolerated() {
        let m = parse(r#"{"@level":"info","@message":"m","type":"brand_new","brand_new":{"x":1}}"#);
        assert_eq!(m.event, UiEvent::Other("brand_new".into()));
        let m = parse(
            r#"{"type":"change_summary","changes":{"add":1,"change":0,"remove":2,"operation":"plan","action_invocation":3},"novel":true}"#,
        );
        assert_eq!(
            m.event,
            UiEvent::ChangeSummary(ChangeSummary {
                add: 1,
                change: 0,
                import: 0,
                remove: 2,
                operation: ChangeOperation::Plan
            })
        );
        assert_eq!(parse_ui_line("   ").unwrap(), None);
        assert!(parse_ui_line("Error: not json").is_err());
    }

    #[test]
    fn stream_actions_are_spelled_differently_from_plan_json() {
        for (word, action) in [
            ("noop", UiAction::Noop),
            ("replace", UiAction::Replace),
            ("remove", UiAction::Remove),
            ("delete", UiAction::Delete),
            ("something_new", UiAction::Other),
        ] {
            let line = json!({"type": "planned_change", "change": {
                "resource": {"addr": "a.b", "resource_type": "a", "resource_name": "b"},
                "action": word}})
            .to_string();
            let UiEvent::PlannedChange(change) = parse(&line).event else {
                panic!()
            };
            assert_eq!(change.action, action, "{word}");
        }
    }

    #[test]
    fn sensitive_output_values_are_dropped_even_if_present() {
        let line = json!({"type": "outputs", "outputs": {
            "secret": {"sensitive": true, "type": "string", "value": "leaked"},
            "name": {"sensitive": false, "type": "string", "value": "app"}}})
        .to_string();
        let UiEvent::Outputs(outputs) = parse(&line).event else {
            panic!()
        };
        assert_eq!(outputs["secret"].value, None);
        assert_eq!(outputs["name"].value, Some(json!("app")));
        assert!(!format!("{outputs:?}").contains("leaked"));
    }

    #[test]
    fn diagnostic_with_range() {
        let m = parse(
            r#"{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"S","detail":"D","address":"x.y","range":{"filename":"main.tf","start":{"line":1,"column":2,"byte":3},"end":{"line":1,"column":5,"byte":6}},"snippet":{"code":"c"}}}"#,
        );
        let UiEvent::Diagnostic(d) = m.event else {
            panic!()
        };
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(d.address.as_deref(), Some("x.y"));
        assert_eq!(d.range.unwrap().start.line, 1);
    }
}
