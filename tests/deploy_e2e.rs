//! End-to-end: the real `bluegreen` binary, real Terraform, the emulator modules, and a private
//! moto server per test. What the tests assert is read back from the emulator with the AWS SDK
//! directly (tests/common), never through bluegreen's own adapters.

mod common;

use common::{assert_unchanged, state_snapshot, Bluegreen, Emulator, FaultProxy};
use serde_json::Value;
use std::path::{Path, PathBuf};

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";
const LB: &str = "bg-local-alb"; // bg-<environment>-alb, environment `local`
const CLUSTER: &str = "bg-local";

/// (blue, green) weights of the production listener, read from the emulator.
fn prod_weights(emu: &Emulator) -> (i32, i32) {
    let snap = emu.snapshot();
    let tg = |name: &str| {
        snap.target_groups
            .values()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("target group {name} exists"))
            .arn
            .clone()
    };
    let listener = emu
        .find_listener_by_port(LB, 80)
        .expect("production listener");
    let w = listener.weights();
    let get = |arn: &str| w.get(arn).copied().unwrap_or(0);
    (get(&tg("bg-local-blue")), get(&tg("bg-local-green")))
}

fn service_image(emu: &Emulator, color: &str) -> String {
    let svc = emu.describe_service(CLUSTER, &format!("bg-local-{color}"));
    emu.task_definition_image(svc.task_definition.as_deref().expect("task definition"))
}

fn last_json(out: &common::Outcome) -> Value {
    out.stdout_json_lines().pop().expect("a JSON result line")
}

fn status_json(bg: impl Fn() -> Bluegreen) -> Value {
    let out = bg()
        .args(["status", "--env", "local", "--output", "json"])
        .run();
    out.assert_code(0);
    out.stdout_json()
}

