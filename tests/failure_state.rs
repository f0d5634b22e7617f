//! End-to-end (issue 12, items 2, 7 and 10): reports never claim what they could not read, and a
//! missing Terraform state is never taken for an empty environment. The real binary, real
//! Terraform and the emulator modules; what happened is read from the emulator with the SDK or
//! boto3 and from the work directory's files, never through bluegreen's adapters.
//!
//! One emulator and one deployed environment (`local`, all traffic on blue) are shared by every
//! test of this file: the tests take it in turn (a mutex) and leave it as they found it. The
//! last test to finish stops the emulator; when a filter runs only some of them, the emulator's
//! watchdog ends it with the test process.

mod common;

use common::{
    assert_unchanged, files, state_snapshot, Bluegreen, EnvWorld, FaultProxy, Outcome, FAST,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";

/// The same environment with its Terraform state kept elsewhere (`state.separation` switched):
/// the journal is the same (it lives under the work directory's `local/`), the state is empty.
const SWITCHED: &str = r#"state {
  separation   = "backend_key"
  key_template = "bluegreen/{env}/{stack}.tfstate"
}
"#;

/// The number of `#[test]`s below: the last one to finish stops the shared emulator.
const TESTS: usize = 6;
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static WORLD: Mutex<Option<EnvWorld>> = Mutex::new(None);

/// The shared world, held for one test.
struct World {
    guard: MutexGuard<'static, Option<EnvWorld>>,
    /// The environment with `SWITCHED` state settings, same name, same work directory.
    switched: PathBuf,
}

impl std::ops::Deref for World {
    type Target = EnvWorld;
    fn deref(&self) -> &EnvWorld {
        self.guard.as_ref().expect("the world was started")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == TESTS {
            self.guard.take();
        }
    }
}

/// Starts the emulator and deploys V1 (all traffic on blue) the first time; then hands the
/// same world to each test in turn.
fn world() -> World {
    // A test that failed while holding the world leaves it usable for the others.
    let mut guard = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let w = EnvWorld::start(FAST, "failure-state");
        let out = w.cmd(&["deploy"], &["--image", V1]).run();
        out.assert_code(0);
        assert_eq!(w.prod(), (100, 0));
        *guard = Some(w);
    }
    let w = guard.as_ref().unwrap();
    let parent = w.envs.path().join("switched");
    let switched = common::local_env(&parent, 2, &format!("{FAST}{SWITCHED}"));
    World { guard, switched }
}

impl World {
    /// `bluegreen <cmd> --env <the switched environment> <rest…>`, same work directory.
    fn switched(&self, cmd: &[&str], rest: &[&str]) -> Bluegreen {
        self.bg()
            .args(cmd)
            .args(["--env", self.switched.to_str().unwrap()])
            .args(rest)
    }

    /// `bluegreen <cmd> --env <env> <rest…>` with a fresh, empty work directory `work`.
    fn fresh(&self, work: &Path, cmd: &[&str], rest: &[&str]) -> Bluegreen {
        Bluegreen::new(&self.emu, work)
            .env("BLUEGREEN_USER", self.user)
            .args(cmd)
            .args(["--env", self.env.to_str().unwrap()])
            .args(rest)
    }

