//! `show -json` of a saved plan → [`PlanSummary`].
//!
//! `show -json` prints sensitive values in plain text. The summary therefore
//! keeps no values at all — addresses, actions and reasons only — so it can
//! be logged, printed and written into a plan artifact as it is. For a copy
//! of the document with values, use [`super::redact::redact_plan_json`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use super::error::IacError;

/// Plan JSON majors bluegreen reads. 0.x (Terraform 0.12–0.15) and 1.x have
/// the same shape for everything the summary uses.
const PLAN_MAJORS: &[u64] = &[0, 1];

/// What a plan does to one resource instance (or output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    Replace(ReplaceOrder),
    Delete,
    /// Removed from state without being destroyed (`removed` with `destroy = false`).
    Forget,
}

/// The two orders of a replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplaceOrder {
    /// `["delete","create"]`: the default; there is a gap without the object.
    DeleteThenCreate,
    /// `["create","delete"]`: `create_before_destroy`.
    CreateThenDelete,
}

impl Action {
    /// Parses plan JSON's `actions` array.
    pub fn from_plan_actions<S: AsRef<str>>(actions: &[S]) -> Option<Action> {
        let words: Vec<&str> = actions.iter().map(AsRef::as_ref).collect();
        Some(match words.as_slice() {
            ["no-op"] => Action::NoOp,
            ["create"] => Action::Create,
            ["read"] => Action::Read,
            ["update"] => Action::Update,
            ["delete", "create"] => Action::Replace(ReplaceOrder::DeleteThenCreate),
            ["create", "delete"] => Action::Replace(ReplaceOrder::CreateThenDelete),
            ["delete"] => Action::Delete,
            ["forget"] => Action::Forget,
            _ => return None,
        })
    }

    /// Plan JSON's spelling, with a replacement as `delete-create` or `create-delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Replace(ReplaceOrder::DeleteThenCreate) => "delete-create",
            Action::Replace(ReplaceOrder::CreateThenDelete) => "create-delete",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One entry of `resource_changes`, without its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub address: String,
    /// Set when the resource moved (`moved` block) in this plan.
    pub previous_address: Option<String>,
    pub module_address: Option<String>,
    /// `managed` or `data`.
    pub mode: String,
    pub r#type: String,
    pub name: String,
    /// Set for a deposed object (a leftover of an interrupted create-before-destroy).
    pub deposed: Option<String>,
    pub action: Action,
    /// Why, e.g. `replace_because_tainted`, `replace_because_cannot_update`,
    /// `delete_because_no_resource_config`.
    pub action_reason: Option<String>,
}

/// A plan without its values: safe to log, print and serialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub format_version: String,
    /// The version that made the plan (OpenTofu writes its own version here too).
    pub terraform_version: String,
    /// In plan order; includes no-ops and data-source reads.
    pub resource_changes: Vec<ResourceChange>,
    /// Counts of resource changes by action. Unlike Terraform's "N to add,
    /// M to destroy" (where a replacement counts in both), each change counts
    /// once: `add` = creates, `change` = updates, `replace` = replacements in
    /// either order, `destroy` = deletes, `forget` = forgets.
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    pub forget: usize,
    /// Every output and its action (`no-op` included), by name.
    pub output_changes: Vec<(String, Action)>,
}

impl PlanSummary {
    /// Parses `show -json` output. Values are read past, never kept.
    pub fn from_json(bytes: &[u8]) -> Result<PlanSummary, IacError> {
        let raw: RawPlan = serde_json::from_slice(bytes)
            .map_err(|source| document_error("`show -json` plan", source))?;
        PlanSummary::from_raw(raw)
    }

    /// [`PlanSummary::from_json`] of a document parsed already (no second parse, no copy of
    /// its values).
    pub fn from_value(plan: &serde_json::Value) -> Result<PlanSummary, IacError> {
        let raw = RawPlan::deserialize(plan)
            .map_err(|source| document_error("`show -json` plan", source))?;
        PlanSummary::from_raw(raw)
    }

    fn from_raw(raw: RawPlan) -> Result<PlanSummary, IacError> {
        check_format_version(&raw.format_version)?;
        let resource_changes = raw
            .resource_changes
            .into_iter()
            .map(RawResourceChange::into_change)
            .collect::<Result<Vec<_>, _>>()?;
        let output_changes = raw
            .output_changes
            .into_iter()
            .map(|(name, change)| {
                let action = parse_action(&format!("output.{name}"), change.actions)?;
                Ok((name, action))
            })
            .collect::<Result<Vec<_>, IacError>>()?;
        let count = |wanted: fn(Action) -> bool| {
            resource_changes.iter().filter(|c| wanted(c.action)).count()
        };
        Ok(PlanSummary {
            add: count(|a| a == Action::Create),
            change: count(|a| a == Action::Update),
            replace: count(|a| matches!(a, Action::Replace(_))),
            destroy: count(|a| a == Action::Delete),
            forget: count(|a| a == Action::Forget),
            format_version: raw.format_version,
            terraform_version: raw.terraform_version,
            resource_changes,
            output_changes,
        })
    }

    /// Resource changes that do something (not `no-op`, not a data-source read).
    pub fn effective_changes(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
    }
}

fn check_format_version(found: &str) -> Result<(), IacError> {
    let major = found.split('.').next().and_then(|m| m.parse::<u64>().ok());
    match major {
        Some(major) if PLAN_MAJORS.contains(&major) => Ok(()),
        _ => Err(IacError::UnsupportedVersion {
            what: "plan JSON format",
            found: found.to_owned(),
            supported: "0.x and 1.x",
        }),
    }
}

