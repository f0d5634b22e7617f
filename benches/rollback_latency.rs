//! Rollback latency: from the moment a CloudWatch alarm turns to ALARM (its `SetAlarmState`
//! call has returned) to the moment the production listener reads back 100 % on the old color.
//! Real binary, real Terraform, moto on loopback, a 1 s health poll interval — the number a
//! user of the default-ish configuration sees, minus AWS's own API latency.
//!
//! Each run deploys a new image with a canary (50 % for 10 minutes), waits until the listener
//! holds 50/50, sleeps a seeded pseudo-random 0–1000 ms (so the alarm lands at every phase of
//! the poll cycle, not always at the same one), flips the alarm, and polls the listener every
//! 2 ms until it is back on blue. Prints every sample, the median and the p95.
//!
//! `BENCH_RUNS` (default 20; 2 when run by `cargo test`) and `BENCH_SEED` (default 1) change
//! the run.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Bluegreen, Emulator};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

const LB: &str = "bg-local-alb";

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and then two runs prove the benchmark still works without spending CI time on numbers.
    let full = std::env::args().any(|a| a == "--bench");
    let runs: usize = env_or("BENCH_RUNS", if full { 20 } else { 2 });
    if !full {
        println!("smoke run ({runs} runs); `cargo bench --bench rollback_latency` measures");
    }
    let mut seed: u64 = env_or("BENCH_SEED", 1);
    let emu = Emulator::start();
    let work = common::temp_workdir();
    let envs = tempfile::tempdir().unwrap();
    write_env(envs.path());
    let bg = || {
        Bluegreen::new(&emu, work.path())
            .args(["--environments-dir", envs.path().to_str().unwrap()])
            .timeout(Duration::from_secs(300))
    };
    let cw = cloudwatch(&emu);
    for color in ["blue", "green"] {
        emu.boto3(&format!(
            "import boto3\nboto3.client('cloudwatch').put_metric_alarm(AlarmName='app-{color}-5xx', \
             MetricName='HTTPCode_Target_5XX_Count', Namespace='AWS/ApplicationELB', Statistic='Sum', \
             Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator='GreaterThanThreshold')\n"
        ));
        set_alarm(&emu, &cw, &format!("app-{color}-5xx"), "OK");
    }
    bg().args(["deploy", "--env", "local", "--image", "app:0"])
        .run()
        .assert_code(0);
    let listener = emu.find_listener_by_port(LB, 80).expect("listener").arn;
    let tg = |name: &str| emu.target_group_arn(name);
    let (blue, green) = (tg("bg-local-blue"), tg("bg-local-green"));
    let weights = || {
        let w = emu.listener_weights(&listener);
        (
            w.get(&blue).copied().unwrap_or(0),
            w.get(&green).copied().unwrap_or(0),
        )
    };

    let mut samples = Vec::new();
    for run in 1..=runs {
        let image = format!("app:{run}");
        let deploy = bg().args(["deploy", "--env", "local", "--image", &image]);
        let child = thread::spawn(move || deploy.run());
        let deadline = Instant::now() + Duration::from_secs(120);
        while weights() != (50, 50) {
            assert!(
                Instant::now() < deadline,
                "run {run}: the canary never started"
            );
            thread::sleep(Duration::from_millis(5));
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        thread::sleep(Duration::from_millis((seed >> 33) % 1000));
        set_alarm(&emu, &cw, "app-green-5xx", "ALARM");
        let t0 = Instant::now();
        while weights() != (100, 0) {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "run {run}: no rollback"
            );
            thread::sleep(Duration::from_millis(2));
        }
        let latency = t0.elapsed();
        child.join().unwrap().assert_code(5);
        set_alarm(&emu, &cw, "app-green-5xx", "OK");
        println!("run {run:>2}: {:>4} ms", latency.as_millis());
        samples.push(latency);
    }
    samples.sort();
    let pct =
        |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "rollback latency over {} runs (poll interval 1s): median {} ms, p95 {} ms, min {} ms, max {} ms",
        samples.len(),
        pct(0.5).as_millis(),
        pct(0.95).as_millis(),
        samples[0].as_millis(),
        samples[samples.len() - 1].as_millis()
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cloudwatch(emu: &Emulator) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&emu.sdk_config())
}

fn set_alarm(emu: &Emulator, cw: &aws_sdk_cloudwatch::Client, name: &str, state: &str) {
    emu.block_on(
        cw.set_alarm_state()
            .alarm_name(name)
            .state_value(state.into())
            .state_reason("set by the benchmark")
            .send(),
    )
    .expect("SetAlarmState");
}

fn write_env(parent: &Path) {
    common::local_env(
        parent,
        2,
        r#"health {
  timeout       = "30s"
  poll_interval = "1s"
  alarms { names = ["app-{color}-5xx"] }
}
traffic { verify_timeout = "10s" }
strategy {
  type    = "canary"
  percent = 50
  bake    = "10m"
}
promotion {
  termination_wait = "0s"
  old_color        = "keep-warm"
}"#,
    );
}
