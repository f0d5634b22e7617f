//! A bad canary is caught by a real alarm and costs only the canary's share; a task failing its
//! health check is unhealthy to bluegreen (issue 15, acceptance 2 and 3; docs/dataplane.md).
//!
//! Real: the `bluegreen` binary, Terraform with the emulator modules, the moto server (through
//! the strict launcher), every request over loopback TCP through the local data plane
//! (`bg-dataplane`), its health checks of the tasks (the target groups' path, interval,
//! thresholds), its ALB metrics in the emulator's CloudWatch, and its evaluation of the metric
//! alarm against them (SetAlarmState: this test never sets an alarm state).
//! Emulated: the tasks are in-process HTTP servers of the data plane (their errors and health
//! come from the task definition's environment: `BG_ERROR_RATE`, `BG_HEALTH_FAIL`), and
//! DescribeTargetHealth answers from the data plane's health file through the launcher's
//! `elbv2-target-health-from-file` patch, DescribeServices' runningCount/pendingCount from its
//! `service-tasks.json` through `ecs-service-counts-from-file` (a task's startup delay is
//! `BG_STARTUP_DELAY_MS`). The alarm is created by this test (PutMetricAlarm),
//! not by Terraform: the emulator's service module has no alarms, and the test needs the
//! target group's dimension values, which exist only after the shared stack is applied.

mod common;

use common::{tg_name, Bluegreen, DataPlane, Emulator, HealthFile, Load, Request};
use std::path::{Path, PathBuf};
use std::time::Duration;

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";
const RATE: u32 = 200;
const ERROR_RATE: f64 = 0.3;
const CANARY_PERCENT: f64 = 20.0;

/// The first deploy: no alarm yet (it needs the target groups' ARNs).
const FIRST: &str = r#"health {
  timeout       = "60s"
  poll_interval = "1s"
}
traffic { verify_timeout = "10s" }
strategy { type = "all-at-once" }
promotion {
  bake             = "1s"
  termination_wait = "0s"
  old_color        = "keep-warm"
}
"#;

/// The canary: 20 % for up to a minute, watched by the color's 5xx alarm every second.
const CANARY: &str = r#"health {
  timeout       = "60s"
  poll_interval = "1s"
  alarms { names = ["bg-local-{color}-5xx"] }
}
traffic { verify_timeout = "10s" }
strategy {
  type    = "canary"
  percent = 20
  bake    = "60s"
}
promotion {
  bake             = "1s"
  termination_wait = "0s"
  old_color        = "keep-warm"
}
"#;

/// A release whose tasks fail their health check: bluegreen must give up on target health.
const HEALTH_FAILS: &str = r#"health {
  timeout       = "20s"
  poll_interval = "1s"
}
traffic { verify_timeout = "10s" }
strategy { type = "all-at-once" }
promotion {
  bake             = "1s"
  termination_wait = "0s"
  old_color        = "keep-warm"
}
"#;

/// `<parent>/local/bluegreen.hcl` with its own var files: the target groups health-check
/// `/health` (the app's health path, so an error rate on `/` never fails a check) and the
/// service's container environment is `environment`.
fn env_dir(parent: &Path, environment: &str, blocks: &str) -> PathBuf {
    let dir = parent.join("local");
    std::fs::create_dir_all(&dir).unwrap();
    let (shared, service) = (dir.join("shared.tfvars"), dir.join("service.tfvars"));
    std::fs::write(
        &shared,
        "listener_port = 80\ntest_listener = true\ntest_listener_port = 8080\nhealth_check_path = \"/health\"\n",
    )
    .unwrap();
    std::fs::write(
        &service,
        format!("container_port = 80\ncpu = 256\nmemory = 512\nenvironment = {environment}\n"),
    )
    .unwrap();
    common::env_with_var_files(parent, "local", 2, &[shared], &[service], blocks)
}

/// `app/<name>/<id>` / `targetgroup/<name>/<id>` of the local ALB and of a target group.
fn dimensions(emu: &Emulator, tg: &str) -> (String, String) {
    let snap = emu.snapshot();
    let dim = |arn: &str| {
        arn.rsplit(':')
            .next()
            .unwrap()
            .trim_start_matches("loadbalancer/")
            .to_owned()
    };
    let lb = snap
        .load_balancers
        .values()
        .find(|l| l.name == common::LOCAL_LB)
        .expect("the local ALB");
    let tg = snap
        .target_groups
        .values()
        .find(|t| t.name == tg)
        .expect("the target group");
    (dim(&lb.arn), dim(&tg.arn))
}

