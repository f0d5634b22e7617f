//! The `strategy` and `promotion` blocks: how production traffic moves to the new color, and what
//! happens once all of it has. A strategy is checked by expanding it to its schedule, so the file
//! is refused for exactly the reasons a deploy would refuse it, at the value that causes it.

use super::blocks::{optional_duration, Cx};
use super::error::ConfigError;
use super::model::{OldColor, PromotionSettings};
use super::schema::{attr, Field, Section};
use super::source::unknown_name_fix;
use super::value::Value;
use crate::domain::{ScheduleError, Step, Strategy};
use hcl_edit::structure::Block;
use hcl_edit::Span as _;

const STRATEGY: &[Field] = &[
    attr("type", r#"type = "canary""#),
    attr("percent", "percent = 10"),
    attr("bake", r#"bake = "5m""#),
    attr("step", "step = 25"),
    attr("interval", r#"interval = "1m""#),
    attr(
        "steps",
        r#"steps = [{ weight = 10, bake = "1m" }, { pause = true }, { weight = 100 }]"#,
    ),
];

const PROMOTION: &[Field] = &[
    attr("bake", r#"bake = "2m""#),
    attr("termination_wait", r#"termination_wait = "5m""#),
    attr("old_color", r#"old_color = "scale-down""#),
];

/// The fix for every schedule mistake of a `steps` strategy.
const STEPS_RULE: &str = "each weight is a percent from 1 to 100, weights must increase from step to step, and the last step must be `{ weight = 100 }`";

const STEP_EXAMPLE: &str = r#"{ weight = 10, bake = "1m" }"#;
const STEP_KEYS: [&str; 3] = ["weight", "bake", "pause"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    AllAtOnce,
    Canary,
    Linear,
    Steps,
}

const TYPES: [(&str, Type); 4] = [
    ("all-at-once", Type::AllAtOnce),
    ("canary", Type::Canary),
    ("linear", Type::Linear),
    ("steps", Type::Steps),
];

/// The attributes that only one type takes.
const OWNED: [(&str, Type); 5] = [
    ("percent", Type::Canary),
    ("bake", Type::Canary),
    ("step", Type::Linear),
    ("interval", Type::Linear),
    ("steps", Type::Steps),
];

fn type_name(ty: Type) -> &'static str {
    TYPES.iter().find(|(_, t)| *t == ty).map_or("", |(n, _)| n)
}

/// `strategy { … }`; all-at-once when the block is absent. Inside the block `type` is required,
/// so a block never silently means all-at-once.
pub(crate) fn parse_strategy(cx: &Cx<'_>, block: Option<&Block>) -> Result<Strategy, ConfigError> {
    let Some(block) = block else {
        return Ok(Strategy::AllAtOnce);
    };
    let s = Section::nested(cx.src, block, STRATEGY)?;
    let type_v = s.require("type")?;
    let (raw, span) = type_v.string()?;
    let ty = type_v.one_of(&raw, &span, &TYPES, "")?;
    check_owned(&s, ty)?;
    match ty {
        Type::AllAtOnce => Ok(Strategy::AllAtOnce),
        Type::Canary => {
            let percent_v = s.require("percent")?;
            let bake_v = s.require("bake")?;
            let percent = small(&percent_v, "from 1 to 99", CANARY_FIX)?;
            let bake = bake_v.duration()?;
            checked(Strategy::Canary { percent, bake }, &percent_v, CANARY_FIX)
        }
        Type::Linear => {
            let step_v = s.require("step")?;
            let interval_v = s.require("interval")?;
            let step = small(&step_v, "from 1 to 100", LINEAR_FIX)?;
            let interval = interval_v.duration()?;
            checked(Strategy::Linear { step, interval }, &step_v, LINEAR_FIX)
        }
        Type::Steps => parse_steps(&s),
    }
}

const CANARY_FIX: &str = "write a percent from 1 to 99, e.g. `percent = 10` (to move all traffic at once, use `type = \"all-at-once\"`)";
const LINEAR_FIX: &str = "write a step from 1 to 100, e.g. `step = 25`";

/// An attribute of another type is refused, the first one in the file first.
fn check_owned(s: &Section<'_>, ty: Type) -> Result<(), ConfigError> {
    let foreign = OWNED
        .iter()
        .filter(|(_, owner)| *owner != ty)
        .filter_map(|(name, owner)| Some((*name, *owner, s.attr(name)?.key.span())))
        .min_by_key(|(_, _, span)| span.as_ref().map_or(usize::MAX, |r| r.start));
    let Some((name, owner, span)) = foreign else {
        return Ok(());
    };
    let (owner, this) = (type_name(owner), type_name(ty));
    Err(s.src.invalid(
        &span,
        format!("`strategy.{name}` is for type = \"{owner}\"; this strategy is \"{this}\""),
        format!("remove `{name}`, or change `type` to \"{owner}\""),
    ))
}

/// A whole number that fits a percent; the range itself is the schedule's to check.
fn small(v: &Value<'_>, range: &str, fix: &str) -> Result<u16, ConfigError> {
    let n = v.integer()?;
    u16::try_from(n).map_err(|_| {
        let written = v.src.snippet(&v.span());
        v.error(
            &v.span(),
            format!("`{}` is {written}; it must be {range}", v.name),
            fix,
        )
    })
}

/// Expands a canary or linear strategy; its only failures are the range of `v`.
fn checked(strategy: Strategy, v: &Value<'_>, fix: &str) -> Result<Strategy, ConfigError> {
    match strategy.schedule() {
        Ok(_) => Ok(strategy),
        Err(err) => Err(v.error(&v.span(), format!("`{}`: {err}", v.name), fix)),
    }
}

fn parse_steps(s: &Section<'_>) -> Result<Strategy, ConfigError> {
    let v = s.require("steps")?;
    let items = v.list("a list of steps", STEP_EXAMPLE)?;
    let steps = items
        .iter()
        .map(parse_step)
        .collect::<Result<Vec<_>, _>>()?;
    let strategy = Strategy::Steps { steps };
    let Err(err) = strategy.schedule() else {
        return Ok(strategy);
    };
    let attribute = s.attr("steps").and_then(|a| a.key.span());
    let (span, fix) = match &err {
        ScheduleError::OutOfRange { index, .. } | ScheduleError::NotIncreasing { index, .. } => {
            (items[index - 1].span(), STEPS_RULE.to_owned())
        }
        ScheduleError::Empty => (attribute, format!("list the steps, e.g. `{}`", v.example)),
        ScheduleError::NotFinishing { .. } | ScheduleError::Invalid(_) => {
            (attribute, STEPS_RULE.to_owned())
        }
    };
    Err(v.error(&span, format!("`strategy.steps`: {err}"), fix))
}

/// `{ weight = N }`, `{ weight = N, bake = "…" }` or `{ pause = true }`.
fn parse_step(item: &Value<'_>) -> Result<Step, ConfigError> {
    let either =
        "a step is either a weight, e.g. `{ weight = 50, bake = \"5m\" }`, or `{ pause = true }`";
    let (mut weight, mut bake, mut pause) = (None, None, None);
    for entry in item.object("a step such as `{ weight = 10 }` or `{ pause = true }`")? {
        let slot = match entry.key.as_str() {
            "weight" => &mut weight,
            "bake" => &mut bake,
            "pause" => &mut pause,
            other => {
                return Err(item.error(
                    &entry.key_span,
                    format!("unknown key `{other}` in `{}`", item.name),
                    unknown_name_fix(other, &STEP_KEYS),
                ))
            }
        };
        *slot = Some((entry.key_span, entry.value));
    }
    let weight = match weight {
        Some((_, v)) => Some(small(&v, "from 1 to 100", STEPS_RULE)?),
        None => None,
    };
    if let Some((key_span, v)) = &pause {
        if !v.boolean()? {
            return Err(v.error(
                key_span,
                format!("`{}` is false; only `pause = true` makes a pause", v.name),
                format!("remove `pause = false`; {either}"),
            ));
        }
    }
    match (weight, pause, bake) {
        (Some(_), Some((key_span, _)), _) => Err(item.error(
            &key_span,
            format!("`{}` has both `weight` and `pause`", item.name),
            either,
        )),
        (None, Some(_), Some((key_span, _))) => Err(item.error(
            &key_span,
            format!(
                "`{}`: a pause has no `bake`; it lasts until `bluegreen promote`",
                item.name
            ),
            "remove `bake`, or make this step a weight, e.g. `{ weight = 50, bake = \"5m\" }`",
        )),
        (None, Some(_), None) => Ok(Step::Pause),
        (None, None, _) => Err(item.error(
            &item.span(),
            format!("`{}` has neither `weight` nor `pause = true`", item.name),
            either,
        )),
        (Some(percent), None, bake) => {
            let bake = match bake {
                Some((_, v)) => v.duration()?,
                None => std::time::Duration::ZERO,
            };
            Ok(Step::Weight { percent, bake })
        }
    }
}

/// `promotion { … }`; every field has a default.
pub(crate) fn parse_promotion(
    cx: &Cx<'_>,
    block: Option<&Block>,
) -> Result<PromotionSettings, ConfigError> {
    let defaults = PromotionSettings::default();
    let Some(block) = block else {
        return Ok(defaults);
    };
    let s = Section::nested(cx.src, block, PROMOTION)?;
    let bake = optional_duration(&s, "bake", defaults.bake)?;
    let termination_wait = optional_duration(&s, "termination_wait", defaults.termination_wait)?;
    let old_color = match s.value("old_color") {
        None => defaults.old_color,
        Some(v) => {
            let (raw, span) = v.string()?;
            let allowed = [
                ("scale-down", OldColor::ScaleDown),
                ("keep-warm", OldColor::KeepWarm),
            ];
            v.one_of(&raw, &span, &allowed, "")?
        }
    };
    Ok(PromotionSettings {
        bake,
        termination_wait,
        old_color,
    })
}
