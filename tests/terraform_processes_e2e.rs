//! End-to-end: how many Terraform processes each command launches, counted by a `terraform`
//! shim (`iac { binary = … }`) that appends its arguments to a file and then execs the real
//! one. Once the outputs record exists, `status`, `rollback`, `promote`, `approve` and
//! `history` launch none; a stack changed behind bluegreen's back (a `terraform state push`)
//! is noticed and re-read, never served stale to a write.
//! Real: the emulator, Terraform, the binary. Emulated: AWS (moto).

mod common;

use common::{EnvWorld, FAST};
use std::path::{Path, PathBuf};

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";

/// The real `terraform` on PATH.
fn real_terraform() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").expect("PATH"))
        .map(|d| d.join("terraform"))
        .find(|p| p.is_file())
        .expect("terraform on PATH")
}

/// Writes `<dir>/terraform`: records one line per launch in `<dir>/calls`, then execs the
/// real one (argv passed through untouched). `timed`: runs it as a child instead and appends
/// `<start ns> <end ns> <args>` to `<dir>/spans` when it exits (for the measurement only: a
/// signal to the shim would not reach Terraform).
fn shim(dir: &Path, timed: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let program = dir.join("terraform");
    let calls = dir.join("calls");
    let real = real_terraform();
    let script = if timed {
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nstart=$(date +%s%N)\n'{}' \"$@\"\nrc=$?\nprintf '%s %s %s\\n' \"$start\" \"$(date +%s%N)\" \"$*\" >> '{}'\nexit $rc\n",
            calls.display(),
            real.display(),
            dir.join("spans").display()
        )
    } else {
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            real.display()
        )
    };
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

struct World {
    w: EnvWorld,
    shim: tempfile::TempDir,
}

impl World {
    fn start() -> World {
        World::start_with(false)
    }

    fn start_with(timed: bool) -> World {
        let shim_dir = tempfile::tempdir().unwrap();
        let program = shim(shim_dir.path(), timed);
        let blocks = format!(
            "{FAST}iac {{ binary = \"{}\" }}\nstrategy {{ type = \"all-at-once\" }}\n",
            program.display()
        );
        World {
            w: EnvWorld::start(&blocks, "tf-counter"),
            shim: shim_dir,
        }
    }

    /// The launches since the last call, and forgets them.
    fn take_calls(&self) -> Vec<String> {
        let path = self.shim.path().join("calls");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines().map(str::to_owned).collect()
    }

    /// The spans (start, end in ns, args) of the timed shim since the last call, and forgets
    /// them.
    fn take_spans(&self) -> Vec<(u128, u128, String)> {
        let path = self.shim.path().join("spans");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines()
            .map(|l| {
                let mut it = l.splitn(3, ' ');
                let start = it.next().unwrap().parse().unwrap();
                let end = it.next().unwrap().parse().unwrap();
                (start, end, it.next().unwrap_or_default().to_owned())
            })
            .collect()
    }

    /// Runs `cmd` and returns (exit code, stdout + stderr, Terraform launches).
    fn run(&self, cmd: &[&str], rest: &[&str]) -> (i32, String, Vec<String>) {
        let out = self.w.cmd(cmd, rest).run();
        (out.status, format!("{out}"), self.take_calls())
    }

