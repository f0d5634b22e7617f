//! The `strategy`, `promotion` and `journal` blocks: every form loads to its value, and every
//! mistake is reported at its line with a fix.

use super::*;
use crate::domain::{Step, Strategy};
use std::time::Duration;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn weight(percent: u16, bake: Duration) -> Step {
    Step::Weight { percent, bake }
}

/// `strategy { … }` after BASE: its first line is line 8, the first body line line 9.
fn strategy(body: &str) -> String {
    base(&format!("strategy {{\n{body}\n}}\n"))
}

#[test]
fn every_strategy_form_loads() {
    let fx = Fixture::new();
    let cases = [
        ("", Strategy::AllAtOnce),
        (
            "strategy {\n  type = \"all-at-once\"\n}\n",
            Strategy::AllAtOnce,
        ),
        (
            "strategy {\n  type    = \"canary\"\n  percent = 10\n  bake    = \"5m\"\n}\n",
            Strategy::Canary {
                percent: 10,
                bake: secs(300),
            },
        ),
        (
            "strategy {\n  type    = \"canary\"\n  percent = 99\n  bake    = \"0s\"\n}\n",
            Strategy::Canary {
                percent: 99,
                bake: Duration::ZERO,
            },
        ),
        (
            "strategy {\n  type     = \"linear\"\n  step     = 25\n  interval = \"1m\"\n}\n",
            Strategy::Linear {
                step: 25,
                interval: secs(60),
            },
        ),
        (
            "strategy {\n  type     = \"linear\"\n  step     = 100\n  interval = \"0s\"\n}\n",
            Strategy::Linear {
                step: 100,
                interval: Duration::ZERO,
            },
        ),
        (
            r#"strategy {
  type = "steps"
  steps = [
    { weight = 10, bake = "1m" },
    { pause = true },
    { weight = 50, bake = "5m" },
    { "weight" = 100 },
  ]
}
"#,
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
            "strategy {\n  type  = \"steps\"\n  steps = [{ pause = true }, { weight = 100, bake = \"0s\" }]\n}\n",
            Strategy::Steps {
                steps: vec![Step::Pause, weight(100, Duration::ZERO)],
            },
        ),
    ];
    for (extra, want) in cases {
        let cfg = fx
            .load(&base(extra))
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(cfg.strategy, want, "{extra}");
    }
}

#[test]
fn promotion_has_defaults_and_takes_every_field() {
    let fx = Fixture::new();
    let cfg = fx.load(BASE).unwrap();
    assert_eq!(
        cfg.promotion,
        PromotionSettings {
            bake: Duration::ZERO,
            termination_wait: secs(300),
            old_color: OldColor::ScaleDown,
        }
    );
    let src = base(
        "promotion {\n  bake             = \"2m\"\n  termination_wait = \"0s\"\n  old_color        = \"keep-warm\"\n}\n",
    );
    assert_eq!(
        fx.load(&src).unwrap().promotion,
        PromotionSettings {
            bake: secs(120),
            termination_wait: Duration::ZERO,
            old_color: OldColor::KeepWarm,
        }
    );
    let src = base("promotion {\n  old_color = \"scale-down\"\n}\n");
    assert_eq!(
        fx.load(&src).unwrap().promotion.old_color,
        OldColor::ScaleDown
    );
}

