//! The redacted plan as canonical text, and the streaming redaction that makes it: the rules
//! of [`super::redact`] applied to one piece of `show -json` at a time (issue 16: a parsed tree
//! of a plan is 20–25× its JSON; this text is about 1×).

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::error::IacError;
use super::plan::{document_error, PlanSummary};
use super::redact::{
    marks_something, redact_by_shape, redact_change, redact_resource, redact_values,
    redact_variable_defaults, redact_whole, scrub_with, SecretMatcher,
};

/// `show -json` output read piece by piece: its summary ([`PlanSummary::from_json`], values
/// read past) and the document with sensitive values redacted, as `redacted_plan_json` would
/// give it, held as canonical text ([`RedactedPlan`]). The document is never parsed whole:
/// one pass finds the secrets (resource by resource), a second redacts each resource, scrubs
/// it and writes it; memory is bounded by the largest resource and the text, not by a parsed
/// tree of the plan (20–25× the plan JSON: issue 16).
pub fn summarized_plan_json(bytes: &[u8]) -> Result<(PlanSummary, RedactedPlan), IacError> {
    let summary = PlanSummary::from_json(bytes)?;
    let redacted =
        stream_redact(bytes).map_err(|source| document_error("`show -json` plan", source))?;
    Ok((summary, redacted))
}

/// A `show -json` plan with every sensitive value redacted, as canonical JSON text (compact,
/// every object's keys sorted, every float a fixed point of writing and reading): about the
/// size of the plan JSON. Serializes as the JSON it holds; [`RedactedPlan::to_value`] parses it.
#[derive(Clone)]
pub struct RedactedPlan(Box<RawValue>);

impl RedactedPlan {
    /// The canonical text.
    pub fn raw(&self) -> &RawValue {
        &self.0
    }

    /// The plan parsed (for small plans and callers that need a tree).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("a redacted plan is valid JSON")
    }

    /// A parsed (already redacted) plan as canonical text.
    pub fn from_value(value: &Value) -> RedactedPlan {
        let mut value = value.clone();
        crate::canonical::settle(&mut value);
        let mut out = Vec::new();
        crate::canonical::write_compact(&mut out, &value);
        RedactedPlan::from_canonical(out)
    }

    fn from_canonical(bytes: Vec<u8>) -> RedactedPlan {
        let text = String::from_utf8(bytes).expect("serde_json writes UTF-8");
        RedactedPlan(RawValue::from_string(text).expect("serde_json writes valid JSON"))
    }

    pub fn is_null(&self) -> bool {
        self.0.get() == "null"
    }
}

impl Default for RedactedPlan {
    fn default() -> Self {
        RedactedPlan::from_canonical(b"null".to_vec())
    }
}

impl PartialEq for RedactedPlan {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl std::fmt::Debug for RedactedPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedactedPlan({} bytes)", self.0.get().len())
    }
}

impl serde::Serialize for RedactedPlan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::canonical::RawTree(&self.0).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for RedactedPlan {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(RedactedPlan::from_value(&Value::deserialize(deserializer)?))
    }
}

type Parsed<T> = Result<T, serde_json::Error>;

/// The streaming redaction: the same sections and rules as `redact_owned_plan`, applied to
/// one piece of the document at a time (a resource change, a module's resource, a section).
pub(super) fn stream_redact(bytes: &[u8]) -> Parsed<RedactedPlan> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        // Not UTF-8: the error serde_json gives for it, with its position.
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .err()
            .unwrap_or_else(|| serde::de::Error::custom("not UTF-8"))
    })?;
    let top: &RawValue = serde_json::from_str(text)?;
    let mut walk = Walk::default();
    plan_section(&mut walk, top)?;
    let mut secrets = std::mem::take(&mut walk.secrets);
    secrets.sort();
    secrets.dedup();
    let matcher = (!secrets.is_empty()).then(|| SecretMatcher::new(&secrets));
    let mut walk = Walk {
        // The redacted text is about the plan's size: room for it once, not a doubling.
        out: Some(Vec::with_capacity(text.len() + text.len() / 8 + 64)),
        matcher: matcher.as_ref(),
        ..Walk::default()
    };
    plan_section(&mut walk, top)?;
    Ok(RedactedPlan::from_canonical(walk.out.unwrap_or_default()))
}

/// One pass over the plan: collects secrets, and (second pass) writes the redacted, scrubbed
/// pieces as canonical text into `out`.
#[derive(Default)]
struct Walk<'m> {
    secrets: Vec<String>,
    sensitive_vars: Vec<String>,
    out: Option<Vec<u8>>,
    matcher: Option<&'m SecretMatcher<'m>>,
}

type Redact = fn(&mut Value, &mut Walk<'_>);
type Section = fn(&mut Walk<'_>, &RawValue) -> Parsed<()>;

impl Walk<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = &mut self.out {
            out.extend_from_slice(bytes);
        }
    }

    /// One piece parsed, redacted by `redact`, then (writing) scrubbed and written.
    fn piece(&mut self, raw: &RawValue, redact: Redact) -> Parsed<()> {
        let mut value: Value = serde_json::from_str(raw.get())?;
        redact(&mut value, self);
        if let Some(out) = &mut self.out {
            if let Some(matcher) = self.matcher {
                scrub_with(&mut value, matcher);
            }
            crate::canonical::settle(&mut value);
            crate::canonical::write_compact(out, &value);
        }
        Ok(())
    }

    /// An object key by key (sorted), each value by `section`; anything else as one piece.
    fn object(&mut self, raw: &RawValue, section: fn(&str) -> Section) -> Parsed<()> {
        let Ok(map) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) else {
            return self.piece(raw, keep);
        };
        self.write(b"{");
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                self.write(b",");
            }
            if let Some(out) = &mut self.out {
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
            }
            section(key)(self, value)?;
        }
        self.write(b"}");
        Ok(())
    }

    /// An array element by element, each as one piece redacted by `redact` (`None`: each
    /// element is an object walked by `section`); anything else as one piece.
    fn array(&mut self, raw: &RawValue, each: Section) -> Parsed<()> {
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
            return self.piece(raw, keep);
        };
        self.write(b"[");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.write(b",");
            }
            each(self, item)?;
        }
        self.write(b"]");
        Ok(())
    }
}

