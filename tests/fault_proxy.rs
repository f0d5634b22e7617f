//! The fault proxy and the test HTTP app, proven against a real emulator: each rule changes
//! what a real client (the Rust SDK through bluegreen's adapters, and boto3) sees, and only
//! while it is on. Later tests rely on these faults, so each must be shown to happen.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};
use bluegreen::aws::{ListenerAction, SdkTraffic, Traffic};
use common::{Emulator, FaultProxy, HttpApp};

/// An ALB whose production listener (and a path rule on it) forward 100/0 to blue/green; two
/// targets in blue, one in green; an ECS cluster for the JSON protocol.
const FIXTURE: &str = r#"
import boto3, json
ec2, elb = boto3.client("ec2"), boto3.client("elbv2")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
           for i, az in enumerate(["us-east-1a", "us-east-1b"])]
lb = elb.create_load_balancer(Name="proxied", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
tgs = {c: elb.create_target_group(Name=c, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
          ["TargetGroups"][0]["TargetGroupArn"] for c in ["blue", "green"]}
elb.register_targets(TargetGroupArn=tgs["blue"], Targets=[{"Id": "10.0.0.10", "Port": 80}, {"Id": "10.0.0.11", "Port": 80}])
elb.register_targets(TargetGroupArn=tgs["green"], Targets=[{"Id": "10.0.1.10", "Port": 80}])
forward = {"Type": "forward", "ForwardConfig": {"TargetGroups": [
    {"TargetGroupArn": tgs["blue"], "Weight": 100}, {"TargetGroupArn": tgs["green"], "Weight": 0}]}}
listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[forward])
listener = listener["Listeners"][0]["ListenerArn"]
rule = elb.create_rule(ListenerArn=listener, Priority=10, Actions=[forward],
                       Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}])["Rules"][0]["RuleArn"]
cluster = boto3.client("ecs").create_cluster(clusterName="proxied")["cluster"]["clusterArn"]
print(json.dumps({"listener": listener, "rule": rule, "cluster": cluster, **tgs}))
"#;

struct Setup {
    emulator: Emulator,
    proxy: FaultProxy,
    /// bluegreen's own adapter, through the proxy, with the SDK's standard retries; one client,
    /// so one kept-alive connection.
    traffic: SdkTraffic,
    ids: BTreeMap<String, String>,
}

impl Setup {
    fn start() -> Setup {
        let emulator = Emulator::start();
        let ids = serde_json::from_str(&emulator.boto3(FIXTURE)).expect("the fixture prints JSON");
        let proxy = FaultProxy::start(&emulator.endpoint());
        let traffic = SdkTraffic::new(&proxy.sdk_config());
        Setup {
            emulator,
            proxy,
            traffic,
            ids,
        }
    }

    fn id(&self, name: &str) -> String {
        self.ids[name].clone()
    }

    /// A raw ELBv2 client through the proxy that makes exactly one attempt per call.
    fn elbv2_once(&self) -> elbv2::Client {
        let config = self.proxy.sdk_config().to_builder();
        elbv2::Client::new(&config.retry_config(RetryConfig::disabled()).build())
    }

    fn ecs_once(&self) -> aws_sdk_ecs::Client {
        let config = self.proxy.sdk_config().to_builder();
        aws_sdk_ecs::Client::new(&config.retry_config(RetryConfig::disabled()).build())
    }

    /// Runs `body` with boto3 clients `elb` and `ecs` that go through the proxy and make one
    /// attempt per call, `IDS` holding the fixture's ARNs; returns its stdout.
    fn boto3(&self, body: &str) -> String {
        let ids = serde_json::to_string(&self.ids).unwrap();
        let script = format!(
            r#"
import boto3, json
from botocore.config import Config
from botocore.exceptions import ClientError
IDS = json.loads({ids:?})
once = Config(retries={{"mode": "standard", "total_max_attempts": 1}})
elb = boto3.client("elbv2", endpoint_url="{url}", config=once)
ecs = boto3.client("ecs", endpoint_url="{url}", config=once)
{body}
"#,
            url = self.proxy.url()
        );
        self.emulator.boto3(&script)
    }

