//! Plans of any size (issue 16): what bluegreen itself spends on a `bluegreen plan` of a
//! service root with N extra resources, Terraform's time left out, next to the issue's
//! baselines and to Python's `json.load` + a walk of the same plan JSON.
//!
//! The work measured is what `plan` does with the output of `terraform show -json`: read it
//! (summary + redaction of sensitive values into canonical text, `iac::summarized_plan_json`),
//! check plan safety (`iac::check_redacted_plan`), seal the body with the redacted plan
//! spliced in and the saved plan file (`artifact::seal_to`), the artifact written to its file
//! as it is produced. A child doing no plan work gives the process's own baseline RSS. Then: rejecting a tampered artifact
//! (one byte changed inside a string of the body: it still parses and is canonical, so the
//! whole checksum is computed before it is refused — the most expensive rejection).
//!
//! Each measurement runs in a fresh child process (this binary with `--child`), so its peak RSS
//! (`VmHWM`) is its own; CPU time is the child's own (`/proc/thread-self/schedstat`, the work
//! is single-threaded). Python's CPU (`time.process_time`) and peak RSS (`ru_maxrss`) are taken
//! the same way. Runs are interleaved (every case and Python once per round) and the medians of
//! `BENCH_RUNS` rounds printed, with the median of the per-round ratios.
//!
//! The plan JSON is generated in the shape Terraform 1.11 prints for `terraform_data`
//! resources (`tests/fixtures/terraform/show_plan_create.json`): per resource a planned value,
//! a resource change and, when sensitive, its sensitivity shapes; every sensitive value is a
//! distinct secret of 23 characters, so the scrub looks for N secrets in every string. The
//! saved plan file is N × 150 pseudo-random bytes.
//!
//! `cargo bench --bench plan_size` measures (BENCH_RUNS rounds, default 5);
//! `cargo test --all-targets` runs it once on small plans as a smoke test. With
//! `BENCH_BEFORE_BIN` naming this bench built from an older commit (its `--child` protocol is
//! the same), every round measures that one too, interleaved: docs/performance.md has the
//! commands.

use bluegreen::artifact::{inspect, seal_to, PlanKey, Spliced};
use bluegreen::iac::{check_redacted_plan, summarized_plan_json, ForeignObjects, SafetyPolicy};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A plan size, with the figures for it (measured before the change).
struct Case {
    name: &'static str,
    resources: usize,
    sensitive: bool,
    /// (plan JSON MB, bluegreen CPU s, peak RSS MB, artifact MB, Python s)
    baseline: (f64, f64, f64, f64, f64),
}

const CASES: [Case; 3] = [
    Case {
        name: "1,000",
        resources: 1_000,
        sensitive: false,
        baseline: (0.78, 0.41, 81.0, 1.85, 0.016),
    },
    Case {
        name: "10,000",
        resources: 10_000,
        sensitive: false,
        baseline: (7.75, 2.87, 664.0, 18.2, 0.27),
    },
    Case {
        name: "10,000 sensitive",
        resources: 10_000,
        sensitive: true,
        baseline: (6.61, 9.00, 535.0, 14.5, 0.087),
    },
];

