//! Is the idle color's saved plan safe to apply? A pure check of a redacted
//! `show -json` plan ([`super::redact`]) against the environment's policy.
//!
//! [`check_plan`] returns one [`Finding`] per rule a resource change breaks;
//! an empty list means the plan passed. The rules, exactly:
//!
//! - [`Rule::ProtectedDestroy`] / [`Rule::ProtectedReplace`]: a change of a
//!   managed resource whose action is `delete` (destroy) or a replacement in
//!   either order, `delete-create` or `create-delete` (replace), and whose
//!   `address` or `previous_address` (a `moved` block) matches one of
//!   [`SafetyPolicy::protected`]. A deposed object (`deposed` set) carries the
//!   address of the resource it belongs to and is judged by it. Patterns are
//!   [`wildmatch`] globs: `*` is any run of characters (dots and brackets
//!   included), `?` one character, everything else literal — so `[0]` and
//!   `["key"]` in an address match only themselves. Data sources are never
//!   destroyed and are skipped.
//! - `forget` (a `removed` block with `destroy = false`) is **not** a finding:
//!   the object keeps running, only the idle stack stops managing it, and the
//!   plan summary already counts it (`PlanSummary::forget`) for the reviewer.
//! - [`Rule::ForeignObject`]: the idle stack would act on an object that the
//!   shared stack or the live color manages ([`ForeignObjects`], built from
//!   their states): an action other than `no-op`, `read` and `create` whose
//!   `change.before.id` or `change.before.arn` is foreign; a `create` whose
//!   `change.after.id` / `after.arn` is known and foreign; and any change with
//!   `change.importing` (whatever its action: an import of a foreign object
//!   makes two states manage it even when the import itself changes nothing)
//!   whose `importing.id`, `before.id/arn` or `after.id/arn` is foreign.
//! - [`Rule::ProductionReference`]: an action other than `no-op`, `read`,
//!   `delete` and `forget` (those leave no `after`) whose `change.after` holds,
//!   at any depth, a string *equal* to one of [`SafetyPolicy::production`]'s
//!   values — e.g. a listener rule or an ECS service attached to the
//!   production listener or the live color's target group. One finding per
//!   value, naming the first place it appears.
//! - [`Rule::TargetGroupReplace`]: a replacement in either order of an
//!   `aws_lb_target_group` / `aws_alb_target_group` whose prior ARN
//!   (`change.before.arn`, else `before.id`) is in use: a forward of an
//!   `aws_lb_listener` / `aws_lb_listener_rule` (or their `aws_alb_` aliases) or
//!   the `load_balancer` of an `aws_ecs_service` holds it, as
//!   `target_group_arn` or a `forward.target_group[].arn`, at any depth. The
//!   users are read from the other stacks' states ([`ForeignObjects`]) and from
//!   the plan itself: for `delete-create`, the `before` of every user the plan
//!   keeps (`no-op` or `update`) — the old target group is deleted before they
//!   change; for `create-delete`, their planned `after` — a user the same plan
//!   moves to the new target group no longer holds the old one when it is
//!   deleted. AWS refuses to delete a target group a listener or rule forwards
//!   to (`ResourceInUse`), and a fixed name rules out `create_before_destroy`.
//!
//! What the check cannot see: values the redaction replaced with
//! [`REDACTED`] (a secret never matches anything) and values unknown until
//! apply (`null` in the plan). An ARN embedded inside a longer string (a
//! `jsonencode`d policy) is not an equal value and is not reported.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use wildmatch::WildMatch;

use super::error::IacError;
use super::plan::{Action, PlanSummary, ReplaceOrder, ResourceChange};
use super::redact::REDACTED;
use super::redacted::RedactedPlan;

/// Objects other stacks manage: the `id` and `arn` values of every managed
/// resource instance in the shared stack's and the live color's Terraform
/// state, labelled with the owner.
#[derive(Debug, Clone, Default)]
pub struct ForeignObjects {
    /// `id` or `arn` value → (owner, address in the owner's state).
    objects: BTreeMap<String, (String, String)>,
    /// Target group ARN → (owner, address) of the first listener, listener rule or ECS
    /// service of those states that forwards to it or is attached to it.
    target_group_users: BTreeMap<String, (String, String)>,
}

