//! The harness itself: emulators are isolated and cleaned up, observers see what changed,
//! the command runner reports faithfully. If these fail, no other integration test means much.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple, TargetTypeEnum,
};
use common::{Bluegreen, Emulator};

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn create_lambda_target_group(emulator: &Emulator, name: &str) -> String {
    // Lambda target groups need no VPC, so the ELBv2 SDK alone can make one.
    let out = emulator.block_on(
        emulator
            .elbv2()
            .create_target_group()
            .name(name)
            .target_type(TargetTypeEnum::Lambda)
            .send(),
    );
    let out = out.expect("CreateTargetGroup");
    out.target_groups()[0]
        .target_group_arn()
        .expect("target group ARN")
        .to_owned()
}

#[test]
fn emulators_are_isolated_and_stopped_on_drop() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(Emulator::start);
        let b = s.spawn(Emulator::start);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.pid(), b.pid());

    let arn = create_lambda_target_group(&a, "only-in-a");
    assert!(a.snapshot().target_groups.contains_key(&arn));
    assert!(
        b.snapshot().target_groups.is_empty(),
        "emulator B sees A's target group: {:#?}",
        b.snapshot().target_groups
    );

    let (pid_a, pid_b, port_a) = (a.pid(), b.pid(), a.port());
    assert!(process_exists(pid_a) && process_exists(pid_b));
    drop(a);
    assert!(
        !process_exists(pid_a),
        "emulator A (pid {pid_a}) still runs"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port_a)).is_err(),
        "port {port_a} still answers after drop"
    );
    // B is unaffected by A going away.
    assert!(b.snapshot().target_groups.is_empty());
    drop(b);
    assert!(
        !process_exists(pid_b),
        "emulator B (pid {pid_b}) still runs"
    );
}

/// A load balancer with blue/green target groups and a production listener at 100/0, made
/// with boto3 (the Rust crates here have no EC2 client for the VPC and subnets).
const ALB_FIXTURE: &str = r#"
import boto3, json
ec2, elb = boto3.client("ec2"), boto3.client("elbv2")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
           for i, az in enumerate(["us-east-1a", "us-east-1b"])]
lb = elb.create_load_balancer(Name="smoke", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
tgs = {c: elb.create_target_group(Name=c, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
          ["TargetGroups"][0]["TargetGroupArn"] for c in ["blue", "green"]}
elb.register_targets(TargetGroupArn=tgs["blue"], Targets=[{"Id": "10.0.0.10", "Port": 80}])
listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
    {"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": tgs["blue"], "Weight": 100}, {"TargetGroupArn": tgs["green"], "Weight": 0}]}}])
ecs = boto3.client("ecs")
ecs.create_cluster(clusterName="smoke")
td = ecs.register_task_definition(family="web", containerDefinitions=[
    {"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
ecs.create_service(cluster="smoke", serviceName="web-blue", taskDefinition=td, desiredCount=2)
print(json.dumps({"listener": listener["Listeners"][0]["ListenerArn"], "td": td, **tgs}))
"#;

#[test]
fn observers_see_weights_services_and_every_change() {
    let emulator = Emulator::builder()
        .env("MOTO_ECS_SERVICE_RUNNING", "2")
        .start();
    let ids: BTreeMap<String, String> =
        serde_json::from_str(&emulator.boto3(ALB_FIXTURE)).expect("fixture prints JSON");
    let (listener_arn, blue, green) = (&ids["listener"], &ids["blue"], &ids["green"]);

    let listener = emulator
        .find_listener_by_port("smoke", 80)
        .expect("listener on port 80");
    assert_eq!(&listener.arn, listener_arn);
    assert_eq!(
        listener.weights(),
        BTreeMap::from([(blue.clone(), 100), (green.clone(), 0)])
    );
    assert!(emulator.find_listener_by_port("smoke", 8080).is_none());
    assert!(emulator.find_listener_by_port("no-such-lb", 80).is_none());

    let service = emulator.describe_service("smoke", "web-blue");
    assert_eq!((service.desired, service.running), (2, 2));
    assert_eq!(service.task_definition.as_deref(), Some(ids["td"].as_str()));
    assert_eq!(
        emulator.task_definition_image(&ids["td"]),
        "public.ecr.aws/nginx/nginx:1.27"
    );
    assert_eq!(
        emulator.target_health(blue),
        BTreeMap::from([("10.0.0.10:80".to_owned(), "healthy".to_owned())])
    );

    // Reading is not changing: two snapshots in a row are equal.
    let before = emulator.snapshot();
    assert_eq!(before.load_balancers.len(), 1);
    assert_eq!(before.target_groups.len(), 2);
    assert_eq!(before.services.len(), 1);
    common::assert_unchanged(&before, &emulator.snapshot());

    // Shift 10% to green behind the snapshot's back: the snapshot must notice.
    let forward = ForwardActionConfig::builder()
        .target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(blue)
                .weight(90)
                .build(),
        )
        .target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(green)
                .weight(10)
                .build(),
        )
        .build();
    let action = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(forward)
        .build();
    let modified = emulator.block_on(
        emulator
            .elbv2()
            .modify_listener()
            .listener_arn(listener_arn)
            .default_actions(action)
            .send(),
    );
    modified.expect("ModifyListener");
    assert_eq!(
        emulator.listener_weights(listener_arn),
        BTreeMap::from([(blue.clone(), 90), (green.clone(), 10)])
    );
    let after = emulator.snapshot();
    assert_ne!(before, after);
    let diff = before.diff(&after);
    assert!(
        diff.iter()
            .any(|d| d.starts_with(&format!("listener {listener_arn} changed"))),
        "diff does not name the listener: {diff:#?}"
    );
    let caught = std::panic::catch_unwind(|| common::assert_unchanged(&before, &after));
    assert!(caught.is_err(), "assert_unchanged accepted a weight change");
}

#[test]
fn state_snapshot_finds_every_tfstate_file() {
    let work = common::temp_workdir();
    let files = [
        "local/state/shared.tfstate",
        "local/state/terraform.tfstate.d/local-blue/terraform.tfstate",
    ];
    for file in files {
        let path = work.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, file).unwrap();
    }
    std::fs::write(work.path().join("local/state/shared.tfstate.backup"), "old").unwrap();

    let snapshot = common::state_snapshot(work.path());
    let keys: Vec<PathBuf> = snapshot.keys().cloned().collect();
    let expected: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    assert_eq!(keys, expected);

    std::fs::write(work.path().join(files[0]), "changed").unwrap();
    assert_ne!(snapshot, common::state_snapshot(work.path()));
    assert!(common::state_snapshot(&work.path().join("missing")).is_empty());
}

#[test]
fn runner_reports_exit_code_and_streams() {
    let work = common::temp_workdir();
    let outcome = Bluegreen::offline(work.path()).arg("--version").run();
    outcome.assert_success();
    assert!(outcome.stdout.starts_with("bluegreen "), "{outcome}");

    let bad = Bluegreen::offline(work.path())
        .args(["no-such-command"])
        .run();
    assert_eq!(bad.status, 2, "clap exits 2 on a usage error: {bad}");
    let message = std::panic::catch_unwind(|| {
        bad.assert_code(0);
    })
    .expect_err("assert_code(0) on a failed run must panic");
    let message = message
        .downcast_ref::<String>()
        .expect("panic message is a String");
    assert!(
        message.contains("expected exit code 0, got 2") && message.contains("no-such-command"),
        "the panic shows the code and the streams: {message}"
    );
}
