//! The `health` block: how long the idle color may take, how often to look, and the signals that
//! decide whether a color is healthy (ECS, target health, CloudWatch alarms, HTTP checks), each
//! with what "no data" counts as.

use super::blocks::{human, positive_duration, Cx};
use super::error::{ConfigError, FirstError};
use super::model::{AlarmSignal, HealthSettings, HttpCheck, NoData};
use super::schema::{attr, block, labeled_block, Field, Section};
use super::value::Value;
use hcl_edit::structure::Block;
use hcl_edit::Span as _;
use std::time::Duration;

const HEALTH: &[Field] = &[
    attr("timeout", r#"timeout = "5m""#),
    attr("poll_interval", r#"poll_interval = "5s""#),
    block("ecs", r#"ecs { no_data = "wait" }"#),
    block("target_health", r#"target_health { no_data = "wait" }"#),
    block("alarms", r#"alarms { names = ["app-{color}-5xx"] }"#),
    labeled_block(
        "http",
        r#"http "smoke" { url = "http://test.example.com:8080/health" }"#,
    ),
];

/// `ecs` and `target_health` wait by default: right after a scale-up there is nothing to read yet.
const WAITING_SIGNAL: &[Field] = &[attr("no_data", r#"no_data = "wait""#)];

const ALARMS: &[Field] = &[
    attr(
        "names",
        r#"names = ["app-{color}-5xx", "app-{color}-latency"]"#,
    ),
    attr("no_data", r#"no_data = "fail""#),
];

const HTTP: &[Field] = &[
    attr("url", r#"url = "http://test.example.com:8080/health""#),
    attr("status", "status = 200"),
    attr("body_contains", r#"body_contains = "ok""#),
    attr("max_latency", r#"max_latency = "2s""#),
    attr("consecutive", "consecutive = 3"),
    attr("no_data", r#"no_data = "fail""#),
];

const COLOR_FIX: &str =
    "write `{color}`, which becomes `blue` or `green`; no other placeholder is known";

pub(crate) fn parse_health(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<HealthSettings, ConfigError> {
    let defaults = HealthSettings::default();
    let Some(block) = block else {
        return Ok(defaults);
    };
    let s = Section::nested(cx.src, block, HEALTH)?;
    // Every part is checked, so the error reported is the first one in the block.
    let mut first = FirstError::default();
    let timing = first.keep(parse_timing(&s, &defaults));
    let ecs = first.keep(signal_no_data(&s, "ecs", NoData::Wait));
    let target_health = first.keep(signal_no_data(&s, "target_health", NoData::Wait));
    let alarms = first.keep(s.block("alarms").map(|b| parse_alarms(&s, b)).transpose());
    let http: Vec<Option<HttpCheck>> = s
        .blocks("http")
        .into_iter()
        .map(|b| first.keep(parse_http(&s, b)))
        .collect();
    first.check()?;
    let (Some((timeout, poll_interval)), Some(ecs), Some(target_health), Some(alarms)) =
        (timing, ecs, target_health, alarms)
    else {
        unreachable!("a part without a value has recorded its error");
    };
    Ok(HealthSettings {
        timeout,
        poll_interval,
        ecs,
        target_health,
        alarms,
        http: http.into_iter().flatten().collect(),
    })
}

fn parse_timing(
    s: &Section<'_>,
    defaults: &HealthSettings,
) -> Result<(Duration, Duration), ConfigError> {
    let timeout = positive_duration(s, "timeout", defaults.timeout)?;
    let poll_interval = positive_duration(s, "poll_interval", defaults.poll_interval)?;
    if poll_interval > timeout {
        let (t, p) = (human(timeout), human(poll_interval));
        if let Some(v) = s.value("poll_interval") {
            return Err(v.error(
                &v.span(),
                format!("`health.poll_interval` ({p}) is longer than `health.timeout` ({t})"),
                format!("make `poll_interval` at most {t}, or raise `timeout`"),
            ));
        }
        // poll_interval is the default, so timeout was set below it.
        if let Some(v) = s.value("timeout") {
            return Err(v.error(
                &v.span(),
                format!("`health.timeout` ({t}) is shorter than the default poll interval ({p})"),
                format!("raise `timeout` to at least {p}, or set `poll_interval` to at most {t}"),
            ));
        }
    }
    Ok((timeout, poll_interval))
}

/// `ecs { no_data = … }` and `target_health { no_data = … }`.
fn signal_no_data(s: &Section<'_>, name: &str, default: NoData) -> Result<NoData, ConfigError> {
    match s.block(name) {
        None => Ok(default),
        Some(b) => no_data(&s.child(b, WAITING_SIGNAL)?, default),
    }
}

fn no_data(s: &Section<'_>, default: NoData) -> Result<NoData, ConfigError> {
    let Some(v) = s.value("no_data") else {
        return Ok(default);
    };
    let (raw, span) = v.string()?;
    let allowed = [
        ("fail", NoData::Fail),
        ("pass", NoData::Pass),
        ("wait", NoData::Wait),
    ];
    v.one_of(&raw, &span, &allowed, "")
}

fn parse_alarms(health: &Section<'_>, block: &Block) -> Result<AlarmSignal, ConfigError> {
    let s = health.child(block, ALARMS)?;
    let v = s.require("names")?;
    let names = v.string_list()?;
    if names.is_empty() {
        return Err(v.error(
            &v.span(),
            "`health.alarms.names` is empty",
            format!(
                "list at least one alarm, e.g. `{}`, or remove the `alarms` block",
                v.example
            ),
        ));
    }
    for (i, (name, span)) in names.iter().enumerate() {
        let what = format!("{}[{i}]", v.name);
        if name.trim().is_empty() {
            return Err(v.error(
                span,
                format!("`{what}` is empty"),
                format!("write the alarm's name, e.g. `{}`", v.example),
            ));
        }
        check_color_placeholder(name).map_err(|bad| {
            v.error(
                span,
                format!("`{what}` has an unknown placeholder `{bad}`"),
                COLOR_FIX,
            )
        })?;
    }
    Ok(AlarmSignal {
        names: names.into_iter().map(|(name, _)| name).collect(),
        no_data: no_data(&s, NoData::Fail)?,
    })
}

fn parse_http(health: &Section<'_>, block: &Block) -> Result<HttpCheck, ConfigError> {
    let name = check_name(health, block)?;
    let s = health.child(block, HTTP)?;
    let url = parse_url(&s.require("url")?)?;
    let status = match s.value("status") {
        None => 200,
        Some(v) => in_range(&v, 100, 599, "an HTTP status code from 100 to 599")?,
    };
    let body_contains = match s.value("body_contains") {
        None => None,
        Some(v) => {
            let (text, span) = v.string()?;
            if text.is_empty() {
                return Err(v.error(
                    &span,
                    format!("`{}` is empty, which every body contains", v.name),
                    format!(
                        "write the text to look for, e.g. `{}`, or remove it",
                        v.example
                    ),
                ));
            }
            Some(text)
        }
    };
    let max_latency = positive_duration(&s, "max_latency", Duration::from_secs(2))?;
    let consecutive = match s.value("consecutive") {
        None => 1,
        Some(v) => in_range(&v, 1, 100, "a count from 1 to 100")?,
    };
    Ok(HttpCheck {
        name,
        url,
        status,
        body_contains,
        max_latency,
        consecutive,
        no_data: no_data(&s, NoData::Fail)?,
    })
}

/// The label of an `http` block: a name for messages and reports.
fn check_name(health: &Section<'_>, block: &Block) -> Result<String, ConfigError> {
    // The schema has checked that there is exactly one label.
    let Some(label) = block.labels.first() else {
        return Ok(String::new());
    };
    let name = label.as_str();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
    if !valid {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let clean = if clean.is_empty() {
            "smoke".into()
        } else {
            clean
        };
        return Err(health.src.invalid(
            &label.span(),
            format!("`health.http` name \"{name}\" may only hold letters, digits, '_' and '-'"),
            format!("write e.g. `http \"{clean}\" {{`"),
        ));
    }
    Ok(name.to_owned())
}

fn parse_url(v: &Value<'_>) -> Result<String, ConfigError> {
    let (url, span) = v.string()?;
    let lower = url.to_ascii_lowercase();
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme));
    let problem = match rest {
        None => Some(format!("\"{url}\" must start with http:// or https://")),
        Some(rest) if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() => {
            Some(format!("\"{url}\" has no host"))
        }
        Some(_) if url.chars().any(char::is_whitespace) => {
            Some(format!("\"{url}\" contains whitespace"))
        }
        Some(_) => None,
    };
    if let Some(problem) = problem {
        return Err(v.error(
            &span,
            format!("`{}` {problem}", v.name),
            format!("write a full URL, e.g. `{}`", v.example),
        ));
    }
    check_color_placeholder(&url).map_err(|bad| {
        v.error(
            &span,
            format!("`{}` has an unknown placeholder `{bad}`", v.name),
            COLOR_FIX,
        )
    })?;
    Ok(url)
}

/// A whole number in `min..=max`.
fn in_range<T: TryFrom<i64>>(
    v: &Value<'_>,
    min: i64,
    max: i64,
    what: &str,
) -> Result<T, ConfigError> {
    let n = v.integer()?;
    (min..=max)
        .contains(&n)
        .then(|| T::try_from(n).ok())
        .flatten()
        .ok_or_else(|| {
            v.error(
                &v.span(),
                format!(
                    "`{}` is {}; it must be from {min} to {max}",
                    v.name,
                    v.src.snippet(&v.span())
                ),
                format!("write {what}, e.g. `{}`", v.example),
            )
        })
}

/// `{color}` is the only placeholder; returns the first other `{…}` (or stray brace) found.
pub(crate) fn check_color_placeholder(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{color}") {
            rest = after;
            continue;
        }
        let end = tail[1..].find(['{', '}']).map_or(tail.len(), |e| {
            if tail[1 + e..].starts_with('}') {
                e + 2
            } else {
                e + 1
            }
        });
        return Err(tail[..end].to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_is_the_only_placeholder() {
        assert_eq!(check_color_placeholder("app-{color}-5xx"), Ok(()));
        assert_eq!(check_color_placeholder("{color}{color}"), Ok(()));
        assert_eq!(check_color_placeholder("plain"), Ok(()));
        let cases = [
            ("app-{colour}-5xx", "{colour}"),
            ("{color}-{env}", "{env}"),
            ("app-{color", "{color"),
            ("app}", "}"),
            ("{Color}", "{Color}"),
        ];
        for (text, bad) in cases {
            assert_eq!(check_color_placeholder(text), Err(bad.to_owned()), "{text}");
        }
    }
}