#[test]
#[rustfmt::skip]
fn strategy_shape_mistakes() {
    let fx = Fixture::new();
    check_bad_cases(&fx, vec![
        bad("unknown type", strategy("  type = \"blue-green\""), 9,
            "`strategy.type` is \"blue-green\"; expected one of \"all-at-once\", \"canary\", \"linear\", \"steps\"", "write one of"),
        bad("type typo", strategy("  type = \"cannary\""), 9, "`strategy.type` is \"cannary\"", "did you mean \"canary\"?"),
        bad("type missing", strategy("  percent = 10"), 8,
            "block `strategy` is missing the required attribute `type`", "add e.g. `type = \"canary\"`"),
        bad("type not a string", strategy("  type = 1"), 9, "`strategy.type` must be a string, found a number", "type = \"canary\""),
        bad("unknown attribute", strategy("  type   = \"canary\"\n  percnt = 10"), 10,
            "unknown attribute `percnt` in block `strategy`", "did you mean `percent`?"),
        bad("linear field in a canary", strategy("  type    = \"canary\"\n  percent = 10\n  bake    = \"5m\"\n  step    = 25"), 12,
            "`strategy.step` is for type = \"linear\"; this strategy is \"canary\"", "remove `step`, or change `type` to \"linear\""),
        bad("canary field in all-at-once", strategy("  type    = \"all-at-once\"\n  percent = 10"), 10,
            "`strategy.percent` is for type = \"canary\"", "remove `percent`"),
        bad("the first foreign field is reported", strategy("  interval = \"1m\"\n  type     = \"steps\"\n  bake     = \"1m\"\n  steps    = [{ weight = 100 }]"), 9,
            "`strategy.interval` is for type = \"linear\"; this strategy is \"steps\"", "change `type` to \"linear\""),
        bad("steps in a linear", strategy("  type     = \"linear\"\n  step     = 25\n  interval = \"1m\"\n  steps    = []"), 12,
            "`strategy.steps` is for type = \"steps\"", "remove `steps`"),
        bad("canary without bake", strategy("  type    = \"canary\"\n  percent = 10"), 8,
            "block `strategy` is missing the required attribute `bake`", "add e.g. `bake = \"5m\"`"),
        bad("canary without percent", strategy("  type = \"canary\"\n  bake = \"5m\""), 8,
            "missing the required attribute `percent`", "percent = 10"),
        bad("linear without interval", strategy("  type = \"linear\"\n  step = 25"), 8,
            "missing the required attribute `interval`", "interval = \"1m\""),
        bad("steps without steps", strategy("  type = \"steps\""), 8,
            "missing the required attribute `steps`", "steps = [{ weight = 10"),
        bad("strategy as an attribute", base("strategy = \"canary\"\n"), 8,
            "`strategy` is a block, not an attribute", "strategy { type = \"all-at-once\" }"),
    ]);
}

#[test]
#[rustfmt::skip]
fn canary_and_linear_value_mistakes() {
    let fx = Fixture::new();
    let canary = |percent: &str, bake: &str| strategy(&format!("  type    = \"canary\"\n  percent = {percent}\n  bake    = {bake}"));
    let linear = |step: &str| strategy(&format!("  type     = \"linear\"\n  step     = {step}\n  interval = \"1m\""));
    check_bad_cases(&fx, vec![
        bad("canary of 100", canary("100", "\"5m\""), 10,
            "`strategy.percent`: canary percent 100 must be from 1 to 99", "type = \"all-at-once\""),
        bad("canary of 0", canary("0", "\"5m\""), 10, "canary percent 0 must be from 1 to 99", "from 1 to 99"),
        bad("negative canary", canary("-5", "\"5m\""), 10, "`strategy.percent` is -5; it must be from 1 to 99", "percent = 10"),
        bad("huge canary", canary("70000", "\"5m\""), 10, "`strategy.percent` is 70000", "from 1 to 99"),
        bad("fractional canary", canary("12.5", "\"5m\""), 10, "must be a whole number, found 12.5", "percent = 10"),
        bad("quoted canary", canary("\"10\"", "\"5m\""), 10, "`strategy.percent` must be a whole number, found a string", "percent = 10"),
        bad("bake without a unit", canary("10", "300"), 11, "`strategy.bake` must be a duration string, found a number", "bake = \"5m\""),
        bad("bake not a duration", canary("10", "\"a while\""), 11, "'a while' is not a duration", "\"5m\""),
        bad("linear step 0", linear("0"), 10, "`strategy.step`: linear step 0 must be from 1 to 100", "step = 25"),
        bad("linear step 101", linear("101"), 10, "linear step 101 must be from 1 to 100", "from 1 to 100"),
        bad("bad interval", strategy("  type     = \"linear\"\n  step     = 25\n  interval = \"often\""), 11,
            "`strategy.interval`: 'often' is not a duration", "interval = \"1m\""),
    ]);
}

