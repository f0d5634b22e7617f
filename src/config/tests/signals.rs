//! The health signals: `ecs`, `target_health`, `alarms` and repeated `http "name"` blocks inside
//! `health`. Defaults, every field, and every mistake at its line.

use super::*;
use std::time::Duration;

/// `health { … }` after BASE: `health {` is line 8, the first body line line 9.
fn health(body: &str) -> String {
    base(&format!("health {{\n{body}\n}}\n"))
}

#[test]
fn signals_default_to_wait_and_nothing_else() {
    let fx = Fixture::new();
    for src in [BASE.to_owned(), health("  timeout = \"5m\"")] {
        let h = fx.load(&src).unwrap().health;
        assert_eq!(h.ecs, NoData::Wait);
        assert_eq!(h.target_health, NoData::Wait);
        assert_eq!(h.alarms, None);
        assert!(h.http.is_empty());
    }
}

#[test]
fn every_signal_field_loads() {
    let fx = Fixture::new();
    let src = health(
        r#"  timeout       = "10m"
  poll_interval = "2s"
  ecs           { no_data = "fail" }
  target_health { no_data = "pass" }
  alarms {
    names   = ["app-{color}-5xx", "app-latency"]
    no_data = "wait"
  }
  http "smoke" {
    url           = "https://test.example.com:8443/health?color={color}"
    status        = 204
    body_contains = "ok"
    max_latency   = "500ms"
    consecutive   = 3
    no_data       = "wait"
  }
  http "home" {
    url = "http://{color}.internal/"
  }"#,
    );
    let h = fx.load(&src).unwrap_or_else(|e| panic!("{e}")).health;
    assert_eq!(h.timeout, Duration::from_secs(600));
    assert_eq!(h.poll_interval, Duration::from_secs(2));
    assert_eq!(h.ecs, NoData::Fail);
    assert_eq!(h.target_health, NoData::Pass);
    assert_eq!(
        h.alarms,
        Some(AlarmSignal {
            names: vec!["app-{color}-5xx".into(), "app-latency".into()],
            no_data: NoData::Wait,
        })
    );
    assert_eq!(
        h.http,
        vec![
            HttpCheck {
                name: "smoke".into(),
                url: "https://test.example.com:8443/health?color={color}".into(),
                status: 204,
                body_contains: Some("ok".into()),
                max_latency: Duration::from_millis(500),
                consecutive: 3,
                no_data: NoData::Wait,
            },
            // Every default of an HTTP check.
            HttpCheck {
                name: "home".into(),
                url: "http://{color}.internal/".into(),
                status: 200,
                body_contains: None,
                max_latency: Duration::from_secs(2),
                consecutive: 1,
                no_data: NoData::Fail,
            },
        ]
    );
}

#[test]
fn alarms_fail_on_no_data_by_default_and_labels_may_be_bare() {
    let fx = Fixture::new();
    let src = health("  alarms { names = [\"a\"] }\n  http smoke_1 { url = \"http://x\" }");
    let h = fx.load(&src).unwrap_or_else(|e| panic!("{e}")).health;
    assert_eq!(h.alarms.map(|a| a.no_data), Some(NoData::Fail));
    assert_eq!(h.http[0].name, "smoke_1");
}

#[test]
#[rustfmt::skip]
fn signal_mistakes() {
    let fx = Fixture::new();
    let alarms = |body: &str| health(&format!("  alarms {{\n{body}\n  }}"));
    check_bad_cases(&fx, vec![
        bad("bad ecs no_data", health("  ecs {\n    no_data = \"maybe\"\n  }"), 10,
            "`health.ecs.no_data` is \"maybe\"; expected one of \"fail\", \"pass\", \"wait\"", "no_data = \"wait\""),
        bad("target_health no_data typo", health("  target_health { no_data = \"wiat\" }"), 9,
            "`health.target_health.no_data` is \"wiat\"", "did you mean \"wait\"?"),
        bad("no_data as a bool", health("  ecs { no_data = true }"), 9,
            "`health.ecs.no_data` must be a string, found a bool", "no_data = \"wait\""),
        bad("unknown attribute in ecs", health("  ecs { nodata = \"fail\" }"), 9,
            "unknown attribute `nodata` in block `health.ecs`", "did you mean `no_data`?"),
        bad("ecs as an attribute", health("  ecs = { no_data = \"wait\" }"), 9,
            "`ecs` is a block, not an attribute", "ecs { no_data = \"wait\" }"),
        bad("alarms twice", health("  alarms { names = [\"a\"] }\n  alarms { names = [\"b\"] }"), 10,
            "block `alarms` appears twice (first at line 9)", "merge them"),
        bad("labelled alarms", health("  alarms \"x\" { names = [\"a\"] }"), 9,
            "block `alarms` takes no labels", "remove the label"),
        bad("alarms without names", alarms("    no_data = \"fail\""), 9,
            "block `health.alarms` is missing the required attribute `names`", "names = [\"app-{color}-5xx\""),
        bad("empty alarm list", alarms("    names = []"), 10,
            "`health.alarms.names` is empty", "list at least one alarm"),
        bad("empty alarm name", alarms("    names = [\"app-{color}-5xx\", \"\"]"), 10,
            "`health.alarms.names[1]` is empty", "write the alarm's name"),
        bad("unknown placeholder in an alarm", alarms("    names = [\n      \"app-{colour}-5xx\",\n    ]"), 11,
            "`health.alarms.names[0]` has an unknown placeholder `{colour}`", "write `{color}`"),
        bad("interpolation in an alarm", alarms("    names = [\"app-${color}\"]"), 10,
            "expressions are not supported here", "placeholders, where allowed, have no `$`"),
        bad("alarm names not a list", alarms("    names = \"app-5xx\""), 10,
            "`health.alarms.names` must be a list of strings, found a string", "names = ["),
        bad("bad alarms no_data", alarms("    names   = [\"a\"]\n    no_data = \"ignore\""), 11,
            "`health.alarms.no_data` is \"ignore\"", "no_data = \"fail\""),
    ]);
}

