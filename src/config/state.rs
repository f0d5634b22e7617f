//! The `state` block: how the shared, blue and green states are kept apart (a workspace or a
//! backend key each), and the checks that keep two stacks from ever sharing one state.

use super::blocks::Cx;
use super::error::ConfigError;
use super::model::{StateSeparation, StateSettings};
use super::schema::{attr, Field, Section};
use super::value::Value;
use hcl_edit::structure::Block;
use std::collections::BTreeMap;

const STATE: &[Field] = &[
    attr("separation", r#"separation = "workspace""#),
    attr("workspace_prefix", r#"workspace_prefix = "staging""#),
    attr(
        "backend_config",
        r#"backend_config = { bucket = "my-tf-state" }"#,
    ),
    attr(
        "key_template",
        r#"key_template = "bluegreen/{env}/{stack}.tfstate""#,
    ),
];

pub(crate) fn parse_state(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<StateSettings, ConfigError> {
    let Some(block) = block else {
        return Ok(StateSettings {
            separation: StateSeparation::Workspace,
            workspace_prefix: default_prefix(cx)?,
            backend_config: BTreeMap::new(),
            key_template: None,
        });
    };
    let s = Section::nested(cx.src, block, STATE)?;
    let separation_v = s.value("separation");
    let separation = match &separation_v {
        None => StateSeparation::Workspace,
        Some(v) => parse_separation(v)?,
    };
    let workspace_prefix = match s.value("workspace_prefix") {
        None => default_prefix(cx)?,
        Some(v) => parse_prefix(&v)?,
    };
    let backend_config = match s.value("backend_config") {
        None => BTreeMap::new(),
        Some(v) => parse_backend_config(&v)?,
    };
    let key_template = parse_key_template(&s, separation, separation_v.as_ref())?;
    Ok(StateSettings {
        separation,
        workspace_prefix,
        backend_config,
        key_template,
    })
}

fn parse_separation(v: &Value<'_>) -> Result<StateSeparation, ConfigError> {
    let (raw, span) = v.string()?;
    let allowed = [
        ("workspace", StateSeparation::Workspace),
        ("backend_key", StateSeparation::BackendKey),
    ];
    v.one_of(&raw, &span, &allowed, "")
}

fn parse_prefix(v: &Value<'_>) -> Result<String, ConfigError> {
    let (prefix, span) = v.string()?;
    if !is_prefix(&prefix) {
        return Err(v.error(
            &span,
            format!(
                "`state.workspace_prefix` \"{prefix}\" may only hold letters, digits, '_' and '-'"
            ),
            format!("write e.g. `workspace_prefix = \"{}\"`", sanitize(&prefix)),
        ));
    }
    Ok(prefix)
}

fn parse_backend_config(v: &Value<'_>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut config = BTreeMap::new();
    for entry in v.scalar_map()? {
        if entry.key.is_empty() || entry.key.contains(['=', ' ', '\t']) {
            return Err(v.error(
                &entry.key_span,
                format!(
                    "`state.backend_config`: \"{}\" is not a backend setting name",
                    entry.key
                ),
                "use the backend's argument name, e.g. `bucket` or `key`",
            ));
        }
        config.insert(entry.key, entry.value);
    }
    Ok(config)
}

fn parse_key_template(
    s: &Section<'_>,
    separation: StateSeparation,
    separation_v: Option<&Value<'_>>,
) -> Result<Option<String>, ConfigError> {
    let template_v = s.value("key_template");
    match (separation, template_v, separation_v) {
        (StateSeparation::Workspace, None, _) => Ok(None),
        (StateSeparation::Workspace, Some(v), _) => Err(v.error(
            &v.span(),
            "`state.key_template` is only used with `separation = \"backend_key\"`",
            "remove `key_template`, or set `separation = \"backend_key\"`",
        )),
        (StateSeparation::BackendKey, Some(v), _) => {
            let (template, span) = v.string()?;
            check_key_template(&template).map_err(|message| {
                v.error(&span, message, format!("write e.g. `{}`", v.example))
            })?;
            Ok(Some(template))
        }
        (StateSeparation::BackendKey, None, Some(sep)) => Err(sep.error(
            &sep.span(),
            "`separation = \"backend_key\"` needs `state.key_template`",
            "add e.g. `key_template = \"bluegreen/{env}/{stack}.tfstate\"` to the `state` block",
        )),
        // BackendKey is never the default, so it always comes with its attribute.
        (StateSeparation::BackendKey, None, None) => Ok(None),
    }
}

/// `{stack}` is required (three stacks must not share a state); `{env}` is optional.
fn check_key_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if let Some(after) = tail
            .strip_prefix("{env}")
            .or_else(|| tail.strip_prefix("{stack}"))
        {
            rest = after;
            continue;
        }
        let end = tail.find('}').map_or(tail.len(), |e| e + 1);
        return Err(format!(
            "`state.key_template` has an unknown placeholder `{}`; only `{{env}}` and `{{stack}}` are allowed",
            &tail[..end]
        ));
    }
    if !template.contains("{stack}") {
        return Err(
            "`state.key_template` must contain `{stack}`, or the shared, blue and green stacks would share one state"
                .to_owned(),
        );
    }
    Ok(())
}

fn is_prefix(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn sanitize(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() {
        "default".to_owned()
    } else {
        clean
    }
}

fn default_prefix(cx: &Cx<'_>) -> Result<String, ConfigError> {
    if is_prefix(cx.name) {
        return Ok(cx.name.to_owned());
    }
    Err(cx.src.missing(
        format!(
            "the environment name \"{}\" cannot be the default workspace prefix (only letters, digits, '_' and '-' are allowed)",
            cx.name
        ),
        format!("add `state {{ workspace_prefix = \"{}\" }}`", sanitize(cx.name)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_templates_need_stack_and_know_two_placeholders() {
        assert_eq!(
            check_key_template("bluegreen/{env}/{stack}.tfstate"),
            Ok(())
        );
        assert_eq!(check_key_template("{stack}"), Ok(()));
        let cases = [
            ("bluegreen/{env}.tfstate", "must contain `{stack}`"),
            ("{stack}/{region}", "unknown placeholder `{region}`"),
            ("{stack}/{env", "unknown placeholder `{env`"),
            ("{stack}/env}", "unknown placeholder `}`"),
            ("{Stack}", "unknown placeholder `{Stack}`"),
        ];
        for (template, expected) in cases {
            let err = check_key_template(template).unwrap_err();
            assert!(err.contains(expected), "{template}: {err}");
        }
    }

    #[test]
    fn prefixes_are_workspace_safe() {
        assert!(is_prefix("staging"));
        assert!(is_prefix("qa_2-eu"));
        assert!(!is_prefix(""));
        assert!(!is_prefix("my env"));
        assert!(!is_prefix("a/b"));
        assert_eq!(sanitize("my env"), "my-env");
        assert_eq!(sanitize(""), "default");
    }
}