#[test]
#[rustfmt::skip]
fn steps_mistakes_point_at_the_step() {
    let fx = Fixture::new();
    // `steps = [` is line 10; the n-th element (0-based) is on line 11 + n.
    let steps = |items: &[&str]| {
        let items: Vec<String> = items.iter().map(|i| format!("    {i},\n")).collect();
        strategy(&format!("  type = \"steps\"\n  steps = [\n{}  ]", items.concat()))
    };
    let rule = "weights must increase from step to step, and the last step must be `{ weight = 100 }`";
    check_bad_cases(&fx, vec![
        bad("weight 0", steps(&["{ weight = 0 }", "{ weight = 100 }"]), 11, "`strategy.steps`: step 1: weight 0 is outside 1–100", rule),
        bad("weight above 100", steps(&["{ weight = 10 }", "{ weight = 150 }"]), 12, "step 2: weight 150 is outside 1–100", "from 1 to 100"),
        bad("negative weight", steps(&["{ weight = -10 }", "{ weight = 100 }"]), 11, "`strategy.steps[0].weight` is -10; it must be from 1 to 100", rule),
        bad("weights going down", steps(&["{ weight = 50 }", "{ pause = true }", "{ weight = 40 }", "{ weight = 100 }"]), 13,
            "step 3: weight 40 does not increase on the previous weight 50", rule),
        bad("weight repeated", steps(&["{ weight = 50 }", "{ weight = 50 }", "{ weight = 100 }"]), 12, "step 2: weight 50 does not increase", rule),
        bad("last step below 100", steps(&["{ weight = 10 }", "{ weight = 90 }"]), 10,
            "`strategy.steps`: the last step is 90%, not a weight of 100", rule),
        bad("pause last", steps(&["{ weight = 10 }", "{ weight = 100 }", "{ pause = true }"]), 10,
            "the last step is pause, not a weight of 100", "the last step must be `{ weight = 100 }`"),
        bad("no steps", strategy("  type  = \"steps\"\n  steps = []"), 10, "`strategy.steps`: the schedule has no steps", "list the steps, e.g. `steps = ["),
        bad("weight and pause", steps(&["{ weight = 10 }", "{ weight = 50, pause = true }", "{ weight = 100 }"]), 12,
            "`strategy.steps[1]` has both `weight` and `pause`", "a step is either a weight"),
        bad("neither weight nor pause", steps(&["{ bake = \"1m\" }", "{ weight = 100 }"]), 11,
            "`strategy.steps[0]` has neither `weight` nor `pause = true`", "`{ pause = true }`"),
        bad("pause with a bake", steps(&["{ weight = 10 }", "{ pause = true, bake = \"1m\" }", "{ weight = 100 }"]), 12,
            "`strategy.steps[1]`: a pause has no `bake`; it lasts until `bluegreen promote`", "remove `bake`"),
        bad("pause = false", steps(&["{ pause = false }", "{ weight = 100 }"]), 11,
            "`strategy.steps[0].pause` is false; only `pause = true` makes a pause", "remove `pause = false`"),
        bad("pause not a bool", steps(&["{ pause = \"yes\" }", "{ weight = 100 }"]), 11,
            "`strategy.steps[0].pause` must be true or false, found a string", "write e.g."),
        bad("fractional weight", steps(&["{ weight = 12.5 }", "{ weight = 100 }"]), 11, "`strategy.steps[0].weight` must be a whole number, found 12.5", "weight"),
        bad("quoted weight", steps(&["{ weight = \"50\" }", "{ weight = 100 }"]), 11, "`strategy.steps[0].weight` must be a whole number, found a string", "write e.g."),
        bad("bad bake", steps(&["{ weight = 10, bake = \"1 minute-ish\" }", "{ weight = 100 }"]), 11, "`strategy.steps[0].bake`: '1 minute-ish' is not a duration", "\"5m\""),
        bad("unknown key", steps(&["{ wieght = 10 }", "{ weight = 100 }"]), 11,
            "unknown key `wieght` in `strategy.steps[0]`", "did you mean `weight`? allowed here: `weight`, `bake`, `pause`"),
        bad("a number for a step", steps(&["10", "{ weight = 100 }"]), 11,
            "`strategy.steps[0]` must be a step such as `{ weight = 10 }` or `{ pause = true }`, found a number", "{ weight = 10, bake = \"1m\" }"),
        bad("a string for the list", strategy("  type  = \"steps\"\n  steps = \"10,100\""), 10,
            "`strategy.steps` must be a list of steps, found a string", "steps = ["),
        bad("an expression in a step", steps(&["{ weight = var.w }", "{ weight = 100 }"]), 11, "expressions are not supported here", "var.w"),
    ]);
}