/// The tampered 18 MB artifact: (s, MB).
const TAMPER_BASELINE: (f64, f64) = (0.77, 306.0);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(&args[2..]);
    }
    let full = args.iter().any(|a| a == "--bench");
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5 } else { 1 });
    let scale = if full { 1 } else { 50 };
    if !full {
        println!(
            "smoke run (plans 50× smaller, {runs} round); `cargo bench --bench plan_size` measures"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let files: Vec<(PathBuf, PathBuf, PathBuf)> = CASES
        .iter()
        .enumerate()
        .map(|(i, c)| prepare(dir.path(), i, c.resources / scale, c.sensitive))
        .collect();
    let mut ours: Vec<Vec<Sample>> = CASES.iter().map(|_| Vec::new()).collect();
    let mut python: Vec<Vec<Sample>> = CASES.iter().map(|_| Vec::new()).collect();
    // The same bench built from the code before issue 16, to measure "before" in the same run.
    let before_bin = std::env::var_os("BENCH_BEFORE_BIN").map(PathBuf::from);
    let mut before: Vec<Vec<Sample>> = CASES.iter().map(|_| Vec::new()).collect();
    let mut baseline = Vec::new();
    let mut tampered = Vec::new();
    let mut tampered_before = Vec::new();
    for round in 0..runs {
        for (i, (plan, tf, out)) in files.iter().enumerate() {
            ours[i].push(run_child(
                None,
                &["pipeline", path(plan), path(tf), path(out)],
            ));
            if let Some(bin) = &before_bin {
                let old_out = out.with_extension("before.bgplan");
                let args = ["pipeline", path(plan), path(tf), path(&old_out)];
                before[i].push(run_child(Some(bin), &args));
            }
            python[i].push(run_python(plan));
        }
        baseline.push(run_child(None, &["baseline"]));
        // The 10,000-resource artifact (the largest), one byte changed.
        let artifact = std::fs::read(&files[1].2).expect("artifact");
        let bad = dir.path().join("tampered.bgplan");
        std::fs::write(&bad, tamper(artifact)).expect("write tampered");
        tampered.push(run_child(None, &["inspect", path(&bad)]));
        if let Some(bin) = &before_bin {
            tampered_before.push(run_child(Some(bin), &["inspect", path(&bad)]));
        }
        eprintln!("round {}/{runs} done", round + 1);
    }
    let measured = Measured {
        baseline,
        ours,
        before,
        python,
        tampered,
        tampered_before,
    };
    report(&files, &measured);
}

/// Writes the plan JSON and the saved plan of one case; returns (plan, saved plan, artifact).
fn prepare(dir: &Path, i: usize, n: usize, sensitive: bool) -> (PathBuf, PathBuf, PathBuf) {
    let plan = dir.join(format!("plan-{i}.json"));
    std::fs::write(&plan, plan_json(n, sensitive)).expect("write plan");
    let tf = dir.join(format!("plan-{i}.tfplan"));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ n as u64;
    let bytes: Vec<u8> = (0..n * 150)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&tf, bytes).expect("write saved plan");
    (plan, tf, dir.join(format!("plan-{i}.bgplan")))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// `show -json` of a plan creating `n` `terraform_data.extra[i]` (Terraform 1.11's shape).
fn plan_json(n: usize, sensitive: bool) -> Vec<u8> {
    let value = |i: usize| match sensitive {
        true => format!("secret-{i:06}-{:09x}", (i as u64).wrapping_mul(0x2545_f491)),
        false => format!("extra-{i}"),
    };
    let shape = |s: bool| if s { json!({"input": true}) } else { json!({}) };
    let planned: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "address": format!("terraform_data.extra[{i}]"), "mode": "managed",
                "type": "terraform_data", "name": "extra", "index": i,
                "provider_name": "terraform.io/builtin/terraform", "schema_version": 0,
                "values": {"input": value(i), "triggers_replace": null},
                "sensitive_values": shape(sensitive),
            })
        })
        .collect();
    let changes: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "address": format!("terraform_data.extra[{i}]"), "mode": "managed",
                "type": "terraform_data", "name": "extra", "index": i,
                "provider_name": "terraform.io/builtin/terraform",
                "change": {
                    "actions": ["create"], "before": null,
                    "after": {"input": value(i), "triggers_replace": null},
                    "after_unknown": {"id": true, "output": true},
                    "before_sensitive": false, "after_sensitive": shape(sensitive),
                },
            })
        })
        .collect();
    let doc = json!({
        "format_version": "1.2", "terraform_version": "1.11.4",
        "variables": {"n": {"value": n}},
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"provider_config": {}, "root_module": {
            "resources": [{"address": "terraform_data.extra", "mode": "managed",
                "type": "terraform_data", "name": "extra", "provider_config_key": "terraform",
                "expressions": {"input": {"references": ["count.index"]}}, "schema_version": 0,
                "count_expression": {"references": ["var.n"]}}],
            "variables": {"n": {}}}},
        "timestamp": "2026-12-02T12:00:00Z", "applyable": true, "complete": true, "errored": false,
    });
    serde_json::to_vec(&doc).expect("plan JSON")
}

