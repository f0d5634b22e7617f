//! End-to-end: `rollback` judges its target color the way a deploy does — every configured
//! signal, CloudWatch alarms included — and refuses an alarming one unless `--force`.

mod common;

use common::{assert_unchanged, files, journal_records, EnvWorld, Outcome};
use serde_json::Value;

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";

/// Fast polling, an alarm per color, and the old color kept warm at full size, so a rollback
/// is one listener change onto a running color.
const BLOCKS: &str = r#"health {
  timeout       = "20s"
  poll_interval = "200ms"
  alarms { names = ["app-{color}-5xx"] }
}
traffic { verify_timeout = "5s" }
promotion {
  termination_wait = "0s"
  old_color        = "keep-warm"
}
"#;

fn set_alarm(w: &EnvWorld, name: &str, state: &str) {
    w.emu.boto3(&format!(
        "import boto3\nboto3.client('cloudwatch').set_alarm_state(AlarmName='{name}', \
         StateValue='{state}', StateReason='set by the test')\n"
    ));
}

fn create_alarms(w: &EnvWorld) {
    for color in ["blue", "green"] {
        w.emu.boto3(&format!(
            "import boto3\nboto3.client('cloudwatch').put_metric_alarm(\
             AlarmName='app-{color}-5xx', MetricName='HTTPCode_Target_5XX_Count', \
             Namespace='AWS/ApplicationELB', Statistic='Sum', Period=60, EvaluationPeriods=1, \
             Threshold=1.0, ComparisonOperator='GreaterThanThreshold')\n"
        ));
        set_alarm(w, &format!("app-{color}-5xx"), "OK");
    }
}

/// The last JSON line of a `--output json` run: the result.
fn result_json(out: &Outcome) -> Value {
    out.stdout_json_lines()
        .pop()
        .unwrap_or_else(|| panic!("no result line\n{out}"))
}

/// The `rollback-started` entry of the one journal not in `before` (ids within one second
/// do not sort by time).
fn new_rollback_started(w: &EnvWorld, before: &[String]) -> Value {
    let new: Vec<String> = w
        .journal_ids()
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let id = &new[0];
    let first = journal_records(&w.journal_file(id)).remove(0);
    assert_eq!(first["entry"]["type"], "rollback-started", "{first}");
    first["entry"].clone()
}

/// Issue 13, acceptance 6. Real: the bluegreen binary, Terraform applying the emulator
/// modules, moto's ELBv2/ECS/CloudWatch APIs (listener weights, service sizes and alarm states
/// are read back from moto itself), the journal files on disk. Emulated: the alarm's state is
/// set by hand with `SetAlarmState` (moto never evaluates alarms, and no request flows).
#[test]
fn issue13_rollback_to_an_alarming_color_is_refused_unless_forced() {
    let w = EnvWorld::start(BLOCKS, "judge-test");
    create_alarms(&w);
    let deploy = |image: &str| w.cmd(&["deploy"], &["--image", image]).run();
    deploy(V1).assert_code(0);
    deploy(V2).assert_code(0);
    assert_eq!(w.prod(), (0, 100));

    // Blue, the warm old color, is alarming: refused, naming the signal and what it read.
    set_alarm(&w, "app-blue-5xx", "ALARM");
    let aws_before = w.emu.snapshot();
    let journal_before = files(&w.journal_dir());
    let ids_before = w.journal_ids();
    let out = w.cmd(&["rollback"], &[]).run();
    out.assert_code(7);
    for needle in ["alarm:app-blue-5xx", "ALARM", "set by the test", "--force"] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    // Nothing changed: listeners, rules, services, and not one journal byte.
    assert_unchanged(&aws_before, &w.emu.snapshot());
    assert_eq!(journal_before, files(&w.journal_dir()));
    assert_eq!(w.journal_ids(), ids_before);
    assert_eq!(w.prod(), (0, 100));

    // --force: traffic moves, and the journal and `history` say what was overridden.
    let out = w.cmd(&["rollback"], &["--force", "--output", "json"]).run();
    out.assert_code(0);
    // The warning is an event: JSON lines on stdout with `--output json`.
    assert!(
        out.stdout
            .contains("moving production traffic to it anyway (--force"),
        "{out}"
    );
    let r = result_json(&out);
    assert_eq!(r["outcome"], "rolled_back", "{r}");
    assert_eq!(r["forced"][0]["signal"], "alarm:app-blue-5xx", "{r}");
    assert_eq!(w.prod(), (100, 0));
    let started = new_rollback_started(&w, &ids_before);
    assert_eq!(started["to"], "blue", "{started}");
    assert_eq!(
        started["forced"][0]["signal"], "alarm:app-blue-5xx",
        "{started}"
    );
    let observed = started["forced"][0]["observed"].as_str().unwrap();
    assert!(observed.starts_with("ALARM"), "{started}");
    let h = w.history();
    let newest = &h["deployments"][0];
    assert_eq!(newest["command"], "rollback", "{h:#}");
    assert_eq!(newest["forced"][0]["signal"], "alarm:app-blue-5xx", "{h:#}");
    assert!(
        newest["events"].to_string().contains("rollback --force"),
        "{h:#}"
    );
    let human = w.cmd(&["history"], &[]).run();
    human.assert_code(0);
    assert!(
        human
            .stdout
            .contains("past failing signals of blue: alarm:app-blue-5xx (ALARM"),
        "{human}"
    );

    // Alarms OK: rollback proceeds without --force, and nothing is recorded as forced.
    set_alarm(&w, "app-blue-5xx", "OK");
    w.cmd(&["rollback"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (0, 100));
    let ids_before = w.journal_ids();
    w.cmd(&["rollback"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (100, 0));
    let started = new_rollback_started(&w, &ids_before);
    assert_eq!(started["to"], "blue", "{started}");
    assert!(started.get("forced").is_none(), "{started}");
    let h = w.history();
    assert!(h["deployments"][0].get("forced").is_none(), "{h:#}");
}