    fn health(&self, tg: &str) -> Vec<(String, String, Option<String>)> {
        let health = self.emulator.block_on(self.traffic.target_health(tg));
        let health = health.expect("DescribeTargetHealth through the proxy");
        let mut health: Vec<_> = health
            .into_iter()
            .map(|t| (t.id, t.state, t.reason))
            .collect();
        health.sort();
        health
    }

    fn read_weights(&self) -> Vec<(String, u16)> {
        let listener = self.id("listener");
        let action = self
            .emulator
            .block_on(self.traffic.read_default_action(&listener));
        match action.expect("DescribeListeners through the proxy") {
            ListenerAction::Forward { targets, .. } => targets,
            other => panic!("expected a forward action, got {other:?}"),
        }
    }

    fn write_weights(&self, blue: u16, green: u16) {
        let (listener, targets) = (self.id("listener"), self.weights(blue, green));
        let written = self.traffic.set_forward(&listener, &targets, None);
        self.emulator
            .block_on(written)
            .expect("ModifyListener through the proxy");
    }

    fn weights(&self, blue: u16, green: u16) -> Vec<(String, u16)> {
        vec![(self.id("blue"), blue), (self.id("green"), green)]
    }

    /// What moto itself holds for the listener, bypassing the proxy.
    fn moto_weights(&self) -> BTreeMap<String, i32> {
        self.emulator.listener_weights(&self.id("listener"))
    }
}

/// The error code and HTTP status of a call that must have failed.
#[track_caller]
fn error_of<T: std::fmt::Debug, E: ProvideErrorMetadata>(
    result: Result<T, SdkError<E>>,
) -> (Option<String>, Option<u16>) {
    let err = result.expect_err("the call must fail");
    let status = err.raw_response().map(|r| r.status().as_u16());
    (err.code().map(str::to_owned), status)
}

fn faulted(proxy: &FaultProxy, op: &str) -> Vec<bool> {
    proxy.requests(op).iter().map(|r| r.faulted).collect()
}