#[test]
#[rustfmt::skip]
fn http_mistakes() {
    let fx = Fixture::new();
    // `http "smoke" {` is line 9; its first attribute line 10.
    let http = |body: &str| health(&format!("  http \"smoke\" {{\n{body}\n  }}"));
    let with_url = |line: &str| http(&format!("    url = \"http://x/health\"\n{line}"));
    check_bad_cases(&fx, vec![
        bad("missing url", http("    status = 200"), 9,
            "block `health.http.smoke` is missing the required attribute `url`",
            "add e.g. `url = \"http://test.example.com:8080/health\"` inside `http \"smoke\" { … }`"),
        bad("bad scheme", http("    url = \"ftp://test.example.com/health\""), 10,
            "`health.http.smoke.url` \"ftp://test.example.com/health\" must start with http:// or https://", "write a full URL"),
        bad("no scheme", http("    url = \"test.example.com/health\""), 10, "must start with http:// or https://", "http://test.example.com:8080/health"),
        bad("no host", http("    url = \"http:///health\""), 10, "\"http:///health\" has no host", "write a full URL"),
        bad("space in url", http("    url = \"http://x/a b\""), 10, "contains whitespace", "write a full URL"),
        bad("unknown placeholder in url", http("    url = \"http://{colour}.internal/\""), 10,
            "`health.http.smoke.url` has an unknown placeholder `{colour}`", "write `{color}`"),
        bad("url as a number", http("    url = 8080"), 10, "`health.http.smoke.url` must be a string, found a number", "url = \"http://"),
        bad("status too low", with_url("    status = 99"), 11, "`health.http.smoke.status` is 99; it must be from 100 to 599", "status = 200"),
        bad("status too high", with_url("    status = 600"), 11, "is 600; it must be from 100 to 599", "an HTTP status code"),
        bad("quoted status", with_url("    status = \"200\""), 11, "must be a whole number, found a string", "status = 200"),
        bad("consecutive 0", with_url("    consecutive = 0"), 11, "`health.http.smoke.consecutive` is 0; it must be from 1 to 100", "consecutive = 3"),
        bad("consecutive 101", with_url("    consecutive = 101"), 11, "is 101; it must be from 1 to 100", "a count from 1 to 100"),
        bad("zero max_latency", with_url("    max_latency = \"0s\""), 11, "`health.http.smoke.max_latency` must be greater than zero", "max_latency = \"2s\""),
        bad("bad max_latency", with_url("    max_latency = \"fast\""), 11, "'fast' is not a duration", "max_latency = \"2s\""),
        bad("empty body_contains", with_url("    body_contains = \"\""), 11, "`health.http.smoke.body_contains` is empty", "body_contains = \"ok\""),
        bad("bad http no_data", with_url("    no_data = \"none\""), 11, "`health.http.smoke.no_data` is \"none\"", "no_data = \"fail\""),
        bad("unknown attribute in http", with_url("    stauts = 200"), 11,
            "unknown attribute `stauts` in block `health.http.smoke`", "did you mean `status`?"),
        bad("http without a label", health("  http {\n    url = \"http://x\"\n  }"), 9,
            "block `health.http` needs a label: its name", "http \"smoke\" { url = "),
        bad("http with two labels", health("  http \"a\" \"b\" {\n    url = \"http://x\"\n  }"), 9,
            "block `health.http` takes one label, found a second one `\"b\"`", "write `http \"a\" {`"),
        bad("bad label", health("  http \"my check\" {\n    url = \"http://x\"\n  }"), 9,
            "`health.http` name \"my check\" may only hold letters, digits, '_' and '-'", "http \"my-check\" {"),
        bad("duplicate label", health("  http \"smoke\" {\n    url = \"http://a\"\n  }\n  http \"home\" {\n    url = \"http://b\"\n  }\n  http \"smoke\" {\n    url = \"http://c\"\n  }"), 15,
            "block `http \"smoke\"` appears twice (first at line 9)", "give each `http` block its own name"),
        bad("duplicate label, bare and quoted", health("  http smoke {\n    url = \"http://a\"\n  }\n  http \"smoke\" {\n    url = \"http://b\"\n  }"), 12,
            "appears twice (first at line 9)", "its own name"),
    ]);
}

#[test]
fn health_errors_come_out_in_file_order() {
    let fx = Fixture::new();
    // The http check is parsed after the timing, but comes first in the block.
    let src = health("  http \"a\" {\n    url = \"ftp://x\"\n  }\n  timeout = \"never\"");
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location().map(|(l, _)| l), Some(10), "{err}");
    // Of two bad http checks, the first.
    let src = health(
        "  http \"a\" {\n    consecutive = 0\n    url = \"http://x\"\n  }\n  http \"b\" {\n    url = \"ftp://x\"\n  }",
    );
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location().map(|(l, _)| l), Some(10), "{err}");
    // An empty alarm list above a zero timeout.
    let src = health("  alarms { names = [] }\n  timeout = \"0s\"");
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location().map(|(l, _)| l), Some(9), "{err}");
}