/// A 5xx alarm per color, as a team would write it for ALB: target 5xx count over 10 s
/// (a period CloudWatch allows for high-resolution metrics), 1 of 1, more than 5, missing
/// data (no requests at all) not breaching.
fn create_alarms(emu: &Emulator) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    let cw = aws_sdk_cloudwatch::Client::new(&emu.sdk_config());
    for color in ["blue", "green"] {
        let (lb, tg) = dimensions(emu, &format!("bg-local-{color}"));
        emu.block_on(
            cw.put_metric_alarm()
                .alarm_name(format!("bg-local-{color}-5xx"))
                .namespace("AWS/ApplicationELB")
                .metric_name("HTTPCode_Target_5XX_Count")
                .dimensions(Dimension::builder().name("TargetGroup").value(tg).build())
                .dimensions(Dimension::builder().name("LoadBalancer").value(lb).build())
                .statistic(Statistic::Sum)
                .period(10)
                .evaluation_periods(1)
                .datapoints_to_alarm(1)
                .threshold(5.0)
                .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                .treat_missing_data("notBreaching")
                .send(),
        )
        .unwrap();
    }
}

fn alarm(emu: &Emulator, name: &str) -> (String, String) {
    let cw = aws_sdk_cloudwatch::Client::new(&emu.sdk_config());
    let out = emu
        .block_on(cw.describe_alarms().alarm_names(name).send())
        .unwrap();
    let a = &out.metric_alarms()[0];
    (
        a.state_value().unwrap().as_str().to_owned(),
        a.state_reason().unwrap_or_default().to_owned(),
    )
}

/// Weight of each target group (by name) on the production listener, as the emulator holds it.
fn production_weights(emu: &Emulator) -> Vec<(String, i32)> {
    let l = emu
        .find_listener_by_port(common::LOCAL_LB, 80)
        .expect("production listener");
    let mut w: Vec<(String, i32)> = l
        .weights()
        .into_iter()
        .map(|(arn, weight)| (tg_name(&arn), weight))
        .collect();
    w.sort();
    w
}

/// An emulator answering DescribeTargetHealth from the data plane's checks, the data plane,
/// and the environment `local` (its first var files) with 1.27 live on blue, all at once.
/// Fields drop in this order: the data plane stops before the emulator.
struct World {
    work: tempfile::TempDir,
    envs: tempfile::TempDir,
    dp: DataPlane,
    emu: Emulator,
    _health: HealthFile,
}

impl World {
    fn with_v1_live() -> World {
        let health = HealthFile::new();
        let emu = health.emulator().start();
        let dp = DataPlane::start(&emu, Some(&health));
        let w = World {
            work: common::temp_workdir(),
            envs: tempfile::tempdir().unwrap(),
            dp,
            emu,
            _health: health,
        };
        env_dir(w.envs.path(), "{}", FIRST);
        w.bg()
            .args(["deploy", "--env", "local", "--image", V1])
            .run()
            .assert_code(0);
        w
    }

    fn bg(&self) -> Bluegreen {
        Bluegreen::new(&self.emu, self.work.path())
            .args(["--environments-dir", self.envs.path().to_str().unwrap()])
    }
}

