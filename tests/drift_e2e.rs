//! End-to-end `drift` against a private moto: no drift right after deploys; then changes made
//! behind bluegreen's back with the AWS API (the live service switched to another task
//! definition, a listener's weights changed) are reported with the resource, the field, the
//! recorded and the live value, and exit 9. Nothing is ever applied: the emulator and the
//! Terraform states are the same before and after `drift`.

mod common;

use common::{assert_unchanged, state_snapshot, Bluegreen, Emulator, FAST};
use serde_json::Value;

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";

#[test]
fn no_drift_after_deploys_then_changes_behind_bluegreens_back_are_reported() {
    let emu = Emulator::start();
    let work = common::temp_workdir();
    let envs = tempfile::tempdir().unwrap();
    let env = common::local_env(envs.path(), 2, FAST);
    let cmd = |args: &[&str]| {
        Bluegreen::new(&emu, work.path())
            .args(args)
            .args(["--env", env.to_str().unwrap()])
    };
    cmd(&["deploy", "--image", V1]).run().assert_code(0);
    cmd(&["deploy", "--image", V2]).run().assert_code(0);

    // Right after the deploys: no drift in any stack, AWS matches the journal.
    let aws_before = emu.snapshot();
    let out = cmd(&["drift", "--output", "json"]).run();
    out.assert_code(0);
    let r: Value = out.stdout_json_lines().pop().unwrap();
    assert_eq!(r["drift"], false, "{r:#}");
    let statuses: Vec<(&str, &str)> = r["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stack"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("shared", "no-drift"),
            ("blue", "no-drift"),
            ("green", "no-drift")
        ],
        "{r:#}"
    );
    assert_eq!(r["runtime"], serde_json::json!([]), "{r:#}");
    // `drift` changed nothing on AWS (Terraform plans are never applied).
    assert_unchanged(&aws_before, &emu.snapshot());

    // Autoscaling manages green's desired count and has moved it: reported, but not drift.
    emu.boto3(
        r#"
import boto3
boto3.client("application-autoscaling").register_scalable_target(
    ServiceNamespace="ecs", ResourceId="service/bg-local/bg-local-green",
    ScalableDimension="ecs:service:DesiredCount", MinCapacity=2, MaxCapacity=6)
boto3.client("ecs").update_service(cluster="bg-local", service="bg-local-green", desiredCount=3)
"#,
    );
    let out = cmd(&["drift", "--output", "json"]).run();
    out.assert_code(0);
    let r: Value = out.stdout_json_lines().pop().unwrap();
    assert_eq!(r["drift"], false, "{r:#}");
    assert_eq!(r["informational"][0]["field"], "desired_count", "{r:#}");
    assert_eq!(r["informational"][0]["recorded"], "2", "{r:#}");
    assert_eq!(r["informational"][0]["live"], "3", "{r:#}");

    // Behind bluegreen's back: the live service (green) is switched to another task
    // definition with another image, and one production listener is split 50/50.
    let old_td = emu.boto3(
        r#"
import boto3
ecs = boto3.client("ecs")
svc = ecs.describe_services(cluster="bg-local", services=["bg-local-green"])["services"][0]
td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
containers = td["containerDefinitions"]
containers[0]["image"] = "evil.example/backdoor:1"
containers[0].setdefault("memory", 512)
new = ecs.register_task_definition(family=td["family"], containerDefinitions=containers)["taskDefinition"]["taskDefinitionArn"]
ecs.update_service(cluster="bg-local", service="bg-local-green", taskDefinition=new)
print(svc["taskDefinition"])
"#,
    );
    let old_td = old_td.trim();
    emu.boto3(
        r#"
import boto3
elb = boto3.client("elbv2")
lb = elb.describe_load_balancers(Names=["bg-local-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
tgs = {t["TargetGroupName"]: t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]}
for l in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]:
    if l["Port"] == 8081:
        elb.modify_listener(ListenerArn=l["ListenerArn"], DefaultActions=[{"Type": "forward",
            "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": tgs["bg-local-blue"], "Weight": 50},
                {"TargetGroupArn": tgs["bg-local-green"], "Weight": 50}]}}])
"#,
    );
    let state_before = state_snapshot(work.path());
    let out = cmd(&["drift", "--output", "json"]).run();
    out.assert_code(9);
    let r: Value = out.stdout_json_lines().pop().unwrap();
    assert_eq!(r["drift"], true, "{r:#}");
    let diffs: Vec<(String, String, String, String)> = r["runtime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap().to_string();
            (s("resource"), s("field"), s("recorded"), s("live"))
        })
        .collect();
    let find = |field: &str| {
        diffs
            .iter()
            .find(|d| d.1 == field)
            .unwrap_or_else(|| panic!("no {field} difference in {diffs:#?}"))
            .clone()
    };
    let td = find("task_definition");
    assert_eq!(td.0, "green service bg-local-green");
    assert_eq!(td.2, old_td, "{diffs:#?}");
    assert_ne!(td.3, old_td);
    let image = find("image");
    assert_eq!(
        (image.2.as_str(), image.3.as_str()),
        (V2, "evil.example/backdoor:1")
    );
    let weights = find("weights");
    assert!(
        weights.0.starts_with("route ") && weights.0.contains(":listener/"),
        "{weights:?}"
    );
    assert_eq!(
        (weights.2.as_str(), weights.3.as_str()),
        ("blue 0 / green 100", "blue 50 / green 50")
    );
    assert_eq!(diffs.len(), 3, "only what was changed: {diffs:#?}");
    // Human output says the same; Terraform state was not touched by the plans.
    let out = cmd(&["drift"]).run();
    out.assert_code(9);
    assert!(
        out.stdout
            .contains("green service bg-local-green task_definition: recorded"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("DRIFT found"), "{}", out.stdout);
    assert_eq!(state_before, state_snapshot(work.path()));
}