#[test]
#[rustfmt::skip]
fn promotion_mistakes() {
    let fx = Fixture::new();
    let promotion = |body: &str| base(&format!("promotion {{\n{body}\n}}\n"));
    check_bad_cases(&fx, vec![
        bad("old_color typo", promotion("  old_color = \"scale_down\""), 9,
            "`promotion.old_color` is \"scale_down\"; expected one of \"scale-down\", \"keep-warm\"", "did you mean \"scale-down\"?"),
        bad("old_color unknown", promotion("  old_color = \"delete\""), 9, "expected one of \"scale-down\", \"keep-warm\"", "old_color = \"scale-down\""),
        bad("termination_wait without a unit", promotion("  termination_wait = \"5\""), 9, "`promotion.termination_wait`: '5' is not a duration", "termination_wait = \"5m\""),
        bad("bake as a number", promotion("  bake = 120"), 9, "`promotion.bake` must be a duration string, found a number", "bake = \"2m\""),
        bad("unknown attribute", promotion("  old_colour = \"keep-warm\""), 9, "unknown attribute `old_colour` in block `promotion`", "did you mean `old_color`?"),
    ]);
}

#[test]
fn strategy_errors_come_out_in_file_order() {
    let fx = Fixture::new();
    // strategy is parsed after health, but comes first in the file.
    let src = format!(
        "{BASE}strategy {{\n  type = \"canary\"\n  percent = 100\n  bake = \"1m\"\n}}\nhealth {{\n  timeout = \"never\"\n}}\n"
    );
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location(), Some((10, 13)), "{err}");
    // And a health mistake above the strategy wins.
    let src = format!(
        "{BASE}health {{\n  timeout = \"never\"\n}}\nstrategy {{\n  type = \"canary\"\n  percent = 100\n  bake = \"1m\"\n}}\n"
    );
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location(), Some((9, 13)), "{err}");
}

#[test]
fn journal_has_defaults_and_takes_every_field() {
    let fx = Fixture::new();
    assert_eq!(fx.load(BASE).unwrap().journal, JournalSettings::default());
    assert_eq!(JournalSettings::default().backend, JournalBackend::Local);
    assert_eq!(JournalSettings::default().lease, secs(30));
    let src = base(
        "journal {\n  backend = \"dynamodb\"\n  table   = \"bluegreen-state\"\n  lease   = \"1m\"\n}\n",
    );
    assert_eq!(
        fx.load(&src).unwrap().journal,
        JournalSettings {
            backend: JournalBackend::DynamoDb {
                table: "bluegreen-state".into()
            },
            lease: secs(60),
        }
    );
    let src = base("journal {\n  backend = \"local\"\n  lease = \"3s\"\n}\n");
    assert_eq!(fx.load(&src).unwrap().journal.lease, secs(3));
}

#[test]
#[rustfmt::skip]
fn journal_mistakes() {
    let fx = Fixture::new();
    let journal = |body: &str| base(&format!("journal {{\n{body}\n}}\n"));
    check_bad_cases(&fx, vec![
        bad("backend typo", journal("  backend = \"dynamo\""), 9,
            "`journal.backend` is \"dynamo\"; expected one of \"local\", \"dynamodb\"", "did you mean \"dynamodb\"?"),
        bad("dynamodb without a table", journal("  backend = \"dynamodb\""), 8,
            "missing the required attribute `table`", "table = \"bluegreen-state\""),
        bad("table without dynamodb", journal("  table = \"t1\""), 9,
            "`table` is only used by the DynamoDB backend", "add `backend = \"dynamodb\"`"),
        bad("bad table name", journal("  backend = \"dynamodb\"\n  table = \"a b\""), 10,
            "is not a DynamoDB table name", "3–255 letters"),
        bad("lease too short", journal("  lease = \"1s\""), 9,
            "must be at least 3s", "lease = \"30s\""),
        bad("lease zero", journal("  lease = \"0s\""), 9,
            "`journal.lease` must be greater than zero", "lease = \"30s\""),
    ]);
}