#[test]
fn a_bad_canary_raises_its_alarm_is_rolled_back_and_harms_only_its_share() {
    let w = World::with_v1_live();
    let (emu, dp, envs) = (&w.emu, &w.dp, &w.envs);
    let bg = || w.bg();
    create_alarms(emu);
    env_dir(
        envs.path(),
        &format!("{{ BG_ERROR_RATE = \"{ERROR_RATE}\" }}"),
        CANARY,
    );
    let url = dp.url(80);

    let load = Load::start(&url, RATE);
    std::thread::sleep(Duration::from_secs(3));
    let deploy = bg().args(["deploy", "--env", "local", "--image", V2]).run();
    std::thread::sleep(Duration::from_secs(2));
    let (requests, summary) = load.finish();
    deploy.assert_code(5);
    eprintln!(
        "bluegreen: {}",
        deploy
            .stderr
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .join(" | ")
    );

    // The alarm was raised by the data plane's evaluation (this test never sets a state).
    let (state, reason) = alarm(emu, "bg-local-green-5xx");
    assert!(
        dp.log().contains("alarm bg-local-green-5xx: OK -> ALARM"),
        "the data plane never raised the alarm:\n{}",
        dp.log()
    );
    eprintln!("alarm bg-local-green-5xx now {state}: {reason}");
    assert_eq!(
        production_weights(emu),
        vec![("bg-local-blue".into(), 100), ("bg-local-green".into(), 0)]
    );

    // Harm: the bad color's 5xx, against weight × error rate × rate × exposure.
    let green: Vec<&Request> = requests
        .iter()
        .filter(|r| r.target_group == "bg-local-green")
        .collect();
    assert!(
        !green.is_empty(),
        "no request reached the canary: {summary}"
    );
    let first = green.first().unwrap().at_ms;
    let last = green.last().unwrap().at_ms;
    let exposure_s = (last - first) / 1000.0;
    let expected = CANARY_PERCENT / 100.0 * ERROR_RATE * f64::from(RATE) * exposure_s;
    let failed: Vec<&Request> = requests.iter().filter(|r| r.status != 200).collect();
    eprintln!(
        "bad canary: {} requests, {} to the canary over {exposure_s:.2} s (first bad request → restore); \
         user-facing errors {} vs expected {expected:.1} (= {} × {ERROR_RATE} × {RATE}/s × {exposure_s:.2} s)",
        requests.len(),
        green.len(),
        failed.len(),
        CANARY_PERCENT / 100.0
    );
    // Where the exposure went: until the data plane set the alarm, then until bluegreen's
    // listener change took effect (its log lines carry epoch seconds.millis).
    let raised_ms = dp
        .log()
        .lines()
        .find(|l| l.contains("alarm bg-local-green-5xx: OK -> ALARM"))
        .and_then(|l| {
            l.strip_prefix("bg-dataplane ")?
                .split(':')
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map(|s| s * 1000.0)
        .expect("the alarm line carries its time");
    eprintln!(
        "first bad request → alarm set by the data plane: {:.2} s; → last request to the canary: {:.2} s",
        (raised_ms - first) / 1000.0,
        (last - raised_ms) / 1000.0
    );
    // The restore lost nothing: every failure is the bad version's own 500, answered by the
    // canary's target group; no 502/503 from the balancer, no timeout (status 0).
    for r in &failed {
        assert!(
            r.status == 500 && r.target_group == "bg-local-green" && r.version == "1.28",
            "a failure that is not the canary's own 5xx: {r:?}; summary {summary}"
        );
    }
    // The bound: the errors are the canary's share of the traffic at its error rate for the
    // time it was exposed (±25 %, and ±5 requests for the edges of the exposure).
    let n = failed.len() as f64;
    assert!(
        (n - expected).abs() <= expected * 0.25 + 5.0,
        "{n} user-facing errors, expected about {expected:.1}"
    );
    // And the exposure was bounded by the alarm, not by the 60 s bake.
    assert!(
        exposure_s < 40.0,
        "the canary took traffic for {exposure_s:.1} s"
    );
}

#[test]
fn a_task_failing_its_health_check_is_unhealthy_to_bluegreen_and_traffic_stays() {
    let w = World::with_v1_live();
    let (emu, dp, envs) = (&w.emu, &w.dp, &w.envs);
    let bg = || w.bg();
    env_dir(envs.path(), "{ BG_HEALTH_FAIL = \"1\" }", HEALTH_FAILS);
    let url = dp.url(80);
    let load = Load::start(&url, RATE);
    let deploy = bg().args(["deploy", "--env", "local", "--image", V2]).run();
    let (requests, summary) = load.finish();
    deploy.assert_code(5);
    let said = format!("{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        said.contains("unhealthy (Target.ResponseCodeMismatch)"),
        "bluegreen did not report the unhealthy target:\n{said}"
    );
    // The emulator answers what the checks saw: green's targets are unhealthy there too.
    let tg = emu
        .snapshot()
        .target_groups
        .into_values()
        .find(|t| t.name == "bg-local-green")
        .unwrap()
        .arn;
    let elbv2 = emu.elbv2();
    let th = emu
        .block_on(elbv2.describe_target_health().target_group_arn(&tg).send())
        .unwrap();
    let states: Vec<(String, String)> = th
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let h = d.target_health().unwrap();
            (
                h.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                h.reason()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    eprintln!("green's targets after the deploy: {states:?}");
    assert!(
        states
            .iter()
            .any(|(s, r)| s == "unhealthy" && r == "Target.ResponseCodeMismatch"),
        "{states:?}\n{}",
        dp.log()
    );
    // The checks are in the metrics too: green's UnHealthyHostCount, blue's HealthyHostCount.
    let hosts = |metric: &str, color: &str| {
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};
        let (lb, tg) = dimensions(emu, &format!("bg-local-{color}"));
        let cw = aws_sdk_cloudwatch::Client::new(&emu.sdk_config());
        let now = std::time::SystemTime::now();
        let out = emu
            .block_on(
                cw.get_metric_statistics()
                    .namespace("AWS/ApplicationELB")
                    .metric_name(metric)
                    .dimensions(Dimension::builder().name("TargetGroup").value(tg).build())
                    .dimensions(Dimension::builder().name("LoadBalancer").value(lb).build())
                    .start_time((now - Duration::from_secs(5)).into())
                    .end_time(now.into())
                    .period(60)
                    .statistics(Statistic::Maximum)
                    .send(),
            )
            .unwrap();
        out.datapoints()
            .iter()
            .filter_map(|d| d.maximum())
            .fold(0.0, f64::max)
    };
    std::thread::sleep(Duration::from_secs(2)); // two metric periods
    let (unhealthy, healthy) = (
        hosts("UnHealthyHostCount", "green"),
        hosts("HealthyHostCount", "blue"),
    );
    eprintln!("last 5 s: green UnHealthyHostCount {unhealthy}, blue HealthyHostCount {healthy}");
    assert_eq!((unhealthy, healthy), (2.0, 2.0));
    // Traffic never left blue, and no request failed.
    assert_eq!(
        production_weights(emu),
        vec![("bg-local-blue".into(), 100), ("bg-local-green".into(), 0)]
    );
    let failed = requests.iter().filter(|r| r.status != 200).count();
    assert_eq!(failed, 0, "{summary}");
    assert!(requests.iter().all(|r| r.target_group == "bg-local-blue"));
    eprintln!(
        "health-failing release: {} requests, 0 failed, all on blue",
        requests.len()
    );
}

/// A release whose tasks take 4 s to start (`BG_STARTUP_DELAY_MS`); the one timeout is long.
const SLOW_START: &str = r#"health {
  timeout       = "60s"
  poll_interval = "1s"
}
traffic { verify_timeout = "10s" }
strategy { type = "all-at-once" }
promotion {
  bake             = "1s"
  termination_wait = "0s"
  old_color        = "keep-warm"
}
"#;

#[test]
fn starting_tasks_are_pending_to_bluegreen_until_they_run() {
    let w = World::with_v1_live();
    env_dir(
        w.envs.path(),
        "{ BG_STARTUP_DELAY_MS = \"4000\" }",
        SLOW_START,
    );
    let deploy = w
        .bg()
        .args(["deploy", "--env", "local", "--image", V2])
        .run();
    deploy.assert_code(0);
    let said = format!("{}\n{}", deploy.stdout, deploy.stderr);
    let ecs: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("green ecs-service:"))
        .collect();
    eprintln!("green's ecs-service readings:\n{}", ecs.join("\n"));
    // moto alone would answer running 2 the moment the service is scaled: bluegreen sees the
    // tasks pending (in their startup delay) first, then running.
    let pending = ecs
        .iter()
        .position(|l| l.contains("waiting — desired 2, running 0, pending 2"));
    let running = ecs
        .iter()
        .position(|l| l.contains("ok — desired 2, running 2, pending 0"));
    assert!(
        matches!((pending, running), (Some(p), Some(r)) if p < r),
        "no pending-then-running readings of green's service:\n{}\n{}",
        ecs.join("\n"),
        w.dp.log()
    );
    // And the emulator answers what runs now (DescribeServices through the launcher patch).
    let ecs_client = aws_sdk_ecs::Client::new(&w.emu.sdk_config());
    let clusters = w.emu.block_on(ecs_client.list_clusters().send()).unwrap();
    let mut counts = Vec::new();
    for cluster in clusters.cluster_arns() {
        let listed = w
            .emu
            .block_on(ecs_client.list_services().cluster(cluster).send())
            .unwrap();
        let described = w
            .emu
            .block_on(
                ecs_client
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(listed.service_arns().to_vec()))
                    .send(),
            )
            .unwrap();
        for s in described.services() {
            counts.push((
                s.service_name().unwrap_or_default().to_owned(),
                s.desired_count(),
                s.running_count(),
                s.pending_count(),
            ));
        }
    }
    counts.sort();
    eprintln!("services after the deploy: {counts:?}");
    assert!(
        counts
            .iter()
            .any(|(name, d, r, p)| name.contains("green") && (*d, *r, *p) == (2, 2, 0)),
        "{counts:?}"
    );
}
