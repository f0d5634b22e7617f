//! One parser per block of the environment file: shape check, then each value, then the rules
//! that tie values together. Defaults live here, next to the checks. The larger blocks have
//! their own files: `state.rs`, `signals.rs` (health), `strategy.rs` (strategy, promotion).

use super::error::ConfigError;
use super::model::{
    ApprovalSettings, IacBinary, IacSettings, JournalBackend, JournalSettings, PlanSafetySettings,
    ServiceSettings, StackSettings, TrafficSettings, RESERVED_SERVICE_VARS,
};
use super::paths::{resolve, Want};
use super::schema::{attr, block, Field, Section};
use super::source::Source;
use super::value::{MapEntry, Value};
use hcl_edit::structure::Block;
use std::collections::BTreeMap;
use std::path::{Path, MAIN_SEPARATOR};
use std::time::Duration;

/// What every block parser needs besides its block.
pub(crate) struct Cx<'a> {
    pub(crate) src: &'a Source<'a>,
    /// Absolute environment directory; relative paths start here.
    pub(crate) dir: &'a Path,
    /// Environment name (the directory's name).
    pub(crate) name: &'a str,
}

pub(crate) const TOP: &[Field] = &[
    attr("region", r#"region = "us-east-1""#),
    block("iac", r#"iac { binary = "auto" }"#),
    block("shared", r#"shared { root = "../../modules/shared" }"#),
    block("service", r#"service { root = "../../modules/service" }"#),
    block("state", r#"state { separation = "workspace" }"#),
    block("health", r#"health { timeout = "5m" }"#),
    block("traffic", r#"traffic { verify_timeout = "30s" }"#),
    block("strategy", r#"strategy { type = "all-at-once" }"#),
    block("promotion", r#"promotion { bake = "2m" }"#),
    block("journal", r#"journal { backend = "local" }"#),
    block("approval", r#"approval { required = true }"#),
    block(
        "plan_safety",
        r#"plan_safety { protected = ["aws_db_instance.*"] }"#,
    ),
];

const IAC: &[Field] = &[
    attr("binary", r#"binary = "auto""#),
    attr("lock_timeout", r#"lock_timeout = "60s""#),
];

const SHARED: &[Field] = &[
    attr("root", r#"root = "../../modules/shared""#),
    attr("var_files", r#"var_files = ["shared.tfvars"]"#),
    attr("vars", r#"vars = { name = "demo" }"#),
];

const SERVICE: &[Field] = &[
    attr("root", r#"root = "../../modules/service""#),
    attr("var_files", r#"var_files = ["service.tfvars"]"#),
    attr("vars", r#"vars = { cpu = 256 }"#),
    attr("desired_count", "desired_count = 2"),
];

const TRAFFIC: &[Field] = &[attr("verify_timeout", r#"verify_timeout = "30s""#)];

pub(crate) fn parse_region(top: &Section<'_>) -> Result<String, ConfigError> {
    let v = top.require("region")?;
    let (region, span) = v.string()?;
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(v.error(
            &span,
            format!("`region` \"{region}\" is not an AWS region name"),
            r#"write a region code such as `region = "us-east-1"` (lowercase letters, digits, '-')"#,
        ));
    }
    Ok(region)
}

pub(crate) fn parse_iac(cx: &Cx<'_>, block: Option<&Block>) -> Result<IacSettings, ConfigError> {
    let Some(block) = block else {
        return Ok(IacSettings::default());
    };
    let s = Section::nested(cx.src, block, IAC)?;
    let binary = match s.value("binary") {
        None => IacBinary::Auto,
        Some(v) => parse_binary(cx, &v)?,
    };
    let lock_timeout = optional_duration(&s, "lock_timeout", Duration::ZERO)?;
    Ok(IacSettings {
        binary,
        lock_timeout,
    })
}

fn parse_binary(cx: &Cx<'_>, v: &Value<'_>) -> Result<IacBinary, ConfigError> {
    let (raw, span) = v.string()?;
    if raw.contains('/') || raw.contains(MAIN_SEPARATOR) {
        return resolve(v, &raw, &span, cx.dir, Want::Executable).map(IacBinary::Path);
    }
    v.one_of(
        &raw,
        &span,
        &[
            ("auto", IacBinary::Auto),
            ("tofu", IacBinary::Tofu),
            ("terraform", IacBinary::Terraform),
        ],
        " or a path containing '/'",
    )
}

pub(crate) fn parse_shared(cx: &Cx<'_>, block: &Block) -> Result<StackSettings, ConfigError> {
    let s = Section::nested(cx.src, block, SHARED)?;
    parse_stack(cx, &s, &[])
}

pub(crate) fn parse_service(cx: &Cx<'_>, block: &Block) -> Result<ServiceSettings, ConfigError> {
    let s = Section::nested(cx.src, block, SERVICE)?;
    let stack = parse_stack(cx, &s, &RESERVED_SERVICE_VARS)?;
    let desired_count = match s.value("desired_count") {
        None => 1,
        Some(v) => {
            let n = v.integer()?;
            u32::try_from(n)
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    v.error(
                        &v.span(),
                        format!(
                            "`service.desired_count` is {}; it must be from 1 to 1000",
                            v.src.snippet(&v.span())
                        ),
                        "set `desired_count` to the number of tasks per color at full size, from 1 to 1000",
                    )
                })?
        }
    };
    Ok(ServiceSettings {
        stack,
        desired_count,
    })
}

fn parse_stack(
    cx: &Cx<'_>,
    s: &Section<'_>,
    reserved: &[&str],
) -> Result<StackSettings, ConfigError> {
    let root_v = s.require("root")?;
    let (raw, span) = root_v.string()?;
    let root = resolve(&root_v, &raw, &span, cx.dir, Want::RootModule)?;
    let var_files = match s.value("var_files") {
        None => Vec::new(),
        Some(v) => v
            .string_list()?
            .iter()
            .map(|(raw, span)| resolve(&v, raw, span, cx.dir, Want::File))
            .collect::<Result<_, _>>()?,
    };
    let mut vars = BTreeMap::new();
    if let Some(v) = s.value("vars") {
        for entry in v.scalar_map()? {
            check_var_name(&v, &entry, reserved)?;
            vars.insert(entry.key, entry.value);
        }
    }
    Ok(StackSettings {
        root,
        var_files,
        vars,
    })
}

fn check_var_name(v: &Value<'_>, entry: &MapEntry, reserved: &[&str]) -> Result<(), ConfigError> {
    let key = entry.key.as_str();
    if reserved.contains(&key) {
        return Err(v.error(
            &entry.key_span,
            format!(
                "`{}` sets `{key}`, which bluegreen passes to the service root itself",
                v.name
            ),
            format!(
                "remove `{key}` from `{}`; bluegreen sets {} on every plan of a color",
                v.name,
                reserved.join(", ")
            ),
        ));
    }
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(v.error(
            &entry.key_span,
            format!(
                "`{}`: \"{key}\" is not a valid Terraform variable name",
                v.name
            ),
            "use letters, digits, '_' and '-', starting with a letter or '_'",
        ));
    }
    Ok(())
}

pub(crate) fn parse_traffic(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<TrafficSettings, ConfigError> {
    let defaults = TrafficSettings::default();
    let Some(block) = block else {
        return Ok(defaults);
    };
    let s = Section::nested(cx.src, block, TRAFFIC)?;
    Ok(TrafficSettings {
        verify_timeout: positive_duration(&s, "verify_timeout", defaults.verify_timeout)?,
    })
}

const JOURNAL: &[Field] = &[
    attr("backend", r#"backend = "dynamodb""#),
    attr("table", r#"table = "bluegreen-state""#),
    attr("lease", r#"lease = "30s""#),
];

/// `journal { backend = "local" | "dynamodb", table = "…", lease = "30s" }`.
pub(crate) fn parse_journal(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<JournalSettings, ConfigError> {
    let defaults = JournalSettings::default();
    let Some(block) = block else {
        return Ok(defaults);
    };
    let s = Section::nested(cx.src, block, JOURNAL)?;
    let lease = positive_duration(&s, "lease", defaults.lease)?;
    if lease < Duration::from_secs(3) {
        let v = s.value("lease").expect("a non-default lease was written");
        return Err(v.error(
            &v.span(),
            format!(
                "`lease` is {}; the holder renews it every third, so it must be at least 3s",
                human(lease)
            ),
            "write e.g. `lease = \"30s\"`",
        ));
    }
    let dynamo = match s.value("backend") {
        None => false,
        Some(v) => {
            let (raw, span) = v.string()?;
            v.one_of(&raw, &span, &[("local", false), ("dynamodb", true)], "")?
        }
    };
    let table = s.value("table");
    let backend = match (dynamo, table) {
        (false, None) => JournalBackend::Local,
        (false, Some(t)) => {
            return Err(t.error(
                &t.span(),
                "`table` is only used by the DynamoDB backend",
                "add `backend = \"dynamodb\"`, or remove `table`",
            ))
        }
        (true, None) => {
            return Err(match s.require("table") {
                Err(e) => e,
                Ok(_) => unreachable!("`table` is absent"),
            });
        }
        (true, Some(t)) => {
            let (name, span) = t.string()?;
            let ok = (3..=255).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !ok {
                return Err(t.error(
                    &span,
                    format!("`table` \"{name}\" is not a DynamoDB table name"),
                    "use 3–255 letters, digits, '_', '-' or '.'",
                ));
            }
            JournalBackend::DynamoDb { table: name }
        }
    };
    Ok(JournalSettings { backend, lease })
}

const APPROVAL: &[Field] = &[
    attr("required", "required = true"),
    attr("wait", r#"wait = "30m""#),
];

/// `approval { required = true, wait = "30m" }`.
pub(crate) fn parse_approval(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<ApprovalSettings, ConfigError> {
    let Some(block) = block else {
        return Ok(ApprovalSettings::default());
    };
    let s = Section::nested(cx.src, block, APPROVAL)?;
    let required = s.require("required")?.boolean()?;
    let wait = optional_duration(&s, "wait", Duration::ZERO)?;
    if !required && !wait.is_zero() {
        let v = s.value("wait").expect("a non-zero wait was written");
        return Err(v.error(
            &v.span(),
            "`wait` is only used when `required = true`",
            "remove `wait`, or set `required = true`",
        ));
    }
    Ok(ApprovalSettings { required, wait })
}

const PLAN_SAFETY: &[Field] = &[attr(
    "protected",
    r#"protected = ["aws_db_instance.*", "module.data.*"]"#,
)];

/// `plan_safety { protected = ["aws_db_instance.*", …] }`.
pub(crate) fn parse_plan_safety(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<PlanSafetySettings, ConfigError> {
    let Some(block) = block else {
        return Ok(PlanSafetySettings::default());
    };
    let s = Section::nested(cx.src, block, PLAN_SAFETY)?;
    let mut protected = Vec::new();
    if let Some(v) = s.value("protected") {
        for (pattern, span) in v.string_list()? {
            let ok = !pattern.is_empty()
                && pattern
                    .chars()
                    .all(|c| !c.is_whitespace() && !c.is_control());
            if !ok {
                return Err(v.error(
                    &span,
                    format!("`protected` pattern \"{pattern}\" is not a resource address pattern"),
                    "write resource addresses such as `aws_db_instance.main` or `module.data.*` \
                     (`*` matches any characters, `?` one)",
                ));
            }
            protected.push(pattern);
        }
    }
    Ok(PlanSafetySettings { protected })
}

pub(crate) fn optional_duration(
    s: &Section<'_>,
    name: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    s.value(name).map_or(Ok(default), |v| v.duration())
}

pub(crate) fn positive_duration(
    s: &Section<'_>,
    name: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(v) = s.value(name) else {
        return Ok(default);
    };
    let d = v.duration()?;
    if d.is_zero() {
        return Err(v.error(
            &v.span(),
            format!("`{}` must be greater than zero", v.name),
            format!("write e.g. `{}`", v.example),
        ));
    }
    Ok(d)
}

pub(crate) fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
