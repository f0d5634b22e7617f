//! End-to-end: plan-then-deploy with the real binary, real Terraform and a private moto per
//! test. `plan` changes nothing; `apply` carries out exactly the artifact (its schedule, its
//! image digest, its Terraform plan) and refuses a modified or stale one with nothing changed;
//! ECR tags resolve to digests; the approval gate stops a deploy (exit 10) until `approve`;
//! `--until` stops at a checkpoint with exit 0 and `resume` continues.

mod common;

use common::{assert_unchanged, files, journal_records, wait_exit};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";
const V3: &str = "public.ecr.aws/nginx/nginx:1.29";
const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const CLUSTER: &str = "bg-local";

fn fast(extra: &str) -> String {
    format!(
        r#"health {{
  timeout       = "20s"
  poll_interval = "200ms"
}}
traffic {{ verify_timeout = "5s" }}
strategy {{
  type    = "canary"
  percent = 20
  bake    = "400ms"
}}
promotion {{
  bake             = "200ms"
  termination_wait = "0s"
  old_color        = "scale-down"
}}
{extra}
"#
    )
}

struct World {
    w: common::EnvWorld,
    out: tempfile::TempDir,
}

impl std::ops::Deref for World {
    type Target = common::EnvWorld;
    fn deref(&self) -> &common::EnvWorld {
        &self.w
    }
}

impl World {
    /// An empty environment.
    fn empty(extra: &str) -> World {
        World {
            w: common::EnvWorld::start(&fast(extra), "plan-test"),
            out: tempfile::tempdir().unwrap(),
        }
    }

    /// An environment with blue live on V1.
    fn new(extra: &str) -> World {
        let w = World::empty(extra);
        w.cmd(&["deploy"], &["--image", V1]).run().assert_code(0);
        assert_eq!(w.prod(), (100, 0));
        w
    }

    fn artifact(&self, name: &str) -> PathBuf {
        self.out.path().join(name)
    }

    /// `plan --image IMAGE --out FILE [rest]`, which must succeed; returns its JSON result.
    fn plan(&self, image: &str, file: &Path, rest: &[&str]) -> Value {
        let mut args = vec!["--image", image, "--out", file.to_str().unwrap()];
        args.extend_from_slice(rest);
        args.extend_from_slice(&["--output", "json"]);
        let out = self.cmd(&["plan"], &args).run();
        out.assert_code(0);
        out.stdout_json_lines().pop().unwrap()
    }

    fn apply(&self, file: &Path, rest: &[&str]) -> common::Outcome {
        self.bg()
            .args(["apply", file.to_str().unwrap()])
            .args(["--env", self.env.to_str().unwrap()])
            .args(rest)
            .run()
    }

    /// The image a color's ECS service runs, from the emulator.
    fn image_of(&self, color: &str) -> String {
        let svc = self
            .emu
            .describe_service(CLUSTER, &format!("bg-local-{color}"));
        self.emu
            .task_definition_image(svc.task_definition.as_deref().expect("a task definition"))
    }

    /// The entries of the newest deployment's journal.
    fn newest_journal(&self) -> Vec<Value> {
        let id = self.journal_ids().pop().expect("a journal");
        entries(&self.journal_file(&id))
    }

    /// Every file of the Terraform states and the journal, for "nothing changed".
    fn state_files(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut all = files(&self.journal_dir());
        all.extend(files(&self.work.path().join("local").join("state")));
        all
    }

    /// Creates ECR repository `app` and pushes a manifest as `tag`; returns its digest.
    fn push(&self, tag: &str, marker: &str) -> String {
        self.emu
            .boto3(&format!(
                r#"
import boto3, json
ecr = boto3.client("ecr")
try:
    ecr.create_repository(repositoryName="app")
except ecr.exceptions.RepositoryAlreadyExistsException:
    pass
manifest = json.dumps({{
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
               "digest": "sha256:{marker}"}},
    "layers": [{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1024, "digest": "sha256:{marker}"}}]
}})
out = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="{tag}")
print(out["image"]["imageId"]["imageDigest"])
"#,
                marker = marker.repeat(64 / marker.len())
            ))
            .trim()
            .to_string()
    }
}

