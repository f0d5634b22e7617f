//! `deploy --strategy SPEC`: the one-line spelling of a strategy, checked like the `strategy`
//! block of the environment file (by expanding it to its schedule).
//!
//! ```text
//! all-at-once
//! canary:PERCENT:BAKE        canary:10:5m
//! linear:STEP:INTERVAL       linear:25:30s
//! steps:STEP,STEP,…          steps:10@1m,pause,50@5m,100   (STEP is W, W@BAKE or pause)
//! ```

use super::limits::{duration_limit, human_limit};
use super::source::closest;
use crate::domain::{Step, Strategy};
use std::time::Duration;

const FORMS: &str = "accepted forms: all-at-once | canary:PERCENT:BAKE | linear:STEP:INTERVAL | steps:STEP,STEP,… where a STEP is WEIGHT, WEIGHT@BAKE or pause";
const EXAMPLES: &str = "e.g. canary:10:5m, linear:25:30s or steps:10@1m,pause,50@5m,100";
const STEPS_RULE: &str =
    "weights are percents from 1 to 100, must increase from step to step, and the last must be 100";

/// Parses and checks a `--strategy` value. The error names the flag, quotes the value and what
/// is wrong with it, and lists the accepted forms.
pub fn parse_strategy_spec(spec: &str) -> Result<Strategy, String> {
    let fail = |why: String| format!("--strategy \"{spec}\": {why} ({FORMS})");
    let strategy = parse(spec.trim()).map_err(fail)?;
    match strategy.schedule() {
        Ok(_) => Ok(strategy),
        Err(err) => {
            let rule = match strategy {
                Strategy::Steps { .. } => STEPS_RULE,
                _ => "",
            };
            let why = if rule.is_empty() {
                err.to_string()
            } else {
                format!("{err}; {rule}")
            };
            Err(fail(why))
        }
    }
}

fn parse(spec: &str) -> Result<Strategy, String> {
    let (kind, rest) = match spec.split_once(':') {
        Some((kind, rest)) => (kind.trim(), Some(rest)),
        None => (spec, None),
    };
    match (kind, rest) {
        ("all-at-once", None) => Ok(Strategy::AllAtOnce),
        ("all-at-once", Some(_)) => Err("all-at-once takes nothing after it".to_owned()),
        ("canary", rest) => {
            let [percent, bake] = two(rest).ok_or_else(|| {
                "canary needs a percent and a bake time, e.g. canary:10:5m".to_owned()
            })?;
            Ok(Strategy::Canary {
                percent: number(percent, "canary percent", "from 1 to 99")?,
                bake: duration(bake)?,
            })
        }
        ("linear", rest) => {
            let [step, interval] = two(rest).ok_or_else(|| {
                "linear needs a step and an interval, e.g. linear:25:30s".to_owned()
            })?;
            Ok(Strategy::Linear {
                step: number(step, "linear step", "from 1 to 100")?,
                interval: duration(interval)?,
            })
        }
        ("steps", rest) => {
            let list = rest
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| {
                    "steps needs a list of steps, e.g. steps:10@1m,pause,50@5m,100".to_owned()
                })?;
            let steps = list.split(',').map(step).collect::<Result<_, _>>()?;
            Ok(Strategy::Steps { steps })
        }
        (other, _) => {
            let kinds = ["all-at-once", "canary", "linear", "steps"];
            Err(match closest(other, &kinds) {
                Some(best) => format!("unknown strategy \"{other}\"; did you mean \"{best}\"?"),
                None => format!("unknown strategy \"{other}\"; {EXAMPLES}"),
            })
        }
    }
}

/// Exactly two non-empty `:`-separated parts.
fn two(rest: Option<&str>) -> Option<[&str; 2]> {
    let mut parts = rest?.split(':').map(str::trim);
    let pair = [parts.next()?, parts.next()?];
    (parts.next().is_none() && pair.iter().all(|p| !p.is_empty())).then_some(pair)
}

/// `W`, `W@BAKE` or `pause`.
fn step(text: &str) -> Result<Step, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a step is empty (two commas in a row?)".to_owned());
    }
    if text == "pause" {
        return Ok(Step::Pause);
    }
    let (weight, bake) = match text.split_once('@') {
        Some((weight, bake)) => (weight.trim(), Some(bake.trim())),
        None => (text, None),
    };
    if weight == "pause" {
        return Err(format!(
            "\"{text}\": a pause has no bake time; it lasts until `bluegreen promote`"
        ));
    }
    if bake.is_none() && !weight.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return Err(format!(
            "\"{text}\" is not a step: write a weight (10), a weight and a bake (10@1m) or pause"
        ));
    }
    Ok(Step::Weight {
        percent: number(weight, "weight", "from 1 to 100")?,
        bake: bake.map_or(Ok(Duration::ZERO), duration)?,
    })
}

/// A whole number that fits a percent; the range itself is the schedule's to check.
fn number(text: &str, name: &str, range: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("{name} \"{text}\" is not a whole number {range}"))
}

fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|_| format!("\"{text}\" is not a duration; write e.g. 30s, 5m or 1h"))?;
    let limit = duration_limit("--strategy").expect("--strategy has a limit");
    if d > limit.max {
        return Err(format!(
            "bake or interval \"{text}\" is longer than its limit of {} ({}); write at most {}",
            human_limit(limit.max),
            limit.why,
            human_limit(limit.max)
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn weight(percent: u16, bake: Duration) -> Step {
        Step::Weight { percent, bake }
    }

    #[test]
    fn every_form_parses() {
        let cases = [
            ("all-at-once", Strategy::AllAtOnce),
            (" all-at-once ", Strategy::AllAtOnce),
            (
                "canary:10:5m",
                Strategy::Canary {
                    percent: 10,
                    bake: secs(300),
                },
            ),
            (
                "canary:99:0s",
                Strategy::Canary {
                    percent: 99,
                    bake: Duration::ZERO,
                },
            ),
            (
                "linear:25:30s",
                Strategy::Linear {
                    step: 25,
                    interval: secs(30),
                },
            ),
            (
                "linear:100:0s",
                Strategy::Linear {
                    step: 100,
                    interval: Duration::ZERO,
                },
            ),
            (
                "steps:10@1m,pause,50@5m,100",
                Strategy::Steps {
                    steps: vec![
                        weight(10, secs(60)),
                        Step::Pause,
                        weight(50, secs(300)),
                        weight(100, Duration::ZERO),
                    ],
                },
            ),
            (
                "steps: 20@1h 30m, 100",
                Strategy::Steps {
                    steps: vec![weight(20, secs(5400)), weight(100, Duration::ZERO)],
                },
            ),
            (
                "steps:100",
                Strategy::Steps {
                    steps: vec![weight(100, Duration::ZERO)],
                },
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_strategy_spec(spec), Ok(want), "{spec}");
        }
    }

    #[test]
    fn mistakes_name_the_flag_quote_the_value_and_list_the_forms() {
        let cases = [
            ("", "unknown strategy \"\""),
            ("canery:10:5m", "did you mean \"canary\"?"),
            (
                "blue-green",
                "unknown strategy \"blue-green\"; e.g. canary:10:5m",
            ),
            ("all-at-once:5m", "all-at-once takes nothing after it"),
            (
                "canary",
                "canary needs a percent and a bake time, e.g. canary:10:5m",
            ),
            (
                "canary:10",
                "canary needs a percent and a bake time, e.g. canary:10:5m",
            ),
            ("canary:10:5m:1", "canary needs a percent and a bake time"),
            ("canary::5m", "canary needs a percent and a bake time"),
            (
                "canary:ten:5m",
                "canary percent \"ten\" is not a whole number from 1 to 99",
            ),
            (
                "canary:-5:5m",
                "canary percent \"-5\" is not a whole number from 1 to 99",
            ),
            (
                "linear:x:1m",
                "linear step \"x\" is not a whole number from 1 to 100",
            ),
            ("canary:10:5", "\"5\" is not a duration"),
            ("canary:100:5m", "canary percent 100 must be from 1 to 99"),
            ("canary:0:5m", "canary percent 0 must be from 1 to 99"),
            (
                "linear:25",
                "linear needs a step and an interval, e.g. linear:25:30s",
            ),
            ("linear:0:30s", "linear step 0 must be from 1 to 100"),
            ("linear:101:30s", "linear step 101 must be from 1 to 100"),
            ("linear:25:soon", "\"soon\" is not a duration"),
            ("steps", "steps needs a list of steps"),
            ("steps:", "steps needs a list of steps"),
            ("steps:10@1m,,100", "a step is empty"),
            ("steps:10@1m,pause@1m,100", "a pause has no bake time"),
            ("steps:puase,100", "\"puase\" is not a step: write a weight"),
            ("steps:ten@1m,100", "weight \"ten\" is not a whole number"),
            (
                "steps:-1,100",
                "weight \"-1\" is not a whole number from 1 to 100",
            ),
            ("steps:10@x,100", "\"x\" is not a duration"),
            (
                "canary:10:100000000000d",
                "bake or interval \"100000000000d\" is longer than its limit of 24h",
            ),
            ("linear:25:25h", "\"25h\" is longer than its limit of 24h"),
            ("steps:10@2d,100", "\"2d\" is longer than its limit of 24h"),
            ("steps:0,100", "step 1: weight 0 is outside 1–100"),
            ("steps:10,150", "step 2: weight 150 is outside 1–100"),
            ("steps:50,40,100", "step 2: weight 40 does not increase"),
            ("steps:50,50,100", "step 2: weight 50 does not increase"),
            ("steps:10,90", "the last step is 90%, not a weight of 100"),
            (
                "steps:10,100,pause",
                "the last step is pause, not a weight of 100",
            ),
        ];
        for (spec, want) in cases {
            let err = parse_strategy_spec(spec).expect_err(spec);
            assert!(
                err.starts_with(&format!("--strategy \"{spec}\": ")),
                "{spec}: {err}"
            );
            assert!(err.contains(want), "{spec}: want {want:?} in {err}");
            assert!(err.contains(FORMS), "{spec}: {err}");
        }
        // Schedule mistakes of a steps spec also say what a valid list looks like.
        let err = parse_strategy_spec("steps:50,40,100").unwrap_err();
        assert!(err.contains("must increase from step to step"), "{err}");
    }

    #[test]
    fn the_documented_error_reads_well() {
        assert_eq!(
            parse_strategy_spec("canary:10").unwrap_err(),
            format!(
                "--strategy \"canary:10\": canary needs a percent and a bake time, e.g. canary:10:5m ({FORMS})"
            )
        );
    }
}
