//! The CloudWatch adapter against the emulator. These tests fail when the emulator stops
//! understanding our CloudWatch client: aws-sdk-cloudwatch 1.100.0 and later speak Smithy RPC v2
//! CBOR, which moto 5.2.1 answers with a 404 (docs/aws-sdk.md). Plus a guard that the pinned SDK
//! crates still share one copy of the runtime.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bluegreen::aws::{AlarmState, Alarms, SdkAlarms};
use common::Emulator;

fn names<const N: usize>(names: [&str; N]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn read(emulator: &Emulator, alarms: &[String]) -> BTreeMap<String, AlarmState> {
    let reader = SdkAlarms::new(&emulator.sdk_config());
    let states = emulator
        .block_on(reader.alarm_states(alarms))
        .unwrap_or_else(|e| panic!("{e}\n--- emulator log ---\n{}", emulator.log_tail()));
    let count = states.len();
    let by_name: BTreeMap<_, _> = states.into_iter().map(|s| (s.name.clone(), s)).collect();
    assert_eq!(by_name.len(), count, "an alarm was reported twice");
    by_name
}

const TWO_ALARMS: &str = r#"
import boto3
cw = boto3.client("cloudwatch")
for name, metric in [("api-5xx", "HTTPCode_Target_5XX_Count"), ("api-latency", "TargetResponseTime")]:
    cw.put_metric_alarm(
        AlarmName=name, Namespace="AWS/ApplicationELB", MetricName=metric,
        Dimensions=[{"Name": "TargetGroup", "Value": "targetgroup/green/0123456789abcdef"}],
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )
"#;

#[test]
fn alarm_states_follow_set_alarm_state() {
    let emulator = Emulator::start();
    emulator.boto3(TWO_ALARMS);
    let wanted = names(["api-5xx", "api-latency", "no-such-alarm"]);

    let before = read(&emulator, &wanted);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        ["api-5xx", "api-latency"],
        "a missing alarm is absent, not an error"
    );
    for state in before.values() {
        // Real CloudWatch starts new alarms in INSUFFICIENT_DATA; moto starts them in OK and
        // never evaluates them.
        assert_eq!(state.state, "OK", "{state:?}");
        assert!(state.reason.is_some(), "{state:?}");
    }

    emulator.boto3(
        r#"
import boto3
boto3.client("cloudwatch").set_alarm_state(
    AlarmName="api-5xx", StateValue="ALARM", StateReason="5xx count 12 > 5 (test)")
"#,
    );

    let after = read(&emulator, &wanted);
    assert_eq!(
        after["api-5xx"],
        AlarmState {
            name: "api-5xx".into(),
            state: "ALARM".into(),
            reason: Some("5xx count 12 > 5 (test)".into()),
        }
    );
    assert_eq!(after["api-latency"], before["api-latency"]);
    assert!(!after.contains_key("no-such-alarm"));
}

/// 120 alarms; the moto recorder writes every request it serves to `path` once started.
const MANY_ALARMS: &str = r#"
import boto3, os, urllib.request
cw = boto3.client("cloudwatch")
for i in range(120):
    cw.put_metric_alarm(
        AlarmName=f"batch-{i:03}", Namespace="Test", MetricName="m", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )
urllib.request.urlopen(urllib.request.Request(
    os.environ["AWS_ENDPOINT_URL"] + "/moto-api/recorder/start-recording", method="POST"))
"#;

/// The DescribeAlarms requests in the recording, as JSON lines:
/// `{"names": [...], "types": [...]}`.
const DESCRIBE_REQUESTS: &str = r#"
import base64, json, sys, urllib.parse
for line in open(sys.argv[1]):
    entry = json.loads(line)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode()
    form = urllib.parse.parse_qs(body)
    if form.get("Action") != ["DescribeAlarms"]:
        continue
    def members(prefix):
        keys = sorted((k for k in form if k.startswith(prefix + ".member.")),
                      key=lambda k: int(k.rsplit(".", 1)[1]))
        return [form[k][0] for k in keys]
    print(json.dumps({"names": members("AlarmNames"), "types": members("AlarmTypes")}))
"#;

#[test]
fn more_than_100_names_are_asked_for_in_batches_of_100() {
    let recording_dir = tempfile::tempdir().unwrap();
    let recording = recording_dir.path().join("requests.jsonl");
    let emulator = Emulator::builder()
        .env("MOTO_RECORDER_FILEPATH", recording.to_string_lossy())
        .start();
    emulator.boto3(MANY_ALARMS);

    let existing: Vec<String> = (0..120).map(|i| format!("batch-{i:03}")).collect();
    let mut wanted = existing.clone();
    wanted.extend((0..10).map(|i| format!("missing-{i}")));
    wanted.push("batch-000".into()); // a duplicate is asked for once

    let states = read(&emulator, &wanted);
    assert_eq!(states.keys().cloned().collect::<Vec<_>>(), existing);

    // What went over the wire: CloudWatch rejects more than 100 names in one call, and without
    // AlarmTypes it leaves composite alarms out. moto checks neither, so the recording does.
    let script = format!(
        "import sys; sys.argv = ['describe', {:?}]\n{DESCRIBE_REQUESTS}",
        recording.to_string_lossy()
    );
    let requests: Vec<serde_json::Value> = emulator
        .boto3(&script)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let mut asked = BTreeSet::new();
    for request in &requests {
        let names = request["names"].as_array().unwrap();
        assert!(
            (1..=100).contains(&names.len()),
            "{} names in one call",
            names.len()
        );
        assert_eq!(
            request["types"],
            serde_json::json!(["MetricAlarm", "CompositeAlarm"])
        );
        for name in names {
            assert!(
                asked.insert(name.as_str().unwrap().to_string()),
                "{name} asked twice"
            );
        }
    }
    assert_eq!(requests.len(), 2, "130 distinct names: calls of 100 and 30");
    assert_eq!(asked, wanted.into_iter().collect::<BTreeSet<_>>());
}

/// Every aws-* / aws-smithy-* crate once in Cargo.lock: the SDK crates are pinned to one release
/// train, and a plain `cargo update` can move the runtime crates under them to a newer train.
/// docs/aws-sdk.md has the `cargo update --precise` commands that restore it.
#[test]
fn the_aws_sdk_crates_share_one_runtime() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("read Cargo.lock");
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line
            .strip_prefix("name = \"")
            .and_then(|s| s.strip_suffix('"'))
        else {
            continue;
        };
        let version = lines
            .next()
            .and_then(|l| l.strip_prefix("version = \""))
            .and_then(|s| s.strip_suffix('"'))
            .expect("version follows name in Cargo.lock");
        if name.starts_with("aws-") {
            versions.entry(name).or_default().push(version);
        }
    }
    assert!(versions.contains_key("aws-smithy-runtime"), "{versions:?}");
    let duplicated: Vec<String> = versions
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(name, v)| format!("{name} {}", v.join(", ")))
        .collect();
    assert!(
        duplicated.is_empty(),
        "AWS crates in more than one version (see docs/aws-sdk.md, \"Upgrading\"):\n{}",
        duplicated.join("\n")
    );
}