impl ForeignObjects {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every managed resource instance of a `show -json` state document
    /// (root module and child modules, recursively): its `values.id` and
    /// `values.arn` when they are non-empty strings. A value the state marks
    /// sensitive (`sensitive_values`) is skipped, so nothing secret is kept.
    /// The first owner added for a value keeps it.
    pub fn add_state(&mut self, owner: &str, state_json: &Value) {
        if let Some(root) = state_json.pointer("/values/root_module") {
            self.add_module(owner, root);
        }
    }

    fn add_module(&mut self, owner: &str, module: &Value) {
        for resource in array(module, "resources") {
            if resource.get("mode").and_then(Value::as_str) != Some("managed") {
                continue;
            }
            let address = resource
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if is_target_group_user(resource.get("type").and_then(Value::as_str)) {
                let mut arns = Vec::new();
                target_group_refs(resource.get("values").unwrap_or(&Value::Null), &mut arns);
                for arn in arns {
                    self.target_group_users
                        .entry(arn.to_owned())
                        .or_insert_with(|| (owner.to_owned(), address.to_owned()));
                }
            }
            for key in ["id", "arn"] {
                let sensitive = resource.pointer(&format!("/sensitive_values/{key}"));
                if sensitive.is_some_and(|s| s != &Value::Bool(false)) {
                    continue;
                }
                if let Some(value) = usable(resource.pointer(&format!("/values/{key}"))) {
                    self.objects
                        .entry(value.to_owned())
                        .or_insert_with(|| (owner.to_owned(), address.to_owned()));
                }
            }
        }
        for child in array(module, "child_modules") {
            self.add_module(owner, child);
        }
    }

    /// The owner and address of the object with this `id` or `arn`.
    pub fn get(&self, value: &str) -> Option<(&str, &str)> {
        self.objects
            .get(value)
            .map(|(owner, address)| (owner.as_str(), address.as_str()))
    }

    /// The owner and address of a listener, listener rule or ECS service of these states
    /// that uses the target group `arn`.
    pub fn target_group_user(&self, arn: &str) -> Option<(&str, &str)> {
        self.target_group_users
            .get(arn)
            .map(|(owner, address)| (owner.as_str(), address.as_str()))
    }

    /// The number of `id`/`arn` values known (target group users not counted).
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// What the environment forbids the idle color's plan to do.
#[derive(Debug, Clone, Copy)]
pub struct SafetyPolicy<'a> {
    /// Address patterns the environment protects, e.g. `aws_db_instance.main`,
    /// `module.data.*`, `aws_ecs_service.*` (see the module doc for the syntax).
    pub protected: &'a [String],
    pub foreign: &'a ForeignObjects,
    /// Values that must never appear in the planned `after` of a changed
    /// resource of the idle stack, with what each is ("production listener"):
    /// the production listener ARNs and the live color's target group ARN.
    pub production: &'a [(String, String)],
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    /// The resource instance's address in the idle stack's plan.
    pub address: String,
    /// The plan action ([`Action::as_str`]): `delete`, `delete-create`, …
    pub action: String,
    /// A sentence naming the pattern, owner or value.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    ProtectedDestroy,
    ProtectedReplace,
    ForeignObject,
    ProductionReference,
    TargetGroupReplace,
}

/// Checks a redacted `show -json` plan ([`super::redact_plan_json`]'s
/// output) against `policy`. Findings come in plan order. Errors: an
/// unsupported plan format version or an unknown action (the plan cannot be
/// judged), as for [`PlanSummary::from_json`].
pub fn check_plan(redacted_plan: &Value, policy: &SafetyPolicy) -> Result<Vec<Finding>, IacError> {
    // The summary parser owns the version check and the action spelling (values are read
    // past, not kept).
    let summary = PlanSummary::from_value(redacted_plan)?;
    let raw_changes: Vec<&Value> = redacted_plan
        .get("resource_changes")
        .and_then(Value::as_array)
        .map(|changes| changes.iter().collect())
        .unwrap_or_default();
    judge(&summary, raw_changes.len(), policy, |i| {
        Ok(Cow::Borrowed(raw_changes[i]))
    })
}