/// One byte of the body changed inside a string (`extra-1…` → `extrb-1…`, or the first
/// `secret-` → `secreu-`), so the file still parses and is canonical: the checksum refuses it.
fn tamper(mut artifact: Vec<u8>) -> Vec<u8> {
    let at = artifact.len() / 2;
    let text = &artifact[at..];
    let hit = ["\"extra-", "\"secret-"]
        .iter()
        .filter_map(|p| find(text, p.as_bytes()).map(|i| at + i + p.len() - 2))
        .min()
        .expect("a string of the body past the middle");
    artifact[hit] += 1;
    artifact
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What one measured process reported.
#[derive(Clone, Copy)]
struct Sample {
    cpu_s: f64,
    rss_mb: f64,
}

/// Runs this bench (or `bin`, the same bench built before the change) as a measured child.
fn run_child(bin: Option<&Path>, args: &[&str]) -> Sample {
    let this = std::env::current_exe().expect("this bench");
    let out = Command::new(bin.unwrap_or(&this))
        .arg("--child")
        .args(args)
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_sample(&out.stdout)
}

fn run_python(plan: &Path) -> Sample {
    const SCRIPT: &str = "import json, resource, sys, time
t = time.process_time()
with open(sys.argv[1], 'rb') as f:
    doc = json.load(f)
stack, n = [doc], 0
while stack:
    v = stack.pop()
    n += 1
    if isinstance(v, dict):
        stack.extend(v.values())
    elif isinstance(v, list):
        stack.extend(v)
cpu = time.process_time() - t
print(cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
";
    let out = Command::new("python3")
        .args(["-c", SCRIPT, path(plan)])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_sample(&out.stdout)
}

/// "CPU-seconds peak-RSS-bytes" on one line.
fn parse_sample(stdout: &[u8]) -> Sample {
    let text = String::from_utf8_lossy(stdout);
    let mut words = text.split_whitespace();
    let mut next = || -> f64 { words.next().and_then(|w| w.parse().ok()).expect("a sample") };
    Sample {
        cpu_s: next(),
        rss_mb: next() / 1e6,
    }
}

/// The measured side, in a fresh process: prints "CPU-seconds peak-RSS-bytes".
fn child(args: &[String]) {
    match args[0].as_str() {
        "pipeline" => {
            let plan = std::fs::read(&args[1]).expect("plan JSON");
            let saved = std::fs::read(&args[2]).expect("saved plan");
            let start = cpu_seconds();
            pipeline(plan, &saved, Path::new(&args[3]));
            println!("{} {}", cpu_seconds() - start, peak_rss_bytes());
        }
        // The process itself, before any plan work: what every measured child starts from.
        "baseline" => println!("0 {}", peak_rss_bytes()),
        "inspect" => {
            let bytes = std::fs::read(&args[1]).expect("artifact");
            let start = cpu_seconds();
            let refused = inspect(&bytes).is_err();
            assert!(refused, "the tampered artifact was accepted");
            println!("{} {}", cpu_seconds() - start, peak_rss_bytes());
        }
        other => panic!("unknown child {other}"),
    }
}

/// What `plan` does with `show -json` output (the bytes are dropped once read, as there): the
/// artifact is written to `out` as it is sealed.
fn pipeline(plan: Vec<u8>, saved: &[u8], out: &Path) {
    let (summary, redacted) = summarized_plan_json(&plan).expect("plan JSON");
    drop(plan);
    let foreign = ForeignObjects::new();
    let production = [(
        "arn:listener/prod".to_string(),
        "production listener".to_string(),
    )];
    let policy = SafetyPolicy {
        protected: &[],
        foreign: &foreign,
        production: &production,
    };
    let findings = check_redacted_plan(&redacted, &policy).expect("safety check");
    let body = json!({
        "env": "bench",
        "safety": {"findings": findings.len()},
        "terraform": {
            "add": summary.add, "change": summary.change, "destroy": summary.destroy,
            "redacted_plan": null,
        },
    });
    let key = PlanKey::from_bytes([7u8; 32]);
    let splice = Spliced {
        pointer: "/terraform/redacted_plan",
        raw: redacted.raw(),
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).expect("artifact file"));
    seal_to(&body, Some(splice), saved, &key, &mut file).expect("seal");
    file.flush().expect("write artifact");
}

/// This thread's CPU time so far (the measured work runs on the main thread only).
fn cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: f64 = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .expect("schedstat's first field");
    ns / 1e9
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Every sample, by case (`before` empty without `BENCH_BEFORE_BIN`).
struct Measured {
    /// The child with no plan work (its peak RSS: the binary and the runtime).
    baseline: Vec<Sample>,
    ours: Vec<Vec<Sample>>,
    before: Vec<Vec<Sample>>,
    python: Vec<Vec<Sample>>,
    tampered: Vec<Sample>,
    tampered_before: Vec<Sample>,
}

fn cpu(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.cpu_s).collect())
}