    /// `terraform state pull` of the shared stack in bluegreen's data dir, edited by `edit`,
    /// then `state push`ed with a higher serial: the stack changes behind bluegreen's back.
    fn change_shared_behind_the_back(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let tf = |args: &[&str], stdin: Option<&[u8]>| {
            use std::io::Write as _;
            let mut cmd = std::process::Command::new(real_terraform());
            cmd.arg(format!(
                "-chdir={}",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("modules/emulator/shared")
                    .display()
            ))
            .args(args)
            .env(
                "TF_DATA_DIR",
                self.w.work.path().join("local/tf/shared/data"),
            )
            .env_remove("TF_WORKSPACE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("terraform");
            if let Some(bytes) = stdin {
                child.stdin.take().unwrap().write_all(bytes).unwrap();
            } else {
                drop(child.stdin.take());
            }
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "terraform {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let mut state: serde_json::Value =
            serde_json::from_slice(&tf(&["state", "pull"], None)).unwrap();
        state["serial"] = (state["serial"].as_u64().unwrap() + 1).into();
        edit(&mut state);
        let file = self.shim.path().join("pushed.tfstate");
        std::fs::write(&file, serde_json::to_vec(&state).unwrap()).unwrap();
        tf(&["state", "push", file.to_str().unwrap()], None);
    }
}

fn counts(calls: &[String]) -> String {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for c in calls {
        let verb: Vec<&str> = c
            .split_whitespace()
            .filter(|a| !a.starts_with('-'))
            .take(2)
            .collect();
        *by.entry(verb.join(" ")).or_default() += 1;
    }
    format!("{} launches {by:?}", calls.len())
}

#[test]
fn read_only_commands_launch_no_terraform_once_outputs_are_recorded() {
    let w = World::start_with(true);
    let (code, log, cold) = w.run(&["deploy"], &["--image", V1]);
    assert_eq!(code, 0, "{log}");
    let (code, log, second) = w.run(&["deploy"], &["--image", V2]);
    assert_eq!(code, 0, "{log}");
    w.take_spans();
    let (code, log, warm) = w.run(&["deploy"], &["--image", V1]);
    assert_eq!(code, 0, "{log}");
    // Independent reads run side by side: the states the safety check compares the plan with
    // (`show -json` of the shared stack and of the live color) are read while the idle color
    // plans.
    let spans = w.take_spans();
    let plan = spans
        .iter()
        .find(|s| s.2.contains(" plan "))
        .unwrap_or_else(|| panic!("no plan: {spans:#?}"));
    let states: Vec<_> = spans
        .iter()
        .filter(|s| s.2.ends_with("show -json -no-color"))
        .collect();
    assert_eq!(states.len(), 2, "{spans:#?}");
    for s in states {
        assert!(
            s.0 < plan.1 && plan.0 < s.1,
            "not read while the plan ran: {s:?}\nplan: {plan:?}"
        );
    }
    eprintln!("first deploy: {}", counts(&cold));
    eprintln!("second deploy (green's first): {}", counts(&second));
    eprintln!("third deploy: {}", counts(&warm));
    // A warm data dir runs no `init` and no workspace command.
    assert!(
        !warm
            .iter()
            .any(|c| c.contains("init") || c.contains("workspace")),
        "{warm:#?}"
    );
    assert!(warm.len() < cold.len(), "{warm:#?}\n{cold:#?}");

    for (cmd, rest, want) in [
        (&["status"][..], &["--output", "json"][..], 0),
        (&["history"][..], &[][..], 0),
        (&["promote"][..], &[][..], -1),
        (&["approve"][..], &["--by", "someone"][..], -1),
        (&["rollback"][..], &[][..], 0),
        (&["status"][..], &[][..], 0),
    ] {
        let (code, log, calls) = w.run(cmd, rest);
        if want >= 0 {
            assert_eq!(code, want, "{cmd:?}: {log}");
        }
        assert!(
            calls.is_empty(),
            "{cmd:?} launched Terraform: {calls:#?}\n{log}"
        );
    }
    assert_eq!(w.w.prod(), (0, 100), "rolled back onto green");
}

#[test]
fn a_stack_changed_behind_bluegreens_back_is_re_read_before_any_write() {
    let w = World::start();
    for image in [V1, V2] {
        let (code, log, _) = w.run(&["deploy"], &["--image", image]);
        assert_eq!(code, 0, "{log}");
    }
    assert_eq!(w.w.prod(), (0, 100));

    // Only the serial moves (what a refresh-only apply does): rollback notices, reads the
    // outputs through Terraform once, and rolls back.
    w.change_shared_behind_the_back(|_| {});
    let (code, log, calls) = w.run(&["rollback"], &[]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("stack's state moved since bluegreen recorded its outputs"),
        "{log}"
    );
    assert!(
        calls.iter().any(|c| c.contains(" state pull")),
        "{calls:#?}\n{log}"
    );
    assert_eq!(w.w.prod(), (100, 0));
    // Recorded again: the next rollback is back to zero launches.
    let (code, log, calls) = w.run(&["rollback"], &[]);
    assert_eq!(code, 0, "{log}");
    assert!(calls.is_empty(), "{calls:#?}");
    assert_eq!(w.w.prod(), (0, 100));

    // A deploy reads the shared stack through Terraform once and says the state moved.
    w.change_shared_behind_the_back(|_| {});
    let (code, log, calls) = w.run(&["deploy"], &["--image", V1]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("the shared stack's state moved"), "{log}");
    assert!(
        calls.iter().any(|c| c.contains(" state pull")),
        "{calls:#?}\n{log}"
    );
    assert_eq!(w.w.prod(), (100, 0));

    // The listener output now names another listener: the rollback uses the new value (and
    // fails, since that listener does not exist), never the recorded one.
    let bogus = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/gone/0/0";
    w.change_shared_behind_the_back(|s| s["outputs"]["listener_arn"]["value"] = bogus.into());
    let (code, log, _) = w.run(&["rollback"], &[]);
    assert_ne!(code, 0, "{log}");
    assert!(log.contains("state moved"), "{log}");
    assert!(
        log.contains(bogus),
        "the write path must see the new listener ARN: {log}"
    );
    assert_eq!(w.w.prod(), (100, 0), "nothing moved");
}

/// A record AWS contradicts while the state serial agrees (what a remote backend's record
/// can look like after the shared stack was applied from another machine): the rollback's
/// route read fails with the recorded listener, the shared stack is read through Terraform,
/// and the rollback goes ahead with the ARNs Terraform and AWS agree on.
#[test]
fn a_record_aws_contradicts_is_re_read_through_terraform_before_the_write() {
    let w = World::start();
    for image in [V1, V2] {
        let (code, log, _) = w.run(&["deploy"], &["--image", image]);
        assert_eq!(code, 0, "{log}");
    }
    let record = w.w.work.path().join("local/outputs/shared.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let gone = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/gone/0/0";
    doc["outputs"]["listener_arn"]["value"] = gone.into();
    std::fs::write(&record, serde_json::to_vec(&doc).unwrap()).unwrap();

    let (code, log, calls) = w.run(&["rollback"], &[]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("the routes did not read with the recorded shared outputs"),
        "{log}"
    );
    assert!(
        calls.iter().any(|c| c.contains(" state pull")),
        "{calls:#?}"
    );
    assert_eq!(w.w.prod(), (100, 0));
    let healed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_ne!(healed["outputs"]["listener_arn"]["value"], gone);
}

/// Not a check: prints the Terraform launches and wall time of `status --output json`,
/// `rollback` and an all-at-once deploy, warm (outputs record + prepared data dirs) against
/// cold (both deleted before the run: every `init`, workspace command and output read runs,
/// as before the record existed), interleaved, medians of `BLUEGREEN_MEASURE_RUNS` (5).
/// `cargo test --test terraform_processes_e2e -- --ignored --nocapture measure`
#[test]
#[ignore = "a measurement, not a check"]
fn measure_launches_and_wall_time_warm_against_cold() {
    let runs: usize = std::env::var("BLUEGREEN_MEASURE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let w = World::start();
    for image in [V1, V2] {
        let (code, log, _) = w.run(&["deploy"], &["--image", image]);
        assert_eq!(code, 0, "{log}");
    }
    let work = w.w.work.path().join("local");
    let cool = || {
        let _ = std::fs::remove_dir_all(work.join("outputs"));
        for stack in ["shared", "blue", "green"] {
            let _ = std::fs::remove_file(work.join("tf").join(stack).join("prepared.json"));
        }
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut images = [V1, V2].into_iter().cycle();
    let cases: [(&str, &[&str]); 3] = [
        ("status --output json", &["status", "--output", "json"]),
        ("rollback", &["rollback"]),
        ("deploy (all-at-once)", &["deploy"]),
    ];
    for (name, argv) in cases {
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        let (mut cold_n, mut warm_n) = (Vec::new(), Vec::new());
        for i in 0..runs * 2 {
            let is_cold = i % 2 == 0;
            if is_cold {
                cool();
            } else {
                // Warm: every stack recorded (a cold rollback reads only its target color).
                w.w.cmd(&["status"], &[]).run();
                w.take_calls();
            }
            let mut b = w.w.cmd(&argv[..1], &argv[1..]);
            if argv[0] == "deploy" {
                b = b.args(["--image", images.next().unwrap()]);
            }
            let out = b.run();
            assert!(out.status == 0, "{out}");
            let calls = w.take_calls().len() as f64;
            let secs = out.elapsed.as_secs_f64();
            if is_cold {
                cold.push(secs);
                cold_n.push(calls);
            } else {
                warm.push(secs);
                warm_n.push(calls);
            }
        }
        eprintln!(
            "MEASURE {name}: cold {:.0} launches {:.3} s | warm {:.0} launches {:.3} s (medians of {runs})",
            median(cold_n),
            median(cold),
            median(warm_n),
            median(warm)
        );
    }
}

/// Not a check: per command, how many Terraform processes it launches, what they are, and how
/// many ran at the same time as another (pairs whose spans overlap, and the most at once),
/// from a timed shim. `deploy` cold (first, empty environment), the second (green's first)
/// and warm; `plan --out` and `apply` of that artifact; the read-only commands.
/// `cargo test --test terraform_processes_e2e -- --ignored --nocapture count_launches`
#[test]
#[ignore = "a measurement, not a check"]
fn count_launches_and_overlaps_per_command() {
    let w = World::start_with(true);
    let plan = w.shim.path().join("plan.bgplan");
    let plan_arg = plan.to_str().unwrap();
    let report = |name: &str,
                  code: i32,
                  log: &str,
                  calls: &[String],
                  spans: &[(u128, u128, String)]| {
        assert!(
            code == 0 || name == "promote" || name == "approve",
            "{name}: {log}"
        );
        let mut pairs = 0;
        for (i, a) in spans.iter().enumerate() {
            pairs += spans[i + 1..]
                .iter()
                .filter(|b| b.0 < a.1 && a.0 < b.1)
                .count();
        }
        // The most processes alive at one instant (a sweep over starts and ends).
        let mut edges: Vec<(u128, i32)> =
            spans.iter().flat_map(|s| [(s.0, 1), (s.1, -1)]).collect();
        edges.sort_by_key(|&(t, d)| (t, d));
        let (mut alive, mut most) = (0, 0);
        for (_, d) in edges {
            alive += d;
            most = most.max(alive);
        }
        let t0 = spans.iter().map(|s| s.0).min().unwrap_or_default();
        for (start, end, args) in spans {
            let args: String = args.chars().take(140).collect();
            eprintln!(
                "  {:6.0} {:6.0} ms  {args}",
                (start - t0) as f64 / 1e6,
                (end - t0) as f64 / 1e6
            );
        }
        let busy: f64 = spans.iter().map(|s| (s.1 - s.0) as f64 / 1e9).sum();
        let end = spans.iter().map(|s| s.1).max().unwrap_or_default();
        let span = end.saturating_sub(t0) as f64 / 1e9;
        eprintln!(
            "COUNT {name}: {} | {pairs} overlapping pairs of {}, at most {most} at once | \
             {busy:.2} s of Terraform processes in {span:.2} s from the first start to the last end",
            counts(calls),
            spans.len() * spans.len().saturating_sub(1) / 2
        );
    };
    let steps: Vec<(&str, Vec<&str>)> = vec![
        (
            "deploy (first, empty environment)",
            vec!["deploy", "--image", V1],
        ),
        (
            "deploy (second: green's first)",
            vec!["deploy", "--image", V2],
        ),
        ("deploy (warm)", vec!["deploy", "--image", V1]),
        ("plan --out", vec!["plan", "--image", V2, "--out", plan_arg]),
    ];
    let run_steps = |steps: Vec<(&str, Vec<&str>)>| {
        for (name, argv) in steps {
            let (code, log, calls) = w.run(&argv[..1], &argv[1..]);
            let spans = w.take_spans();
            report(name, code, &log, &calls, &spans);
        }
    };
    run_steps(steps);
    // `apply` takes the artifact, not --env; right after the plan, before anything moves.
    let out = w.w.bg().args(["apply", plan_arg]).run();
    let calls = w.take_calls();
    let spans = w.take_spans();
    report(
        "apply (the plan above)",
        out.status,
        &format!("{out}"),
        &calls,
        &spans,
    );
    run_steps(vec![
        ("status", vec!["status", "--output", "json"]),
        ("history", vec!["history"]),
        ("promote", vec!["promote"]),
        ("approve", vec!["approve", "--by", "someone"]),
        ("rollback", vec!["rollback"]),
        ("rollback (back)", vec!["rollback"]),
    ]);
}