fn keep(_: &mut Value, _: &mut Walk<'_>) {}

fn plain(walk: &mut Walk<'_>, raw: &RawValue) -> Parsed<()> {
    walk.piece(raw, keep)
}

/// The top level: `redact_owned_plan`, section by section (keys sorted: `configuration`, whose
/// sensitive variables `variables` needs, comes first).
fn plan_section(walk: &mut Walk<'_>, raw: &RawValue) -> Parsed<()> {
    walk.object(raw, |key| match key {
        "resource_changes" | "resource_drift" => |w, raw| w.array(raw, resource_change),
        "output_changes" => |w, raw| w.piece(raw, output_changes),
        "planned_values" => values_section,
        "prior_state" => |w, raw| {
            w.object(raw, |key| match key {
                "values" => values_section,
                _ => plain,
            })
        },
        "configuration" => |w, raw| w.piece(raw, configuration),
        "variables" => |w, raw| w.piece(raw, variables),
        _ => plain,
    })
}

fn resource_change(walk: &mut Walk<'_>, raw: &RawValue) -> Parsed<()> {
    if walk.out.is_none() {
        // Finding secrets: only the values some shape marks are parsed.
        #[derive(serde::Deserialize)]
        struct Change<'a> {
            #[serde(borrow)]
            change: Option<Parts<'a>>,
        }
        #[derive(serde::Deserialize)]
        struct Parts<'a> {
            #[serde(borrow)]
            before: Option<&'a RawValue>,
            #[serde(borrow)]
            after: Option<&'a RawValue>,
            before_sensitive: Option<Value>,
            after_sensitive: Option<Value>,
        }
        // Anything else (not objects, a field twice): the general way below.
        if let Ok(Change { change }) = serde_json::from_str::<Change>(raw.get()) {
            if let Some(p) = change {
                marked_secrets(p.before, p.before_sensitive, &mut walk.secrets)?;
                marked_secrets(p.after, p.after_sensitive, &mut walk.secrets)?;
            }
            return Ok(());
        }
    }
    walk.piece(raw, |value, w| {
        if let Some(change) = value.get_mut("change").and_then(Value::as_object_mut) {
            redact_change(change, &mut w.secrets);
        }
    })
}

/// The secrets [`redact_by_shape`] collects from `value` under `shape`, parsing `value` only
/// when the shape marks something (a shape that marks nothing collects nothing).
fn marked_secrets(
    value: Option<&RawValue>,
    shape: Option<Value>,
    secrets: &mut Vec<String>,
) -> Parsed<()> {
    let (Some(value), Some(shape)) = (value, shape) else {
        return Ok(());
    };
    if marks_something(&shape) {
        let mut value: Value = serde_json::from_str(value.get())?;
        redact_by_shape(&mut value, &shape, secrets);
    }
    Ok(())
}

fn output_changes(value: &mut Value, walk: &mut Walk<'_>) {
    if let Some(outputs) = value.as_object_mut() {
        for change in outputs.values_mut().filter_map(Value::as_object_mut) {
            redact_change(change, &mut walk.secrets);
        }
    }
}

/// `planned_values` / `prior_state.values`: `redact_values`, the module tree walked.
fn values_section(walk: &mut Walk<'_>, raw: &RawValue) -> Parsed<()> {
    walk.object(raw, |key| match key {
        "outputs" => |w, raw| {
            w.piece(raw, |value, w| {
                let mut wrapper = serde_json::json!({ "outputs": std::mem::take(value) });
                redact_values(&mut wrapper, &mut w.secrets);
                *value = wrapper["outputs"].take();
            })
        },
        "root_module" => module_section,
        _ => plain,
    })
}

/// `redact_module`, resource by resource.
fn module_section(walk: &mut Walk<'_>, raw: &RawValue) -> Parsed<()> {
    walk.object(raw, |key| match key {
        "resources" => |w, raw| {
            w.array(raw, |w, raw| {
                if w.out.is_none() {
                    #[derive(serde::Deserialize)]
                    struct Resource<'a> {
                        #[serde(borrow)]
                        values: Option<&'a RawValue>,
                        sensitive_values: Option<Value>,
                    }
                    if let Ok(r) = serde_json::from_str::<Resource>(raw.get()) {
                        return marked_secrets(r.values, r.sensitive_values, &mut w.secrets);
                    }
                }
                w.piece(raw, |value, w| {
                    if let Some(resource) = value.as_object_mut() {
                        redact_resource(resource, &mut w.secrets);
                    }
                })
            })
        },
        "child_modules" => |w, raw| w.array(raw, module_section),
        _ => plain,
    })
}

fn configuration(value: &mut Value, walk: &mut Walk<'_>) {
    walk.sensitive_vars = redact_variable_defaults(Some(value), &mut walk.secrets);
}

fn variables(value: &mut Value, walk: &mut Walk<'_>) {
    if let Some(vars) = value.as_object_mut() {
        for name in &walk.sensitive_vars {
            if let Some(value) = vars.get_mut(name).and_then(|v| v.get_mut("value")) {
                redact_whole(value, &mut walk.secrets);
            }
        }
    }
}