fn rss(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.rss_mb).collect())
}

/// The median of the per-round ratios `f(a) / f(b)`.
fn ratio(a: &[Sample], b: &[Sample], f: fn(&Sample) -> f64) -> f64 {
    median(a.iter().zip(b).map(|(a, b)| f(a) / f(b)).collect())
}

fn report(files: &[(PathBuf, PathBuf, PathBuf)], m: &Measured) {
    let mb = |p: &Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6);
    let rounds = m.ours[0].len();
    println!("plan sizes: bluegreen's own work per `plan` (CPU, peak RSS of the process), medians of {rounds} interleaved rounds");
    println!("  \"before\": the same work by the code before this change, measured in the same rounds (BENCH_BEFORE_BIN)");
    println!("  \"issue\": the baselines in issue 16 (`bluegreen plan` end to end, Terraform's time subtracted)");
    for (i, case) in CASES.iter().enumerate() {
        let (ours, python) = (&m.ours[i], &m.python[i]);
        let (json_mb, artifact_mb) = (mb(&files[i].0), mb(&files[i].2));
        let (b_json, b_cpu, b_rss, b_art, b_py) = case.baseline;
        println!(
            "N = {} (plan JSON {json_mb:.2} MB; issue: {b_json} MB)",
            case.name
        );
        let before = &m.before[i];
        let (was_cpu, was_rss) = match before.is_empty() {
            true => ("-".to_string(), "-".to_string()),
            false => (
                format!(
                    "{:.3} s (now/before {:.3}×)",
                    cpu(before),
                    ratio(ours, before, |s| s.cpu_s)
                ),
                format!(
                    "{:.0} MB (now/before {:.3}×)",
                    rss(before),
                    ratio(ours, before, |s| s.rss_mb)
                ),
            ),
        };
        println!(
            "  CPU       now {:.3} s   before {was_cpu}   issue {b_cpu} s",
            cpu(ours)
        );
        println!(
            "  Python    json.load + walk {:.3} s (issue {b_py} s); bluegreen/Python {:.2}× (acceptance ≤ 3×)",
            cpu(python),
            ratio(ours, python, |s| s.cpu_s)
        );
        println!(
            "  peak RSS  now {:.0} MB   before {was_rss}   issue {b_rss:.0} MB; now/plan JSON {:.1}× (acceptance ≤ 4×); Python {:.0} MB",
            rss(ours),
            rss(ours) / json_mb,
            rss(python)
        );
        println!(
            "  peak RSS above the process's own baseline: {:.1} MB = {:.2}× the plan JSON (the plan JSON itself is read into memory first, as `plan` captures `show -json`)",
            rss(ours) - rss(&m.baseline),
            (rss(ours) - rss(&m.baseline)) / json_mb
        );
        println!("  artifact  {artifact_mb:.2} MB (issue {b_art} MB)");
    }
    println!(
        "baseline: the bench child with no plan work has a peak RSS of {:.1} MB",
        rss(&m.baseline)
    );
    let size = mb(&files[1].2);
    let before = match m.tampered_before.is_empty() {
        true => String::new(),
        false => format!(
            "; before {:.3} s, {:.0} MB (now/before {:.3}× CPU)",
            cpu(&m.tampered_before),
            rss(&m.tampered_before),
            ratio(&m.tampered, &m.tampered_before, |s| s.cpu_s)
        ),
    };
    println!(
        "tampered artifact ({size:.1} MB, one byte of the body changed) refused: now {:.3} s, peak RSS {:.0} MB{before}; issue {} s, {:.0} MB",
        cpu(&m.tampered),
        rss(&m.tampered),
        TAMPER_BASELINE.0,
        TAMPER_BASELINE.1
    );
}