fn parse_action(address: &str, actions: Vec<String>) -> Result<Action, IacError> {
    Action::from_plan_actions(&actions).ok_or_else(|| IacError::UnknownAction {
        address: address.to_owned(),
        actions,
    })
}

/// The error for a JSON document that may hold sensitive values: its
/// position only, never its content.
pub(crate) fn document_error(what: &str, source: serde_json::Error) -> IacError {
    IacError::BadJson {
        what: what.to_owned(),
        position: format!("line {}, column {}", source.line(), source.column()),
        excerpt: None,
        source,
    }
}

#[derive(Deserialize)]
struct RawPlan {
    format_version: String,
    #[serde(default, alias = "tofu_version")]
    terraform_version: String,
    #[serde(default)]
    resource_changes: Vec<RawResourceChange>,
    #[serde(default)]
    output_changes: BTreeMap<String, RawChange>,
}

#[derive(Deserialize)]
struct RawResourceChange {
    address: String,
    #[serde(default)]
    previous_address: Option<String>,
    #[serde(default)]
    module_address: Option<String>,
    #[serde(default)]
    mode: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    deposed: Option<String>,
    change: RawChange,
    #[serde(default)]
    action_reason: Option<String>,
}

/// Only `actions`: `before`/`after` (which may be sensitive) are skipped by serde.
#[derive(Deserialize)]
struct RawChange {
    actions: Vec<String>,
}

impl RawResourceChange {
    fn into_change(self) -> Result<ResourceChange, IacError> {
        let action = parse_action(&self.address, self.change.actions)?;
        Ok(ResourceChange {
            address: self.address,
            previous_address: self.previous_address,
            module_address: self.module_address,
            mode: self.mode,
            r#type: self.kind,
            name: self.name,
            deposed: self.deposed,
            action,
            action_reason: self.action_reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_plan_json_action_spelling() {
        let table: &[(&[&str], Action)] = &[
            (&["no-op"], Action::NoOp),
            (&["create"], Action::Create),
            (&["read"], Action::Read),
            (&["update"], Action::Update),
            (
                &["delete", "create"],
                Action::Replace(ReplaceOrder::DeleteThenCreate),
            ),
            (
                &["create", "delete"],
                Action::Replace(ReplaceOrder::CreateThenDelete),
            ),
            (&["delete"], Action::Delete),
            (&["forget"], Action::Forget),
        ];
        for (words, action) in table {
            assert_eq!(Action::from_plan_actions(words), Some(*action), "{words:?}");
        }
        for unknown in [
            &[][..],
            &["noop"],
            &["replace"],
            &["create", "create"],
            &["delete", "forget"],
        ] {
            assert_eq!(Action::from_plan_actions(unknown), None, "{unknown:?}");
        }
    }

    fn plan(changes: serde_json::Value) -> serde_json::Value {
        json!({
            "format_version": "1.2",
            "terraform_version": "1.11.4",
            "resource_changes": changes,
            "output_changes": {
                "url": {"actions": ["update"], "before": "a", "after": "b"},
                "password": {"actions": ["no-op"], "before": "hunter2", "after": "hunter2",
                             "before_sensitive": true, "after_sensitive": true}
            }
        })
    }

    fn change(address: &str, actions: &[&str]) -> serde_json::Value {
        json!({"address": address, "mode": "managed", "type": "aws_lb", "name": "x",
               "change": {"actions": actions, "before": {"secret": "hunter2"}, "after": null}})
    }

    #[test]
    fn counts_each_change_once_by_action() {
        let doc = plan(json!([
            change("a.create", &["create"]),
            change("a.update", &["update"]),
            change("a.cbd", &["create", "delete"]),
            change("a.dbc", &["delete", "create"]),
            change("a.delete", &["delete"]),
            change("a.forget", &["forget"]),
            change("a.noop", &["no-op"]),
        ]));
        let summary = PlanSummary::from_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(
            (
                summary.add,
                summary.change,
                summary.replace,
                summary.destroy,
                summary.forget
            ),
            (1, 1, 2, 1, 1)
        );
        assert_eq!(summary.effective_changes().count(), 6);
        assert_eq!(
            summary.output_changes,
            [
                ("password".to_owned(), Action::NoOp),
                ("url".to_owned(), Action::Update)
            ]
        );
        assert_eq!(
            summary.resource_changes[2].action.to_string(),
            "create-delete"
        );
    }

    #[test]
    fn summary_keeps_no_values() {
        let doc = plan(json!([change("a.b", &["update"])]));
        let summary = PlanSummary::from_json(doc.to_string().as_bytes()).unwrap();
        assert!(!format!("{summary:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&summary).unwrap().contains("hunter2"));
    }

    #[test]
    fn unknown_action_names_the_resource() {
        let doc = plan(json!([change("aws_lb.main", &["teleport"])]));
        let err = PlanSummary::from_json(doc.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("aws_lb.main"), "{err}");
        assert!(err.to_string().contains("teleport"), "{err}");
    }

    #[test]
    fn format_version_majors() {
        for (version, ok) in [
            ("0.1", true),
            ("1.0", true),
            ("1.9", true),
            ("2.0", false),
            ("", false),
        ] {
            let doc = json!({"format_version": version});
            let result = PlanSummary::from_json(doc.to_string().as_bytes());
            assert_eq!(result.is_ok(), ok, "{version}: {result:?}");
        }
        let err = PlanSummary::from_json(br#"{"format_version":"2.0"}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("plan JSON format version 2.0 is not supported"),
            "{err}"
        );
    }

    #[test]
    fn bad_json_reports_position_not_content() {
        let err = PlanSummary::from_json(
            b"{\"format_version\": \"1.2\", \"variables\": {\"pw\": hunter2}}",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 1, column"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