/// [`check_plan`] of a plan held as text ([`RedactedPlan`]): the same findings, with one
/// resource change parsed at a time (and the few listeners, rules and services the
/// target-group rule compares with, kept), never the whole plan.
pub fn check_redacted_plan(
    redacted_plan: &RedactedPlan,
    policy: &SafetyPolicy,
) -> Result<Vec<Finding>, IacError> {
    #[derive(serde::Deserialize)]
    struct Changes<'a> {
        #[serde(borrow, default)]
        resource_changes: Option<Vec<&'a RawValue>>,
    }
    let text = redacted_plan.raw().get();
    let summary = PlanSummary::from_json(text.as_bytes())?;
    let parse_error = |source| super::plan::document_error("redacted plan", source);
    let raw_changes = match serde_json::from_str::<Changes>(text) {
        Ok(changes) => changes.resource_changes.unwrap_or_default(),
        // Not an object, or `resource_changes` not an array: as `check_plan` reads it.
        Err(_) => Vec::new(),
    };
    judge(&summary, raw_changes.len(), policy, |i| {
        serde_json::from_str(raw_changes[i].get())
            .map(Cow::Owned)
            .map_err(parse_error)
    })
}

/// The findings for `summary`'s changes, the `i`-th change's JSON from `change(i)` (`count`
/// of them).
fn judge<'v>(
    summary: &PlanSummary,
    count: usize,
    policy: &SafetyPolicy,
    change: impl Fn(usize) -> Result<Cow<'v, Value>, IacError>,
) -> Result<Vec<Finding>, IacError> {
    let protected: Vec<(&str, WildMatch)> = policy
        .protected
        .iter()
        .map(|p| (p.as_str(), WildMatch::new(p)))
        .collect();
    let changes = &summary.resource_changes[..summary.resource_changes.len().min(count)];
    let mut user_values = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        if PlanUsers::is_user(c) {
            user_values.push((c, change(i)?));
        }
    }
    let users = PlanUsers::of(&user_values);
    let mut findings = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let raw = change(i)?;
        let body = raw.get("change").unwrap_or(&Value::Null);
        findings.extend(protected_finding(c, &protected));
        findings.extend(foreign_finding(c, body, policy.foreign));
        findings.extend(production_findings(c, body, policy.production));
        findings.extend(target_group_finding(c, body, &users, policy.foreign));
    }
    Ok(findings)
}

const TARGET_GROUP_TYPES: [&str; 2] = ["aws_lb_target_group", "aws_alb_target_group"];
const TARGET_GROUP_USER_TYPES: [&str; 5] = [
    "aws_lb_listener",
    "aws_alb_listener",
    "aws_lb_listener_rule",
    "aws_alb_listener_rule",
    "aws_ecs_service",
];

fn is_target_group_user(r#type: Option<&str>) -> bool {
    r#type.is_some_and(|t| TARGET_GROUP_USER_TYPES.contains(&t))
}

/// Every target group ARN a listener's or rule's forward, or a service's `load_balancer`,
/// holds: `target_group_arn` values and the `arn` of `target_group` blocks, at any depth.
fn target_group_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| target_group_refs(item, out)),
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("target_group_arn", _) => out.extend(usable(Some(item))),
                    ("target_group", Value::Array(groups)) => {
                        out.extend(groups.iter().filter_map(|g| usable(g.get("arn"))));
                    }
                    _ => target_group_refs(item, out),
                }
            }
        }
        _ => {}
    }
}

/// The listeners, rules and services the plan keeps (`no-op`, `update`), with the target
/// group ARNs they hold before and after it.
struct PlanUsers<'a> {
    /// (address, ARNs in `before`, ARNs in `after`)
    users: Vec<(&'a str, Vec<&'a str>, Vec<&'a str>)>,
}