    /// The production routes as `status` lists them (the environment's own state).
    fn routes(&self) -> Vec<String> {
        let out = self.cmd(&["status"], &["--output", "json"]).run();
        out.assert_code(0);
        out.stdout_json()["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .map(|r| r["arn"].as_str().unwrap().to_string())
            .collect()
    }

    /// Writes (blue, green) weights to the rule `arn` behind bluegreen's back.
    fn set_rule(&self, arn: &str, (blue, green): (u16, u16)) {
        self.emu.boto3(&format!(
            r#"
import boto3
elb = boto3.client("elbv2")
tgs = {{t["TargetGroupName"]: t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]}}
elb.modify_rule(RuleArn="{arn}", Actions=[{{"Type": "forward", "ForwardConfig": {{"TargetGroups": [
    {{"TargetGroupArn": tgs["bg-local-blue"], "Weight": {blue}}},
    {{"TargetGroupArn": tgs["bg-local-green"], "Weight": {green}}}]}}}}])
"#
        ));
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The last JSON line of a `--output json` run: the result.
fn result_json(out: &Outcome) -> Value {
    out.stdout_json_lines()
        .pop()
        .unwrap_or_else(|| panic!("no result line\n{out}"))
}

/// The Terraform state under a work directory: state files and the emulator modules' records of
/// what they created, without the data directories (`tf/<stack>/data`), which are bluegreen's
/// cache of `init` (the backend it was last pointed at), not state.
fn real_state(work: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut snap = state_snapshot(work);
    snap.retain(|p, _| !p.components().any(|c| c.as_os_str() == "data"));
    snap
}

/// Copies `from` into `to` recursively (files and directories only).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn item_07_status_with_missing_state_says_unknown() {
    let w = world();

    // A fresh work directory against the live environment (the issue's reproduction): no
    // state, no local journal. Status cannot find the ALB: unknown, exit 4, never "none".
    let fresh = common::temp_workdir();
    let out = w
        .fresh(fresh.path(), &["status"], &["--output", "json"])
        .run();
    out.assert_code(4);
    let s = out.stdout_json();
    assert_eq!(s["traffic"], "unknown", "{s:#}");
    assert_eq!(s["live_color"], Value::Null, "{s:#}");
    let why = s["unknown"][0].as_str().unwrap_or_default();
    assert!(why.contains("no Terraform state"), "{s:#}");
    assert!(why.contains("workspace `local-shared`"), "{s:#}");
    let out = w.fresh(fresh.path(), &["status"], &[]).run();
    out.assert_code(4);
    assert!(out.stdout.contains("live color:  UNKNOWN"), "{out}");
    assert!(!out.stdout.contains("live color:  none"), "{out}");
    assert!(
        out.stderr.contains("--work-dir"),
        "the fix names the flag\n{out}"
    );
    // Reading created no state where there was none.
    assert!(real_state(fresh.path()).is_empty());

    // The state kept elsewhere (`state.separation` switched), the journal still here: the
    // report says the state is missing, not that nothing was deployed.
    let out = w.switched(&["status"], &["--output", "json"]).run();
    out.assert_code(4);
    let s = out.stdout_json();
    assert_eq!(s["traffic"], "unknown", "{s:#}");
    let why = s["unknown"][0].as_str().unwrap_or_default();
    assert!(why.contains("records 1 deployment(s)"), "{s:#}");
    assert!(why.contains("bluegreen_local_shared.tfstate"), "{s:#}");

    // With its own state, the same environment reads as it is.
    let out = w.cmd(&["status"], &["--output", "json"]).run();
    out.assert_code(0);
    let s = out.stdout_json();
    assert_eq!(
        (&s["live_color"], &s["traffic"]),
        (&Value::from("blue"), &Value::from("single")),
        "{s:#}"
    );
}

#[test]
fn item_07_deploy_with_missing_state_refuses_not_first_deploy() {
    let w = world();
    let aws_before = w.emu.snapshot();
    let state_before = real_state(w.work.path());
    let deployments = w.journal_dir().join("deployments");
    let journal_before = files(&deployments);
    assert_eq!(journal_before.len(), 1, "the first deploy's journal");
    let unchanged = |what: &str, out: &Outcome| {
        assert_unchanged(&aws_before, &w.emu.snapshot());
        assert_eq!(
            state_before,
            real_state(w.work.path()),
            "{what} wrote Terraform state\n{out}"
        );
        assert_eq!(
            journal_before,
            files(&deployments),
            "{what} wrote to the journal\n{out}"
        );
    };
    let says_missing = |out: &Outcome| {
        for needle in [
            "records 1 deployment(s)",
            "no Terraform state",
            "bluegreen_local_shared.tfstate",
            "--work-dir",
            "`state` block",
        ] {
            assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
        }
    };

    // The issue's reproduction: `state.separation` switched, the journal knows the
    // environment. Not a first deploy: refused, nothing applied, nothing journaled.
    let out = w.switched(&["deploy"], &["--image", V2]).run();
    out.assert_code(7);
    says_missing(&out);
    assert!(out.stderr.contains("not a first deploy"), "{out}");
    assert!(
        !out.stderr.contains("provisioning it (first deploy)"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("[shared]"),
        "no Terraform plan or apply of the shared stack\n{out}"
    );
    unchanged("deploy", &out);

    // `plan` and `rebuild` refuse the same way.
    let plans = tempfile::tempdir().unwrap();
    let artifact = plans.path().join("plan.json");
    let out = w
        .switched(
            &["plan"],
            &["--image", V2, "--out", artifact.to_str().unwrap()],
        )
        .run();
    out.assert_code(7);
    says_missing(&out);
    assert!(!artifact.exists(), "a plan was written\n{out}");
    unchanged("plan", &out);
    let out = w.switched(&["rebuild"], &[]).run();
    out.assert_code(7);
    says_missing(&out);
    unchanged("rebuild", &out);

    // The environment itself is untouched and still deploys from its own state.
    assert_eq!(w.prod(), (100, 0));
}

#[test]
fn item_07_drift_with_missing_state_is_not_clean() {
    let w = world();
    // A fresh work directory: nothing to compare with is not "no drift".
    let fresh = common::temp_workdir();
    let out = w
        .fresh(fresh.path(), &["drift"], &["--output", "json"])
        .run();
    out.assert_code(4);
    let r = result_json(&out);
    assert_eq!(r["result"], "unknown", "{r:#}");
    assert_eq!(r["clean"], false, "{r:#}");
    assert_eq!(r["stacks"][0]["status"], "no-state", "{r:#}");
    assert_eq!(r["runtime_status"], "unknown", "{r:#}");
    let out = w.fresh(fresh.path(), &["drift"], &[]).run();
    out.assert_code(4);
    assert!(!out.stdout.contains("no drift"), "{out}");
    assert!(!out.stdout.contains("AWS matches the journal"), "{out}");
    assert!(out.stdout.contains("UNKNOWN"), "{out}");

    // The state switched away, the journal here: it says the state is missing.
    let out = w.switched(&["drift"], &["--output", "json"]).run();
    out.assert_code(4);
    let r = result_json(&out);
    assert_eq!(r["result"], "unknown", "{r:#}");
    let errors = r["errors"].to_string();
    assert!(errors.contains("records 1 deployment(s)"), "{r:#}");
    assert!(errors.contains("no Terraform state"), "{r:#}");
}

#[test]
fn item_10_drift_read_failure_is_not_no_drift() {
    let w = world();
    let proxy = FaultProxy::start(&w.emu.endpoint());
    proxy.fail("DescribeListeners", 500, None);
    let out = w
        .cmd(&["drift"], &["--output", "json"])
        .endpoint(proxy.url())
        .run();
    out.assert_code(4);
    assert!(proxy.count("DescribeListeners") > 0, "the fault was hit");
    let r = result_json(&out);
    assert_eq!(r["result"], "unknown", "{r:#}");
    assert_eq!(r["clean"], false, "{r:#}");
    assert_eq!(r["runtime_status"], "unknown", "{r:#}");
    assert!(
        r["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{r:#}"
    );
    // Terraform's layer was checked and is clean; only the runtime layer is unknown.
    let stacks: Vec<&str> = r["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(stacks[0], "no-drift", "{r:#}");

    let out = w.cmd(&["drift"], &[]).endpoint(proxy.url()).run();
    out.assert_code(4);
    assert!(!out.stdout.contains("AWS matches the journal"), "{out}");
    assert!(!out.stdout.contains("no drift"), "{out}");
    assert!(out.stdout.contains("[runtime] UNKNOWN"), "{out}");
    let headline = out.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(headline.starts_with("UNKNOWN"), "{out}");

    // Without the fault the same check is clean.
    let out = w.cmd(&["drift"], &["--output", "json"]).run();
    out.assert_code(0);
    assert_eq!(result_json(&out)["result"], "no-drift");
}

#[test]
fn item_10_status_unreadable_lock_is_not_free() {
    let w = world();
    // A copy of the environment's state and journal in another work directory, where the
    // journal directory is then made unreadable — for root too: its `.mutex`, which every read
    // of the local backend locks, is a directory. The lock file exists: a live deploy's.
    let work = common::temp_workdir();
    let (from, to) = (w.work.path().join("local"), work.path().join("local"));
    copy_dir(&from.join("state"), &to.join("state"));
    copy_dir(&from.join("journal"), &to.join("journal"));
    let journal = to.join("journal");
    let lock = serde_json::json!({
        "schema": 1,
        "holder": {"user": "ci", "host": "build-7.example.com", "pid": 4242,
                   "command": "deploy", "deployment": "20000101T000000Z-f00d"},
        "taken_ms": now_ms(), "expires_ms": now_ms() + 3_600_000,
    });
    std::fs::write(journal.join("lock.json"), lock.to_string()).unwrap();
    let _ = std::fs::remove_file(journal.join(".mutex"));
    std::fs::create_dir(journal.join(".mutex")).unwrap();

    let out = w
        .fresh(work.path(), &["status"], &["--output", "json"])
        .run();
    out.assert_code(4);
    let s = out.stdout_json();
    assert_eq!(s["lock_state"], "unknown", "{s:#}");
    assert!(
        s["lock_error"]
            .as_str()
            .unwrap_or_default()
            .contains(".mutex"),
        "{s:#}"
    );
    // What AWS says is still reported.
    assert_eq!(s["live_color"], "blue", "{s:#}");
    let out = w.fresh(work.path(), &["status"], &[]).run();
    out.assert_code(4);
    assert!(!out.stdout.contains("lock:        free"), "{out}");
    assert!(out.stdout.contains("lock:        unknown ("), "{out}");

    // Readable again, the same status names the holder.
    std::fs::remove_dir(journal.join(".mutex")).unwrap();
    let out = w
        .fresh(work.path(), &["status"], &["--output", "json"])
        .run();
    out.assert_code(0);
    let s = out.stdout_json();
    assert_eq!(s["lock_state"], "held", "{s:#}");
    assert_eq!(s["lock"]["holder"]["pid"], 4242, "{s:#}");
}

#[test]
fn item_02_status_reports_split_routes() {
    let w = world();
    let routes = w.routes();
    assert!(
        routes.len() >= 3,
        "listener + extra listener + rule: {routes:?}"
    );
    let rule = routes
        .iter()
        .find(|r| r.contains(":listener-rule/"))
        .expect("the /api/* rule is a production route")
        .clone();

    // A partial restore: the listeners on blue, the rule still at 20/80.
    w.set_rule(&rule, (20, 80));
    let restore = Restore { w: &w, rule: &rule };
    let out = w.cmd(&["status"], &["--output", "json"]).run();
    out.assert_code(0);
    let s = out.stdout_json();
    assert_eq!(s["live_color"], Value::Null, "{s:#}");
    assert_eq!(s["traffic"], "split", "{s:#}");
    let listed: Vec<(&str, (u64, u64))> = s["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let w = &r["weights"];
            (
                r["arn"].as_str().unwrap(),
                (w["blue"].as_u64().unwrap(), w["green"].as_u64().unwrap()),
            )
        })
        .collect();
    for (arn, weights) in &listed {
        let want = if *arn == rule { (20, 80) } else { (100, 0) };
        assert_eq!(*weights, want, "{arn}: {s:#}");
    }
    assert_eq!(listed.len(), routes.len(), "{s:#}");

    let out = w.cmd(&["status"], &[]).run();
    out.assert_code(0);
    assert!(!out.stdout.contains("live color:  blue"), "{out}");
    assert!(out.stdout.contains("SPLIT"), "{out}");
    assert!(
        out.stdout
            .contains(&format!("{rule} reads blue 20 / green 80")),
        "{out}"
    );
    assert!(
        out.stdout
            .contains(&format!("{} reads blue 100 / green 0", routes[0])),
        "every route is listed, the listener too\n{out}"
    );
    drop(restore);
    let out = w.cmd(&["status"], &["--output", "json"]).run();
    assert_eq!(out.stdout_json()["traffic"], "single");
}

/// Puts the rule back on blue when the split test ends, passed or not.
struct Restore<'a> {
    w: &'a World,
    rule: &'a str,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.w.set_rule(self.rule, (100, 0));
    }
}