#[test]
fn forwards_every_protocol_and_records_operations() {
    let s = Setup::start();
    assert_eq!(s.read_weights(), s.weights(100, 0));
    assert_eq!(s.health(&s.id("green")).len(), 1);
    assert_eq!(s.read_weights(), s.weights(100, 0));

    let ecs = aws_sdk_ecs::Client::new(&s.proxy.sdk_config());
    let clusters = s
        .emulator
        .block_on(ecs.list_clusters().send())
        .expect("ListClusters");
    assert_eq!(clusters.cluster_arns(), [s.id("cluster")]);
    let out = s.boto3(r#"print(len(elb.describe_load_balancers()["LoadBalancers"]))"#);
    assert_eq!(out.trim(), "1");

    // rpc-v2-cbor names the operation in the path, and errors are CBOR maps.
    let cbor = "POST /service/GraniteServiceVersion20100801/operation/GetMetricData HTTP/1.1\r\n\
                Host: x\r\nsmithy-protocol: rpc-v2-cbor\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    s.proxy.throttle("GetMetricData", Some(1));
    let (status, head, body) = http(&s.proxy.url(), cbor);
    assert_eq!(status, 400);
    assert!(
        head.to_ascii_lowercase()
            .contains("smithy-protocol: rpc-v2-cbor"),
        "{head}"
    );
    // CBOR: a map of 2, then text strings of 6, 19, 7 and 13 bytes.
    let mut throttled = vec![0xa2, 0x66];
    throttled.extend(b"__type\x73ThrottlingException\x67message\x6dRate exceeded");
    assert_eq!(body, throttled);
    http(&s.proxy.url(), cbor); // forwarded: moto's answer does not matter here

    let ops = s.proxy.operations();
    assert_eq!(
        ops,
        [
            "DescribeListeners",
            "DescribeTargetHealth",
            "DescribeListeners",
            "ListClusters",
            "DescribeLoadBalancers",
            "GetMetricData",
            "GetMetricData"
        ]
    );
    let reads = s.proxy.requests("DescribeListeners");
    assert!(reads[0].at <= reads[1].at);
    assert!(reads.iter().all(|r| r.status == 200 && !r.faulted));
    assert!(
        reads[0].body.contains("ListenerArns.member.1="),
        "{}",
        reads[0].body
    );
    assert_eq!(s.proxy.count("ListClusters"), 1);
    assert_eq!(
        s.proxy.count("CreateListener"),
        0,
        "setup went to moto directly"
    );

    // Keep-alive: the SDK reuses its connection. Not exactly one: hyper's client pool may race
    // a fresh connect against a connection that is still being handed back.
    let before = s.proxy.connections();
    for _ in 0..10 {
        s.read_weights();
    }
    let opened = s.proxy.connections() - before;
    assert!(
        opened < 5,
        "{opened} connections for 10 sequential requests"
    );
}

#[test]
fn unhealthy_targets_are_parsed_as_unhealthy_until_healed() {
    let s = Setup::start();
    let (blue, green) = (s.id("blue"), s.id("green"));
    let mismatch = Some("Target.ResponseCodeMismatch".to_owned());

    s.proxy.unhealthy_targets(Some(&blue));
    let sick = s.health(&blue);
    assert_eq!(sick.len(), 2, "{sick:?}");
    for (id, state, reason) in &sick {
        assert!(id.starts_with("10.0.0."), "{id}");
        assert_eq!((state.as_str(), reason), ("unhealthy", &mismatch));
    }
    assert_eq!(s.health(&green)[0].1, "healthy", "only blue is targeted");
    let seen = s.boto3(&format!(
        r#"print(json.dumps(elb.describe_target_health(TargetGroupArn={blue:?})["TargetHealthDescriptions"][0]["TargetHealth"]))"#
    ));
    let seen: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(seen["State"], "unhealthy");
    assert_eq!(seen["Reason"], "Target.ResponseCodeMismatch");
    assert!(seen["Description"].as_str().unwrap().contains("503"));
    assert_eq!(
        faulted(&s.proxy, "DescribeTargetHealth"),
        [true, false, true]
    );
    let asked: Vec<_> = s
        .proxy
        .requests("DescribeTargetHealth")
        .iter()
        .map(|r| r.field("TargetGroupArn"))
        .collect();
    assert_eq!(
        asked,
        [Some(blue.clone()), Some(green.clone()), Some(blue.clone())]
    );

    s.proxy.unhealthy_targets(None);
    assert_eq!(s.health(&green)[0].1, "unhealthy");
    s.proxy.healthy_targets();
    assert!(s.health(&blue).iter().all(|t| t.1 == "healthy"));
    // The emulator itself was never touched.
    assert!(s
        .emulator
        .target_health(&blue)
        .values()
        .all(|h| h == "healthy"));
}

#[test]
fn throttling_is_answered_without_forwarding_then_stops() {
    let s = Setup::start();
    let (client, blue) = (s.elbv2_once(), s.id("blue"));
    let describe = || {
        let call = client.describe_target_health().target_group_arn(&blue);
        call.send()
    };

    s.proxy.throttle("DescribeTargetHealth", Some(2));
    for _ in 0..2 {
        let failed = error_of(s.emulator.block_on(describe()));
        assert_eq!(failed, (Some("Throttling".to_owned()), Some(400)));
    }
    let passed = s.emulator.block_on(describe());
    let passed = passed.expect("the third call passes");
    assert_eq!(passed.target_health_descriptions().len(), 2);
    assert_eq!(
        faulted(&s.proxy, "DescribeTargetHealth"),
        [true, true, false]
    );

    // bluegreen's adapter retries (standard mode): two throttles cost time, not the answer.
    s.proxy.throttle("DescribeTargetHealth", Some(2));
    assert_eq!(s.health(&blue).len(), 2);
    assert_eq!(s.proxy.count("DescribeTargetHealth"), 6);

    // JSON protocol (ECS): the Rust SDK and boto3 both see the modeled throttling code.
    s.proxy.throttle("ListClusters", Some(2));
    let failed = error_of(s.emulator.block_on(s.ecs_once().list_clusters().send()));
    assert_eq!(failed, (Some("ThrottlingException".to_owned()), Some(400)));
    let out = s.boto3(
        r#"
try:
    ecs.list_clusters(); print("passed")
except ClientError as e:
    print(e.response["Error"]["Code"])
print(len(ecs.list_clusters()["clusterArns"]))
"#,
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["ThrottlingException", "1"]
    );

    // Not forwarded: a throttled write never reaches the emulator.
    s.proxy.throttle("CreateTargetGroup", None);
    let out = s.boto3(
        r#"
try:
    elb.create_target_group(Name="never", Protocol="HTTP", Port=80, TargetType="lambda"); print("created")
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
"#,
    );
    assert_eq!(out.trim(), "Throttling 400");
    let names: Vec<_> = s
        .emulator
        .snapshot()
        .target_groups
        .into_values()
        .map(|t| t.name)
        .collect();
    assert!(!names.contains(&"never".to_owned()), "{names:?}");
}

#[test]
fn server_errors_are_returned_until_cleared() {
    let s = Setup::start();
    let (client, listener) = (s.elbv2_once(), s.id("listener"));

    s.proxy.fail("DescribeListeners", 503, None);
    let read = client.describe_listeners().listener_arns(&listener).send();
    let failed = error_of(s.emulator.block_on(read));
    assert_eq!(failed, (Some("ServiceUnavailable".to_owned()), Some(503)));
    // With retries the adapter gives up after the SDK's three attempts.
    let read = s
        .emulator
        .block_on(s.traffic.read_default_action(&listener));
    assert!(read.is_err(), "{read:?}");
    assert_eq!(s.proxy.count("DescribeListeners"), 4);
    assert!(s
        .proxy
        .requests("DescribeListeners")
        .iter()
        .all(|r| r.status == 503 && r.faulted));

    s.proxy.fail("DescribeClusters", 500, Some(1));
    let out = s.boto3(
        r#"
try:
    ecs.describe_clusters(clusters=[IDS["cluster"]]); print("passed")
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
print(ecs.describe_clusters(clusters=[IDS["cluster"]])["clusters"][0]["clusterName"])
"#,
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["InternalFailure", "500", "proxied"]
    );

    s.proxy.clear();
    assert_eq!(s.read_weights(), s.weights(100, 0));
}

#[test]
fn delay_holds_only_that_operation() {
    let s = Setup::start();
    let blue = s.id("blue");
    s.health(&blue); // connect first, so timings below are the answer's alone

    s.proxy
        .delay("DescribeTargetHealth", Duration::from_millis(1500));
    let started = Instant::now();
    assert_eq!(s.health(&blue).len(), 2);
    let delayed = started.elapsed();
    assert!(delayed >= Duration::from_millis(1500), "{delayed:?}");

    let started = Instant::now();
    s.read_weights();
    let other = started.elapsed();
    assert!(other < Duration::from_millis(1000), "{other:?}");

    s.proxy.delay("DescribeTargetHealth", Duration::ZERO);
    let started = Instant::now();
    s.health(&blue);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(faulted(&s.proxy, "DescribeTargetHealth"), [false; 3]);
}

#[test]
fn stale_listener_reads_hide_writes_until_switched_off() {
    let s = Setup::start();
    let rule = s.id("rule");
    assert_eq!(s.read_weights(), s.weights(100, 0));

    s.proxy.stale_listener_reads(true);
    s.write_weights(0, 100);
    let moto: Vec<i32> = s.moto_weights().into_values().collect();
    assert_eq!(moto, [0, 100], "the write went through to moto");
    assert_eq!(s.read_weights(), s.weights(100, 0), "read-back is stale");
    // boto3 encodes the same read differently; it gets the same stale answer.
    let out = s.boto3(
        r#"
tgs = elb.describe_listeners(ListenerArns=[IDS["listener"]])["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
print(sorted(t["Weight"] for t in tgs if t["TargetGroupArn"] == IDS["green"]))
"#,
    );
    assert_eq!(out.trim(), "[0]");
    assert_eq!(faulted(&s.proxy, "DescribeListeners"), [false, true, true]);

    // A rule not read before stale mode: the first read is forwarded and then held.
    let rule_weights = r#"
def green(): return [t["Weight"] for t in elb.describe_rules(RuleArns=[IDS["rule"]])["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroups"] if t["TargetGroupArn"] == IDS["green"]][0]
"#;
    let out = s.boto3(&format!(
        r#"{rule_weights}
before = green()
elb.modify_rule(RuleArn=IDS["rule"], Actions=[{{"Type": "forward", "ForwardConfig": {{"TargetGroups": [
    {{"TargetGroupArn": IDS["blue"], "Weight": 50}}, {{"TargetGroupArn": IDS["green"], "Weight": 50}}]}}}}])
print(before, green())
"#
    ));
    assert_eq!(out.trim(), "0 0");
    let moto_rule = &s.emulator.snapshot().rules[&rule];
    assert_eq!(
        moto_rule.actions[0]
            .weights()
            .into_values()
            .collect::<Vec<_>>(),
        [50, 50]
    );

    s.proxy.stale_listener_reads(false);
    assert_eq!(s.read_weights(), s.weights(0, 100));
    assert_eq!(
        s.boto3(&format!("{rule_weights}\nprint(green())")).trim(),
        "50"
    );

    // Switching off refreshed the cache: stale again now holds 0/100.
    s.proxy.stale_listener_reads(true);
    s.write_weights(100, 0);
    assert_eq!(s.read_weights(), s.weights(0, 100));

    assert_eq!(
        s.proxy.modify_listener_weights(),
        [
            (s.id("listener"), s.weights(0, 100)),
            (s.id("listener"), s.weights(100, 0))
        ]
    );
    assert_eq!(s.proxy.modify_rule_weights(), [(rule, s.weights(50, 50))]);
}

/// One raw HTTP/1.1 exchange (the request must say `Connection: close`): status, head, body.
fn http(base: &str, request: &str) -> (u16, String, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n");
    let split = split.unwrap_or_else(|| panic!("no complete HTTP answer: {answer:?}"));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    let status = status.unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head, answer[split + 4..].to_vec())
}

fn get(base: &str, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n");
    let (status, _, body) = http(base, &request);
    (status, String::from_utf8(body).expect("a text body"))
}

#[test]
fn http_app_switches_status_body_and_delay() {
    let app = HttpApp::start();
    assert_eq!(get(&app.url(), "/"), (200, "ok".to_owned()));

    app.set_status(503);
    app.set_body("draining");
    assert_eq!(
        get(&app.url(), "/health/deep?x=1"),
        (503, "draining".to_owned())
    );

    app.set_delay(Duration::from_millis(600));
    let started = Instant::now();
    assert_eq!(get(&app.url(), "/").0, 503);
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.hits(), 3);
}

#[test]
fn dropping_stops_the_servers_even_with_clients_connected() {
    let app = HttpApp::start();
    let emulator_less = FaultProxy::start("http://127.0.0.1:1");
    let (app_addr, proxy_addr) = (app.url(), emulator_less.url());
    // An idle kept-alive client must not keep the server (or the drop) waiting.
    let mut idle = TcpStream::connect(proxy_addr.trim_start_matches("http://")).unwrap();
    // No upstream: the proxy answers 502 and says why.
    let (status, body) = get(&proxy_addr, "/");
    assert_eq!(status, 502, "{body}");

    // On another thread, so a drop that hangs fails the test instead of stalling it.
    let (dropped, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(emulator_less);
        drop(app);
        dropped.send(()).unwrap();
    });
    done.recv_timeout(Duration::from_secs(5))
        .expect("dropping the proxy and the app returns promptly");
    for addr in [app_addr, proxy_addr] {
        let addr = addr.trim_start_matches("http://");
        assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts");
    }
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        idle.read_to_end(&mut rest).expect("closed, not timed out"),
        0
    );
}