impl<'a> PlanUsers<'a> {
    /// Whether `change` is a listener, rule or service the plan keeps.
    fn is_user(change: &ResourceChange) -> bool {
        let kept = matches!(change.action, Action::NoOp | Action::Update);
        change.mode == "managed" && kept && is_target_group_user(Some(&change.r#type))
    }

    /// From the changes [`PlanUsers::is_user`] picked, with their JSON.
    fn of(picked: &'a [(&'a ResourceChange, Cow<'a, Value>)]) -> Self {
        let mut users = Vec::new();
        for (change, raw) in picked {
            let (mut before, mut after) = (Vec::new(), Vec::new());
            if let Some(body) = raw.get("change") {
                target_group_refs(body.get("before").unwrap_or(&Value::Null), &mut before);
                target_group_refs(body.get("after").unwrap_or(&Value::Null), &mut after);
            }
            users.push((change.address.as_str(), before, after));
        }
        Self { users }
    }

    /// The first kept user holding `arn` when the old target group is deleted: before the
    /// plan for `delete-create`, after it for `create-delete`.
    fn holding(&self, arn: &str, order: ReplaceOrder) -> Option<&'a str> {
        self.users
            .iter()
            .find(|(_, before, after)| match order {
                ReplaceOrder::DeleteThenCreate => before.contains(&arn),
                ReplaceOrder::CreateThenDelete => after.contains(&arn),
            })
            .map(|(address, _, _)| *address)
    }
}

fn target_group_finding(
    change: &ResourceChange,
    body: &Value,
    users: &PlanUsers,
    foreign: &ForeignObjects,
) -> Option<Finding> {
    let Action::Replace(order) = change.action else {
        return None;
    };
    if change.mode != "managed" || !TARGET_GROUP_TYPES.contains(&change.r#type.as_str()) {
        return None;
    }
    let before = body.get("before").unwrap_or(&Value::Null);
    let arn = usable(before.get("arn")).or_else(|| usable(before.get("id")))?;
    let user = match users.holding(arn, order) {
        Some(address) => format!("`{address}` of this stack"),
        None => {
            let (owner, address) = foreign.target_group_user(arn)?;
            format!("`{address}` of the {owner} stack")
        }
    };
    Some(finding(
        Rule::TargetGroupReplace,
        change,
        format!(
            "the plan would replace target group `{}` ({}), deleting `{arn}`, which {user} \
             uses: AWS refuses to delete a target group a listener or rule forwards to \
             (\"ResourceInUse: Target group '{arn}' is currently in use by a listener or a \
             rule\"); {}. Migrate instead: a new target group under a new name, traffic moved \
             to it, then the old one removed (docs/plan-then-deploy.md, \"Changing a target \
             group\")",
            change.address,
            replace_cause(change, body),
            match order {
                ReplaceOrder::DeleteThenCreate => "a fixed name rules out create_before_destroy",
                ReplaceOrder::CreateThenDelete => {
                    "create_before_destroy does not help while it is still in use"
                }
            },
        ),
    ))
}

/// What forces the replacement: the plan's `replace_paths` (`port`, `health_check[0].port`),
/// else its `action_reason`.
fn replace_cause(change: &ResourceChange, body: &Value) -> String {
    let paths: Vec<String> = array(body, "replace_paths")
        .map(|path| {
            let mut text = String::new();
            for step in path.as_array().into_iter().flatten() {
                match step {
                    Value::String(key) if text.is_empty() => text.push_str(key),
                    Value::String(key) => text.push_str(&format!(".{key}")),
                    other => text.push_str(&format!("[{other}]")),
                }
            }
            format!("`{text}`")
        })
        .collect();
    match (paths.is_empty(), &change.action_reason) {
        (false, _) => format!("forced by {}", paths.join(", ")),
        (true, Some(reason)) => reason.clone(),
        (true, None) => "replacement forced".to_owned(),
    }
}

fn protected_finding(change: &ResourceChange, patterns: &[(&str, WildMatch)]) -> Option<Finding> {
    let (rule, verb) = match change.action {
        _ if change.mode != "managed" => return None,
        Action::Delete => (Rule::ProtectedDestroy, "destroy"),
        Action::Replace(_) => (Rule::ProtectedReplace, "replace"),
        _ => return None,
    };
    let candidates = std::iter::once((&change.address, None)).chain(
        change
            .previous_address
            .iter()
            .map(|previous| (previous, Some(previous))),
    );
    for (address, moved_from) in candidates {
        if let Some((pattern, _)) = patterns.iter().find(|(_, m)| m.matches(address)) {
            let what = match moved_from {
                Some(previous) => format!("moved from `{previous}`, which"),
                None => "it".to_owned(),
            };
            let deposed = match &change.deposed {
                Some(key) => format!(" (deposed object {key})"),
                None => String::new(),
            };
            return Some(finding(
                rule,
                change,
                format!(
                    "the plan would {verb} `{}`{deposed}: {what} matches the protected pattern \
                     `{pattern}`",
                    change.address
                ),
            ));
        }
    }
    None
}

fn foreign_finding(
    change: &ResourceChange,
    body: &Value,
    foreign: &ForeignObjects,
) -> Option<Finding> {
    let importing = body.get("importing").filter(|i| !i.is_null());
    let mut places: Vec<(String, &str)> = Vec::new();
    if let Some(id) = importing.and_then(|i| usable(i.get("id"))) {
        places.push(("importing.id".to_owned(), id));
    }
    let before = importing.is_some()
        || !matches!(change.action, Action::NoOp | Action::Read | Action::Create);
    let after = importing.is_some() || change.action == Action::Create;
    for (side, wanted) in [("before", before), ("after", after)] {
        for key in ["id", "arn"].into_iter().filter(|_| wanted) {
            if let Some(value) = usable(body.get(side).and_then(|v| v.get(key))) {
                places.push((format!("{side}.{key}"), value));
            }
        }
    }
    let (place, value, (owner, address)) = places
        .into_iter()
        .find_map(|(place, value)| foreign.get(value).map(|owned| (place, value, owned)))?;
    Some(finding(
        Rule::ForeignObject,
        change,
        format!(
            "`{}` ({place} = `{value}`) is `{address}` of the {owner} stack; the idle stack must \
             not manage another stack's object",
            change.address
        ),
    ))
}

fn production_findings(
    change: &ResourceChange,
    body: &Value,
    production: &[(String, String)],
) -> Vec<Finding> {
    if matches!(
        change.action,
        Action::NoOp | Action::Read | Action::Delete | Action::Forget
    ) {
        return Vec::new();
    }
    let Some(after) = body.get("after") else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for (value, what) in production {
        if value.is_empty() || value == REDACTED {
            continue;
        }
        if let Some(path) = find_string(after, value, "after".to_owned()) {
            findings.push(finding(
                Rule::ProductionReference,
                change,
                format!(
                    "`{}` would reference the {what} `{value}` ({path}) before bluegreen shifts \
                     traffic to this color",
                    change.address
                ),
            ));
        }
    }
    findings
}

/// The path of the first string leaf equal to `wanted`, e.g. `after.rule[0].arn`.
fn find_string(value: &Value, wanted: &str, path: String) -> Option<String> {
    match value {
        Value::String(s) if s == wanted => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_string(item, wanted, format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(key, item)| find_string(item, wanted, format!("{path}.{key}"))),
        _ => None,
    }
}

/// A non-empty string that is not a redacted placeholder.
fn usable(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != REDACTED)
}

fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn finding(rule: Rule, change: &ResourceChange, detail: String) -> Finding {
    Finding {
        rule,
        address: change.address.clone(),
        action: change.action.as_str().to_owned(),
        detail,
    }
}

#[cfg(test)]
#[path = "safety_tests.rs"]
mod tests;
