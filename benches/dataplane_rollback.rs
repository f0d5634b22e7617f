//! Rollback latency at the data plane (issue 15, acceptance 6; docs/dataplane.md): from the first
//! bad response the load generator sees to the last request the bad color serves, read from
//! the load generator's `requests.jsonl`.
//!
//! Real: the `bluegreen` binary, Terraform with the emulator modules, moto through the strict
//! launcher, and HTTP: every request travels over loopback TCP through the local data plane
//! (`bg-dataplane run`), which routes it by the listener's weights as the emulator holds them.
//! Emulated: the tasks (in-process servers of the data plane; the bad release answers 500 to
//! `BG_ERROR_RATE` of its requests because its task definition says so), and target health
//! (moto's: registered = healthy).
//!
//! The bad release is caught by a signal bluegreen reads today: an `http` check through the
//! **test listener**, which bluegreen points at the new color, served by the data plane. The
//! check passes while the new color comes up (its first probes answer 200), then, once the
//! canary takes production traffic, one probe answered 500 fails it and bluegreen rolls back
//! (exit 5). Nothing flips an alarm by hand. The new color's tasks share their error counter
//! between the probes and the production requests, so a probe fails with about the error rate's
//! chance: the number includes that detection (a sampling of the bad color once per poll), the
//! poll interval, the restore, and the data plane's routing poll (50 ms) — where
//! `benches/rollback_latency.rs` measures only signal → listener restored.
//!
//! Each run: load at `BENCH_RATE` (default 200) req/s through the production listener (blue,
//! good, 100 %); deploy a new image to green with `BG_ERROR_RATE` (`BENCH_ERROR_RATE`, default
//! 0.3) as a canary of `BENCH_CANARY` % (default 20) baked 10 min, health poll 1 s; expect exit
//! 5; stop the load. Prints every run (latency, errors, the harm estimate weight × error rate ×
//! rate × latency) and the median and p95.
//!
//! `cargo test --bench dataplane_rollback -- --bench` measures (20 runs, `BENCH_RUNS` changes
//! it; a debug build is fine: the data plane binary is `BLUEGREEN_DATAPLANE_BIN`, else the one
//! next to `bluegreen`, so run `cargo build --workspace --bins` first); without `--bench` (as
//! `cargo test --all-targets` runs it) one run proves it still works.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Bluegreen, DataPlane, Emulator, Load, Request};
use std::path::Path;
use std::time::{Duration, Instant};