#[test]
fn first_deploy_second_deploy_same_image_rollback_and_force() {
    let emu = Emulator::start();
    let work = common::temp_workdir();
    let bg = || Bluegreen::new(&emu, work.path());
    let repo_files = || {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        [
            list_files(&repo.join("modules")),
            list_files(&repo.join("environments")),
        ]
        .concat()
    };
    let repo_before = repo_files();

    // Before anything is deployed the shared stack has no Terraform state: status cannot tell
    // an empty environment from state kept elsewhere, so it says `unknown` and exits 4.
    let out = bg()
        .args(["status", "--env", "local", "--output", "json"])
        .run();
    out.assert_code(4);
    let s = out.stdout_json();
    assert_eq!(s["live_color"], Value::Null);
    assert_eq!(s["traffic"], "unknown");

    // First deploy into an empty environment: shared stack + blue, all traffic on blue.
    let out = bg()
        .args([
            "deploy", "--env", "local", "--image", V1, "--output", "json",
        ])
        .run();
    out.assert_code(0);
    let r = last_json(&out);
    assert_eq!(r["outcome"], "deployed");
    assert_eq!(r["live_color"], "blue");
    assert_eq!(prod_weights(&emu), (100, 0));
    assert_eq!(service_image(&emu, "blue"), V1);
    let blue = emu.describe_service(CLUSTER, "bg-local-blue");
    assert_eq!((blue.desired, blue.running), (2, 2));

    // status --output json is what the ALB says.
    let s = status_json(bg);
    assert_eq!(s["live_color"], "blue");
    assert_eq!(s["weights"], serde_json::json!({"blue": 100, "green": 0}));

    // Second deploy goes to the other color, which runs the new image, through the local
    // environment's canary; after the termination wait blue is scaled to zero (still
    // provisioned, still running V1's task definition).
    let out = bg().args(["deploy", "--env", "local", "--image", V2]).run();
    out.assert_code(0);
    assert!(
        out.stderr.contains("strategy canary: 20% for 3s → 100%"),
        "{}",
        out.stderr
    );
    assert_eq!(prod_weights(&emu), (0, 100));
    assert_eq!(service_image(&emu, "green"), V2);
    assert_eq!(service_image(&emu, "blue"), V1);
    assert_eq!(emu.describe_service(CLUSTER, "bg-local-blue").desired, 0);
    let s = status_json(bg);
    assert_eq!(s["live_color"], "green");
    assert_eq!(s["weights"], serde_json::json!({"blue": 0, "green": 100}));
    // The test listener follows the new color too.
    let test_listener = emu.find_listener_by_port(LB, 8080).expect("test listener");
    assert_eq!(test_listener.weights().values().copied().max(), Some(100));

    // Deploying the live image again is a no-op: nothing changes anywhere.
    let aws_before = emu.snapshot();
    let state_before = state_snapshot(work.path());
    let out = bg()
        .args([
            "deploy", "--env", "local", "--image", V2, "--output", "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(last_json(&out)["outcome"], "already_live");
    assert_unchanged(&aws_before, &emu.snapshot());
    assert_eq!(state_before, state_snapshot(work.path()));

    // Rollback after the termination wait: blue is scaled back up, checked, and then gets all
    // traffic in one listener change, verified.
    let out = bg().args(["rollback", "--env", "local"]).run();
    out.assert_code(0);
    assert!(
        out.stderr.contains("blue was scaled to 0"),
        "{}",
        out.stderr
    );
    assert_eq!(prod_weights(&emu), (100, 0));
    assert_eq!(emu.describe_service(CLUSTER, "bg-local-blue").desired, 2);
    assert_eq!(status_json(bg)["live_color"], "blue");

    // --force redeploys the live image onto the idle color: green's service is updated in
    // place (same ARN, new task definition revision) and takes the traffic.
    let green_before = emu.describe_service(CLUSTER, "bg-local-green");
    let out = bg()
        .args(["deploy", "--env", "local", "--image", V1, "--force"])
        .run();
    out.assert_code(0);
    let green_after = emu.describe_service(CLUSTER, "bg-local-green");
    assert_eq!(green_before.arn, green_after.arn);
    assert_ne!(green_before.task_definition, green_after.task_definition);
    assert_eq!(service_image(&emu, "green"), V1);
    assert_eq!(prod_weights(&emu), (0, 100));

    // Nothing was written into modules/ or environments/ at run time.
    assert_eq!(repo_before, repo_files());
}

/// An environment directory named `local` in a temp dir with `desired` tasks, fast polling and
/// `extra` appended.
fn temp_env(parent: &Path, desired: u32, health_timeout: &str, extra: &str) -> PathBuf {
    let blocks = format!(
        "health {{\n  timeout       = \"{health_timeout}\"\n  poll_interval = \"200ms\"\n}}\n\
         traffic {{ verify_timeout = \"5s\" }}\n{extra}"
    );
    common::local_env(parent, desired, &blocks)
}

#[test]
fn bad_input_exits_2_and_changes_nothing() {
    let emu = Emulator::start();
    let work = common::temp_workdir();
    let bg = || Bluegreen::new(&emu, work.path());
    bg().args(["deploy", "--env", "local", "--image", V1])
        .run()
        .assert_code(0);

    let aws_before = emu.snapshot();
    let state_before = state_snapshot(work.path());
    let files_before = list_files(work.path());

    let tmp = tempfile::tempdir().unwrap();
    let malformed = temp_env(&tmp.path().join("malformed"), 2, "10s", "traffic {");
    let unknown_key = temp_env(&tmp.path().join("unknown"), 2, "10s", "regon = \"x\"");
    let wrong_type = temp_env(&tmp.path().join("wrongtype"), 2, "10s", "");
    let text = std::fs::read_to_string(wrong_type.join("bluegreen.hcl")).unwrap();
    std::fs::write(
        wrong_type.join("bluegreen.hcl"),
        text.replace("desired_count = 2", "desired_count = \"two\""),
    )
    .unwrap();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (deploy_args(&malformed, V2), "bluegreen.hcl:"),
        (deploy_args(&unknown_key, V2), "regon"),
        (deploy_args(&wrong_type, V2), "desired_count"),
        (
            vec![
                "deploy".into(),
                "--env".into(),
                "no-such-env".into(),
                "--image".into(),
                V2.into(),
            ],
            "no-such-env",
        ),
        (
            vec![
                "deploy".into(),
                "--env".into(),
                "local".into(),
                "--image".into(),
                "Not A Valid:ref".into(),
            ],
            "--image",
        ),
        (
            vec![
                "deploy".into(),
                "--env".into(),
                "local".into(),
                "--image".into(),
                "app;rm -rf /".into(),
            ],
            "--image",
        ),
        (
            vec![
                "rollback".into(),
                "--env".into(),
                "local".into(),
                "--to".into(),
                "red".into(),
            ],
            "red",
        ),
        (
            vec![
                "status".into(),
                "--env".into(),
                malformed.display().to_string(),
            ],
            "bluegreen.hcl:",
        ),
    ];
    for (args, needle) in cases {
        let out = bg().args(&args).run();
        out.assert_code(2);
        assert!(
            out.stderr.contains(needle),
            "{args:?}: stderr should mention {needle:?}:\n{}",
            out.stderr
        );
        assert_unchanged(&aws_before, &emu.snapshot());
        assert_eq!(
            state_before,
            state_snapshot(work.path()),
            "{args:?} changed terraform state"
        );
        assert_eq!(
            files_before,
            list_files(work.path()),
            "{args:?} wrote into the work dir"
        );
    }
    // The file errors name the line of the problem.
    let out = bg().args(deploy_args(&unknown_key, V2)).run();
    assert!(out.stderr.contains("bluegreen.hcl:16:"), "{}", out.stderr);
}

#[test]
fn a_color_that_never_gets_healthy_never_gets_traffic() {
    let emu = Emulator::start();
    let work = common::temp_workdir();
    let bg = || Bluegreen::new(&emu, work.path());
    let tmp = tempfile::tempdir().unwrap();
    let good = temp_env(&tmp.path().join("good"), 2, "10s", "");
    bg().args(deploy_args(&good, V1)).run().assert_code(0);
    assert_eq!(prod_weights(&emu), (100, 0));

    // The emulator registers one target per running task, as ECS does (the launcher's
    // ecs-registers-service-targets); the fault proxy in front of it reports every target of
    // green's target group as failing its health check, so green can never be healthy.
    let green_tg = emu
        .snapshot()
        .target_groups
        .values()
        .find(|t| t.name == "bg-local-green")
        .expect("target group bg-local-green")
        .arn
        .clone();
    let proxy = FaultProxy::start(&emu.endpoint());
    proxy.unhealthy_targets(Some(&green_tg));
    let sick = temp_env(&tmp.path().join("sick"), 3, "2s", "");
    let out = bg()
        .endpoint(proxy.url())
        .args(deploy_args(&sick, V2))
        .run();
    out.assert_code(5);
    assert!(out.stderr.contains("target-health"), "{}", out.stderr);
    assert!(
        out.stderr.contains("0/3 targets healthy, want ≥ 3"),
        "{}",
        out.stderr
    );
    assert_eq!(
        prod_weights(&emu),
        (100, 0),
        "production must not have moved"
    );
    let s = status_json(|| {
        bg().args([
            "--environments-dir",
            tmp.path().join("good").to_str().unwrap(),
        ])
    });
    assert_eq!(s["live_color"], "blue");
}

fn deploy_args(env_dir: &Path, image: &str) -> Vec<String> {
    vec![
        "deploy".into(),
        "--env".into(),
        env_dir.display().to_string(),
        "--image".into(),
        image.into(),
    ]
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