/// A journal's entries (each record's `entry`).
fn entries(path: &Path) -> Vec<Value> {
    journal_records(path)
        .into_iter()
        .map(|r| r["entry"].clone())
        .collect()
}

fn steps_of(records: &[Value]) -> Value {
    records[0]["steps"].clone()
}

fn verified(records: &[Value]) -> Vec<(u64, u64)> {
    records
        .iter()
        .filter(|r| r["type"] == "weights-verified")
        .map(|r| {
            (
                r["weights"]["blue"].as_u64().unwrap(),
                r["weights"]["green"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn plan_changes_nothing_and_apply_runs_exactly_the_plan_once() {
    let w = World::new("");
    let file = w.artifact("v2.plan.json");
    let aws = w.emu.snapshot();
    let state = w.state_files();
    let result = w.plan(V2, &file, &["--strategy", "steps:30@500ms,100"]);

    // Nothing on AWS, in the Terraform states of the applied stacks or in the journal moved.
    assert_unchanged(&aws, &w.emu.snapshot());
    let after = w.state_files();
    for (path, bytes) in &state {
        assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
    }
    let plan = &result["plan"];
    assert_eq!(result["outcome"], "planned");
    assert_eq!(plan["live_color"], "blue");
    assert_eq!(plan["idle_color"], "green");
    assert_eq!(plan["schedule_text"], "30% for 500ms → 100%");
    assert_eq!(plan["image"]["pinned"], V2);
    assert!(plan["terraform"]["add"].as_u64().unwrap() > 0, "{plan}");
    assert!(
        plan["states"]["shared"]["serial"].as_u64().is_some(),
        "{plan}"
    );
    assert!(plan["worst_case_ms"].as_u64().unwrap() > 0);
    assert_eq!(plan["routes"].as_array().unwrap().len(), 3, "{plan}");
    // The checksum printed is the one in the file.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(result["checksum"].as_str().unwrap()));

    // One byte changed anywhere → refused, nothing changed.
    let bytes = std::fs::read(&file).unwrap();
    for at in [10, bytes.len() / 2, bytes.len() - 3] {
        let mut bad = bytes.clone();
        bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
        let tampered = w.artifact("tampered.json");
        std::fs::write(&tampered, &bad).unwrap();
        let out = w.apply(&tampered, &[]);
        out.assert_code(2);
        assert!(out.stderr.contains("tampered.json"), "{}", out.stderr);
        assert_unchanged(&aws, &w.emu.snapshot());
        assert_eq!(w.state_files(), after);
    }

    // Apply: exactly the planned schedule (not the environment's canary), the planned image.
    let out = w.apply(&file, &["--output", "json"]);
    out.assert_code(0);
    assert_eq!(w.prod(), (0, 100));
    assert_eq!(w.image_of("green"), V2);
    let records = w.newest_journal();
    assert_eq!(records[0]["type"], "started");
    assert_eq!(records[0]["plan_artifact"], result["checksum"]);
    assert_eq!(
        steps_of(&records),
        serde_json::json!([
            {"kind": "weight", "percent": 30, "bake_ms": 500},
            {"kind": "weight", "percent": 100, "bake_ms": 0}
        ])
    );
    assert_eq!(verified(&records), vec![(70, 30), (0, 100)]);
    assert_eq!(records.last().unwrap()["outcome"], "deployed");

    // The same plan again: another deployment ran since, the weights and states moved.
    let aws = w.emu.snapshot();
    let state = w.state_files();
    let out = w.apply(&file, &[]);
    out.assert_code(7);
    assert!(out.stderr.contains("is stale"), "{}", out.stderr);
    assert!(
        out.stderr.contains("another deployment ran"),
        "{}",
        out.stderr
    );
    assert_unchanged(&aws, &w.emu.snapshot());
    assert_eq!(w.state_files(), state);
}

#[test]
fn a_plan_is_refused_after_another_deploy_or_when_the_state_moved() {
    let w = World::new("");
    // Plan V2, then someone deploys V3: the old plan must not run.
    let old = w.artifact("old.json");
    w.plan(V2, &old, &[]);
    w.cmd(&["deploy"], &["--image", V3]).run().assert_code(0);
    assert_eq!(w.prod(), (0, 100));
    let aws = w.emu.snapshot();
    let state = w.state_files();
    let out = w.apply(&old, &[]);
    out.assert_code(7);
    for what in [
        "another deployment ran",
        "production traffic moved",
        "nothing was changed",
        "bluegreen plan --env",
    ] {
        assert!(out.stderr.contains(what), "{what}: {}", out.stderr);
    }
    assert_unchanged(&aws, &w.emu.snapshot());
    assert_eq!(w.state_files(), state);

    // A fresh plan made against state serial N; then the idle color's state moves to N+1
    // (someone ran Terraform by hand): refused, nothing changed.
    let fresh = w.artifact("fresh.json");
    let result = w.plan(V2, &fresh, &[]);
    let idle_state = &result["plan"]["states"]["idle"];
    let serial = idle_state["serial"]
        .as_u64()
        .expect("the idle color has state");
    let lineage = idle_state["lineage"].as_str().unwrap();
    let state_file = files(&w.work.path().join("local").join("state"))
        .into_iter()
        .find(|(p, b)| {
            p.to_string_lossy().contains("local-blue")
                && String::from_utf8_lossy(b).contains(lineage)
        })
        .map(|(p, _)| p)
        .expect("the idle (blue) color's state file");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    doc["serial"] = Value::from(serial + 1);
    std::fs::write(&state_file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let aws = w.emu.snapshot();
    let state = w.state_files();
    let out = w.apply(&fresh, &[]);
    out.assert_code(7);
    let expected = format!(
        "the idle stack's Terraform state moved: planned against serial {serial} lineage {lineage}, now serial {}",
        serial + 1
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert!(!out.stderr.contains("another deployment"), "{}", out.stderr);
    assert_unchanged(&aws, &w.emu.snapshot());
    assert_eq!(w.state_files(), state);
}

#[test]
fn ecr_tags_are_pinned_to_digests_and_a_missing_tag_changes_nothing() {
    let w = World::new("");
    let d1 = w.push("v1", "a1");
    assert!(d1.starts_with("sha256:"), "{d1}");
    let tagged = format!("{ECR}/app:v1");

    // A tag that does not exist: bad input, from plan and from deploy; nothing changed.
    let aws = w.emu.snapshot();
    let state = w.state_files();
    let missing = format!("{ECR}/app:nope");
    let file = w.artifact("missing.json");
    let out = w
        .cmd(
            &["plan"],
            &["--image", &missing, "--out", file.to_str().unwrap()],
        )
        .run();
    out.assert_code(2);
    assert!(out.stderr.contains("nope"), "{}", out.stderr);
    assert!(!file.exists());
    let out = w.cmd(&["deploy"], &["--image", &missing]).run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("nope") && out.stderr.contains("fix:"),
        "{}",
        out.stderr
    );
    let out = w
        .cmd(&["deploy"], &["--image", &format!("{ECR}/ghost:v1")])
        .run();
    out.assert_code(2);
    assert_unchanged(&aws, &w.emu.snapshot());
    assert_eq!(w.state_files(), state);

    // Plan by tag; the tag is re-pushed and the old image deleted with it (moto deletes an
    // image whose only tag moves): apply refuses, the reviewed image is gone.
    let file = w.artifact("ecr-gone.json");
    let result = w.plan(&tagged, &file, &[]);
    assert_eq!(
        result["plan"]["image"]["pinned"],
        format!("{ECR}/app@{d1}").as_str()
    );
    let d0 = w.push("v1", "c3");
    assert_ne!(d0, d1);
    let aws = w.emu.snapshot();
    let out = w.apply(&file, &[]);
    out.assert_code(7);
    assert!(out.stderr.contains("no longer in ECR"), "{}", out.stderr);
    assert_unchanged(&aws, &w.emu.snapshot());

    // Plan by tag → the artifact pins the digest; the tag is re-pushed (the old image keeps a
    // build tag, as in real ECR where it stays untagged); apply deploys the planned digest,
    // not what the tag points to now.
    let d1 = d0;
    w.push("build-7", "c3");
    let file = w.artifact("ecr.json");
    let result = w.plan(&tagged, &file, &[]);
    let pinned = format!("{ECR}/app@{d1}");
    assert_eq!(result["plan"]["image"]["pinned"], pinned.as_str());
    assert_eq!(result["plan"]["image"]["requested"], tagged.as_str());
    let d2 = w.push("v1", "b2");
    assert_ne!(d1, d2);
    w.apply(&file, &[]).assert_code(0);
    assert_eq!(w.image_of("green"), pinned);
    let records = w.newest_journal();
    assert_eq!(records[0]["image"], pinned.as_str());
    assert_eq!(records[0]["image_requested"], tagged.as_str());

    // deploy by tag now takes the new digest.
    w.cmd(&["deploy"], &["--image", &tagged])
        .run()
        .assert_code(0);
    assert_eq!(w.image_of("blue"), format!("{ECR}/app@{d2}"));
}

#[test]
fn approval_gate_stops_until_approved_and_history_keeps_who_and_when() {
    let w = World::empty("approval {\n  required = true\n}\n");
    // A first deploy moves production traffic too: it waits at the gate like any other.
    let out = w
        .cmd(&["deploy"], &["--image", V1, "--output", "json"])
        .run();
    out.assert_code(10);
    assert!(out.stderr.contains("bluegreen approve"), "{}", out.stderr);
    let result = out.stdout_json_lines().pop().unwrap();
    assert_eq!(result["outcome"], "awaiting_approval");
    let id = result["deployment"].as_str().unwrap().to_string();
    assert_eq!(w.prod(), (0, 0));
    let status = w.cmd(&["status"], &["--output", "json"]).run();
    status.assert_code(0);
    let s = status.stdout_json_lines().pop().unwrap();
    assert_eq!(s["deployment"]["id"], id.as_str());
    assert_eq!(s["deployment"]["awaiting_approval"], true);
    let human = w.cmd(&["status"], &[]).run();
    assert!(
        human.stdout.contains("AWAITING APPROVAL"),
        "{}",
        human.stdout
    );
    // Another deploy is refused while this one waits.
    w.cmd(&["deploy"], &["--image", V3]).run().assert_code(7);

    let out = w
        .cmd(
            &["approve"],
            &["--comment", "CAB-1234 reviewed", "--output", "json"],
        )
        .run();
    out.assert_code(0);
    let a = out.stdout_json_lines().pop().unwrap();
    assert_eq!(a["deployment"], id.as_str());
    assert_eq!(a["continues"], false);
    // STS (moto) answers: the approver is the caller identity.
    let identity = a["identity"].as_str().expect("STS identity").to_string();
    assert!(identity.starts_with("arn:aws:"), "{identity}");
    // A second approve: nothing waits any more.
    w.cmd(&["approve"], &[]).run().assert_code(7);
    w.cmd(&["resume"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (100, 0));

    let h = w.history();
    let row = h["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id.as_str())
        .expect("the deployment in history")
        .clone();
    assert_eq!(row["outcome"], "deployed");
    let approvals = row["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{row}");
    assert_eq!(approvals[0]["by"], identity.as_str());
    assert_eq!(approvals[0]["comment"], "CAB-1234 reviewed");
    assert!(approvals[0]["at"].as_str().unwrap().starts_with("20"));
    let human = w.cmd(&["history"], &[]).run();
    assert!(
        human.stdout.contains("approved by") && human.stdout.contains("CAB-1234"),
        "{}",
        human.stdout
    );
}

#[test]
fn a_waiting_deploy_continues_in_process_when_approved() {
    let w = World::empty("approval {\n  required = true\n  wait     = \"60s\"\n}\n");
    // The first deploy waits too; approved from another process, it goes on by itself.
    let log0 = w.out.path().join("first.log");
    let mut first = w.cmd(&["deploy"], &["--image", V1]).spawn(&log0);
    wait_for_record(&w, "awaiting-approval", &[], &log0);
    w.cmd(&["approve"], &["--by", "bob"]).run().assert_code(0);
    assert_eq!(wait_exit(&mut first, &log0), 0);
    assert_eq!(w.prod(), (100, 0));
    let log = w.out.path().join("deploy.log");
    let before = w.journal_ids();
    let mut child = w.cmd(&["deploy"], &["--image", V2]).spawn(&log);
    let id = wait_for_record(&w, "awaiting-approval", &before, &log);
    assert_eq!(w.prod(), (100, 0));
    let out = w
        .cmd(&["approve"], &["--by", "alice", "--output", "json"])
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout_json_lines().pop().unwrap()["continues"], true);
    assert_eq!(wait_exit(&mut child, &log), 0);
    assert_eq!(w.prod(), (0, 100));
    let records = entries(&w.journal_file(&id));
    let approved = records
        .iter()
        .find(|r| r["type"] == "approved")
        .expect("approved record");
    assert_eq!(approved["by"], "alice");
    assert!(approved["identity"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:"));
    assert_eq!(records.last().unwrap()["outcome"], "deployed");
}

/// Waits until a deployment not in `before` journals a record of `kind`; returns its id.
fn wait_for_record(w: &World, kind: &str, before: &[String], log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    let needle = format!("\"type\":\"{kind}\"");
    loop {
        let new = w.journal_ids().into_iter().find(|i| !before.contains(i));
        if let Some(id) = new {
            let text = std::fs::read_to_string(w.journal_file(&id)).unwrap_or_default();
            if text.contains(&needle) {
                return id;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} record:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn until_stops_at_a_checkpoint_with_exit_0_and_resume_continues() {
    let w = World::new("");
    let out = w
        .cmd(
            &["deploy"],
            &[
                "--image",
                V2,
                "--strategy",
                "steps:25@300ms,100",
                "--until",
                "weight:25",
                "--output",
                "json",
            ],
        )
        .run();
    out.assert_code(0);
    let r = out.stdout_json_lines().pop().unwrap();
    assert_eq!(r["outcome"], "stopped");
    assert_eq!(w.prod(), (75, 25));
    let status = w.cmd(&["status"], &[]).run();
    assert!(
        status.stdout.contains("STOPPED at weight:25"),
        "{}",
        status.stdout
    );
    // A weight the schedule never stops at is bad input.
    w.cmd(&["resume"], &["--until", "weight:50"])
        .run()
        .assert_code(2);
    w.cmd(&["resume"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (0, 100));

    // test-traffic: the new color verified with test traffic only, production untouched.
    let out = w
        .cmd(&["deploy"], &["--image", V3, "--until", "test-traffic"])
        .run();
    out.assert_code(0);
    assert_eq!(w.prod(), (0, 100));
    let records = w.newest_journal();
    assert!(records.iter().any(|r| r["type"] == "settled"));
    assert_eq!(records.last().unwrap()["type"], "stopped");
    w.cmd(&["resume"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (100, 0));
    assert_eq!(w.image_of("blue"), V3);
}

/// Copies `dir` into `to` recursively.
fn copy_dir(dir: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

const SECRET: &str = "hunter2-correct-horse-battery-staple";

#[test]
fn the_plan_artifact_and_the_output_hold_no_sensitive_value() {
    // The emulator's service module plus a sensitive variable, used by a resource, and a
    // sensitive output: the saved Terraform plan holds the value in plain text.
    let w = World::empty("");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = w.out.path().join("modules");
    copy_dir(
        &repo.join("modules/emulator/service"),
        &modules.join("service"),
    );
    copy_dir(&repo.join("modules/emulator/lib"), &modules.join("lib"));
    std::fs::write(
        modules.join("service").join("secret.tf"),
        r#"variable "db_password" {
  type      = string
  sensitive = true
}

resource "terraform_data" "db_user" {
  input = { user = "app", password = var.db_password }
}

output "db_password" {
  value     = var.db_password
  sensitive = true
}
"#,
    )
    .unwrap();
    let hcl_path = w.env.join("bluegreen.hcl");
    let hcl = std::fs::read_to_string(&hcl_path).unwrap();
    let service_root = repo.join("modules/emulator/service").display().to_string();
    assert!(hcl.contains(&service_root));
    let hcl = hcl.replace(
        &format!("root          = \"{service_root}\""),
        &format!(
            "root          = \"{}\"\n  vars          = {{ db_password = \"{SECRET}\" }}",
            modules.join("service").display()
        ),
    );
    std::fs::write(&hcl_path, hcl).unwrap();
    w.cmd(&["deploy"], &["--image", V1]).run().assert_code(0);

    let file = w.artifact("secret.json");
    let out = w
        .cmd(
            &["plan"],
            &[
                "--image",
                V2,
                "--out",
                file.to_str().unwrap(),
                "--output",
                "json",
            ],
        )
        .run();
    out.assert_code(0);
    let human = w
        .cmd(
            &["plan"],
            &[
                "--image",
                V2,
                "--out",
                w.artifact("secret2.json").to_str().unwrap(),
            ],
        )
        .run();
    human.assert_code(0);
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    // The plan really carries the resource and the variable, redacted.
    assert!(text.contains("terraform_data.db_user"), "{text}");
    assert!(text.contains("db_password"));
    assert!(text.contains("(sensitive)"));
    let needles = secret_forms(SECRET);
    for (what, hay) in [
        ("the artifact", text.as_str()),
        ("plan --output json stdout", out.stdout.as_str()),
        ("plan --output json stderr", out.stderr.as_str()),
        ("plan stdout", human.stdout.as_str()),
        ("plan stderr", human.stderr.as_str()),
    ] {
        for n in &needles {
            assert!(
                !hay.contains(n.as_str()),
                "{what} holds the secret as {n:?}"
            );
        }
    }
    // The test has teeth: Terraform's own saved plan (the file `plan` sealed) holds the secret.
    let tfplan = files(&w.work.path().join("local"))
        .into_keys()
        .find(|p| {
            p.extension().is_some_and(|e| e == "tfplan") && p.to_string_lossy().contains("green")
        })
        .expect("the saved plan of green");
    let found = w.emu.boto3(&format!(
        "import zipfile\nz = zipfile.ZipFile({:?})\nprint(any({SECRET:?}.encode() in z.read(n) for n in z.namelist()))",
        tfplan.display().to_string()
    ));
    assert_eq!(
        found.trim(),
        "True",
        "the saved Terraform plan should hold the secret"
    );
    // And it still applies: the encrypted Terraform plan is intact.
    let out = w.apply(&file, &[]);
    out.assert_code(0);
    for n in &needles {
        assert!(!out.stdout.contains(n.as_str()) && !out.stderr.contains(n.as_str()));
    }
    assert_eq!(w.prod(), (0, 100));
}

/// The secret, and its base64 at each of the three alignments (a base64 of any document that
/// holds the secret uncompressed contains one of these).
fn secret_forms(secret: &str) -> Vec<String> {
    use std::fmt::Write;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b64 = |bytes: &[u8]| {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                let _ = out.write_char(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    let mut forms = vec![secret.to_string()];
    for pad in 0..3 {
        let mut bytes = vec![0u8; pad];
        bytes.extend_from_slice(secret.as_bytes());
        let enc = b64(&bytes);
        // Drop the characters the padding and the last partial group influence.
        let skip = if pad == 0 { 0 } else { 4 };
        let inner: String = enc.chars().skip(skip).collect();
        forms.push(inner.chars().take(inner.len().saturating_sub(4)).collect());
    }
    forms
}

#[test]
fn a_plan_that_replaces_a_protected_resource_is_refused_unless_allowed_and_recorded() {
    // Every redeploy of a color replaces its `terraform_data.revision` (it is keyed on the
    // image): protecting it makes the second deploy to a color unsafe.
    let w = World::new("plan_safety {\n  protected = [\"terraform_data.revision\"]\n}\n");
    w.cmd(&["deploy"], &["--image", V2]).run().assert_code(0);
    assert_eq!(w.prod(), (0, 100));
    let aws = w.emu.snapshot();
    let state = w.state_files();
    let out = w.cmd(&["deploy"], &["--image", V3]).run();
    out.assert_code(7);
    for what in ["unsafe", "terraform_data.revision", "--allow-unsafe-plan"] {
        assert!(out.stderr.contains(what), "{what}: {}", out.stderr);
    }
    assert_unchanged(&aws, &w.emu.snapshot());
    let after = w.state_files();
    for (path, bytes) in &state {
        assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
    }
    // `plan` refuses the same way, and writes nothing.
    let file = w.artifact("unsafe.json");
    let out = w
        .cmd(&["plan"], &["--image", V3, "--out", file.to_str().unwrap()])
        .run();
    out.assert_code(7);
    assert!(!file.exists());

    // Allowed: planned with the flag, the finding is in the artifact, the apply records it.
    let result = w.plan(V3, &file, &["--allow-unsafe-plan"]);
    let findings = result["plan"]["safety"]["findings"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["address"], "terraform_data.revision");
    assert_eq!(result["plan"]["safety"]["allowed"], true);
    let human = w
        .cmd(
            &["plan"],
            &[
                "--image",
                V3,
                "--out",
                w.artifact("u2.json").to_str().unwrap(),
                "--allow-unsafe-plan",
            ],
        )
        .run();
    assert!(
        human.stdout.contains("ALLOWED by --allow-unsafe-plan"),
        "{}",
        human.stdout
    );
    w.apply(&file, &[]).assert_code(0);
    assert_eq!(w.prod(), (100, 0));
    let started = &w.newest_journal()[0];
    let allowed = started["unsafe_plan_allowed"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert!(allowed[0]
        .as_str()
        .unwrap()
        .contains("terraform_data.revision"));
}

#[test]
fn a_key_from_the_environment_seals_and_opens_and_a_missing_or_wrong_key_is_bad_input() {
    let w = World::new("");
    let k1 = "11".repeat(32);
    let k2 = "22".repeat(32);
    let file = w.artifact("ci.json");
    let key_file = w.work.path().join("local").join("plan.key");
    let out = w
        .cmd(&["plan"], &["--image", V2, "--out", file.to_str().unwrap()])
        .env("BLUEGREEN_PLAN_KEY", &k1)
        .run();
    out.assert_code(0);
    assert!(
        !key_file.exists(),
        "a key from the environment writes no key file"
    );
    let aws = w.emu.snapshot();
    let state = w.state_files();

    // No key at all on the applying machine: refused, and no key is made up.
    let out = w.apply(&file, &[]);
    out.assert_code(2);
    assert!(out.stderr.contains("no plan key"), "{}", out.stderr);
    assert!(out.stderr.contains("BLUEGREEN_PLAN_KEY"), "{}", out.stderr);
    assert!(!key_file.exists());
    // Another key: refused, naming both key ids.
    let out = w
        .bg()
        .args(["apply", file.to_str().unwrap()])
        .env("BLUEGREEN_PLAN_KEY", &k2)
        .run();
    out.assert_code(2);
    assert!(out.stderr.contains("BLUEGREEN_PLAN_KEY"), "{}", out.stderr);
    assert_unchanged(&aws, &w.emu.snapshot());
    assert_eq!(w.state_files(), state);
    // A key holder who swaps in another Terraform plan (here: the shared stack's, from the
    // first deploy) gets an artifact that opens, but its plan does not read back as the body's
    // changes: refused before anything is journaled or applied.
    let body = bluegreen::artifact::inspect(&std::fs::read(&file).unwrap())
        .unwrap()
        .body;
    let other_plan = std::fs::read(w.work.path().join("local/plans/shared.tfplan")).unwrap();
    let k1_key = bluegreen::artifact::PlanKey::from_bytes([0x11; 32]);
    let forged = bluegreen::artifact::seal(&body, &other_plan, &k1_key)
        .unwrap()
        .bytes;
    let forged_file = w.artifact("forged.json");
    std::fs::write(&forged_file, forged).unwrap();
    let out = w
        .bg()
        .args(["apply", forged_file.to_str().unwrap()])
        .env("BLUEGREEN_PLAN_KEY", &k1)
        .run();
    out.assert_code(7);
    assert!(out.stderr.contains("does not read back"), "{}", out.stderr);
    assert_unchanged(&aws, &w.emu.snapshot());
    assert_eq!(w.state_files(), state);
    // The key it was sealed with (and the environment recorded in the artifact): applied.
    let out = w
        .bg()
        .args(["apply", file.to_str().unwrap()])
        .env("BLUEGREEN_PLAN_KEY", &k1)
        .run();
    out.assert_code(0);
    assert_eq!(w.prod(), (0, 100));
}