const GOOD: &str = "public.ecr.aws/nginx/nginx:1.27";
const BAD_TG: &str = "bg-local-green";
const LB: &str = "bg-local-alb";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runs: usize = env_or("BENCH_RUNS", if full { 20 } else { 1 });
    let rate: u32 = env_or("BENCH_RATE", 200);
    let error_rate: f64 = env_or("BENCH_ERROR_RATE", 0.3);
    let canary: u32 = env_or("BENCH_CANARY", 20);
    if !full {
        println!(
            "smoke run ({runs} run); `cargo test --bench dataplane_rollback -- --bench` measures"
        );
    }
    let emu = Emulator::start();
    let dp = DataPlane::start(&emu, None);
    let work = common::temp_workdir();
    let envs = tempfile::tempdir().unwrap();
    let bg = || {
        Bluegreen::new(&emu, work.path())
            .args(["--environments-dir", envs.path().to_str().unwrap()])
            .timeout(Duration::from_secs(300))
    };
    // Blue: the good release, live at 100 %.
    common::local_env(
        envs.path(),
        2,
        "health {\n  timeout = \"60s\"\n  poll_interval = \"200ms\"\n}\nstrategy { type = \"all-at-once\" }\n",
    );
    bg().args(["deploy", "--env", "local", "--image", GOOD])
        .run()
        .assert_code(0);
    let (prod, test) = (dp.url(80), dp.url(8080));
    let listener = emu.find_listener_by_port(LB, 80).expect("listener").arn;
    let tg = |name: &str| emu.target_group_arn(name);
    let (blue, green) = (tg("bg-local-blue"), tg(BAD_TG));
    let weights = || {
        let w = emu.listener_weights(&listener);
        (
            w.get(&blue).copied().unwrap_or(0),
            w.get(&green).copied().unwrap_or(0),
        )
    };
    // From now on every deploy goes to green (the rollback leaves blue live) with the bad
    // environment and the HTTP check through the test listener.
    write_bad_env(envs.path(), &test, error_rate, canary);

    let (mut samples, mut restores, mut tails) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let load = Load::start(&prod, rate);
        std::thread::sleep(Duration::from_secs(2));
        let image = format!("public.ecr.aws/nginx/nginx:bad-{run}");
        let deploy = bg().args(["deploy", "--env", "local", "--image", &image]);
        let child = std::thread::spawn(move || deploy.run());
        // The listener as the emulator holds it, read every 5 ms by this thread: when the
        // canary's weight is there, and when the restore (blue 100 %) is.
        let deadline = Instant::now() + Duration::from_secs(240);
        while weights().1 == 0 && !child.is_finished() {
            assert!(
                Instant::now() < deadline,
                "run {run}: the canary never started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        while weights() != (100, 0) && !child.is_finished() {
            assert!(Instant::now() < deadline, "run {run}: no rollback");
            std::thread::sleep(Duration::from_millis(5));
        }
        let restored_at = now_ms();
        let deploy = child.join().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let (requests, _summary) = load.finish();
        deploy.assert_code(5);
        let bad_at = requests
            .iter()
            .filter(|r| r.status >= 500 && r.target_group == BAD_TG)
            .map(Request::answered_ms)
            .fold(f64::INFINITY, f64::min);
        let last_bad_color = requests
            .iter()
            .filter(|r| r.target_group == BAD_TG)
            .map(Request::answered_ms)
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            bad_at.is_finite(),
            "run {run}: the load generator saw no bad response; bluegreen said\n{deploy}"
        );
        let latency = last_bad_color - bad_at;
        // Split: bluegreen (first bad response → the restore seen in the emulator, read every
        // 5 ms) and the data plane (that read → the last answer of the bad color: its routing
        // poll plus the requests in flight).
        let (to_restore, after_restore) = (restored_at - bad_at, last_bad_color - restored_at);
        let errors = requests.iter().filter(|r| r.status != 200).count();
        let other = requests
            .iter()
            .filter(|r| r.status != 200 && !(r.status == 500 && r.target_group == BAD_TG))
            .count();
        let expected = f64::from(canary) / 100.0 * error_rate * f64::from(rate) * latency / 1000.0;
        println!(
            "run {run:>2}: {latency:>5.0} ms from the first bad response to the last request the bad color served \
             (listener restored after {to_restore:.0} ms, last bad-color answer {after_restore:.0} ms later); \
             {errors} failed of {} (weight × error rate × rate × time: {expected:.0}; {other} not a 500 of the bad color)",
            requests.len()
        );
        samples.push(latency);
        restores.push(to_restore);
        tails.push(after_restore);
    }
    println!(
        "rollback latency at the data plane over {runs} runs (health poll 1s, {rate} req/s, canary {canary}%, \
         error rate {error_rate}): {}",
        stats(&mut samples)
    );
    println!(
        "  first bad response → listener restored in the emulator: {}",
        stats(&mut restores)
    );
    println!(
        "  listener restored → last answer of the bad color: {}",
        stats(&mut tails)
    );
}

/// `median M ms, p95 P ms, min … ms, max … ms` (nearest rank).
fn stats(samples: &mut [f64]) -> String {
    samples.sort_by(f64::total_cmp);
    let pct =
        |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1];
    format!(
        "median {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms",
        pct(0.5),
        pct(0.95),
        samples[0],
        samples[samples.len() - 1]
    )
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// The environment every measured deploy uses: the bad release's task definition environment,
/// the HTTP check through the test listener's local socket, a canary that would bake 10 min.
fn write_bad_env(parent: &Path, test_url: &str, error_rate: f64, canary: u32) {
    let vars = parent.join("bad.tfvars");
    std::fs::write(
        &vars,
        format!("environment = {{ BG_ERROR_RATE = \"{error_rate}\" }}\n"),
    )
    .unwrap();
    let blocks = format!(
        r#"health {{
  timeout       = "60s"
  poll_interval = "1s"
  http "canary" {{
    url = "{test_url}/"
  }}
}}
traffic {{ verify_timeout = "10s" }}
strategy {{
  type    = "canary"
  percent = {canary}
  bake    = "10m"
}}
promotion {{
  termination_wait = "0s"
  old_color        = "keep-warm"
}}
"#
    );
    // The service's var files: local-fast's, then the bad one.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local_fast = |f: &str| repo.join("environments/local-fast").join(f);
    common::env_with_var_files(
        parent,
        "local",
        2,
        &[local_fast("shared.tfvars")],
        &[local_fast("service.tfvars"), vars],
        &blocks,
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
