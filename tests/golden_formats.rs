//! Golden files: the on-disk formats as the code before issue 13's restructure wrote them —
//! journal schema 1, the lock document (schema 1) and plan artifact format v1 — must be read
//! and re-written byte for byte by the code of today.
//!
//! What is real: every file under `tests/golden/` was written by the pre-change `bluegreen`
//! binary (main at 3e9dc3c), running real Terraform against the local AWS emulator (moto): the
//! journals are the local backend's `journal/deployments/<id>.jsonl` files copied verbatim,
//! the artifacts are what `bluegreen plan --out` wrote (sealed with the test key in
//! `tests/golden/artifacts/plan-key.hex`, not a secret), and `lock/lock.json` was copied while
//! a deploy held the lock. `tests/golden/README.md` lists the exact commands. Never regenerate
//! them with new code: they pin what older releases left on disk.
//!
//! What this test needs: only those files. No emulator, no Terraform, no network: the two
//! checks that run the binary point AWS at a closed local port, and the commands they run
//! (`history`, and `apply` up to loading the environment) make no AWS call.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bluegreen::artifact::{self, PlanKey};
use bluegreen::state::journal::{self, Entry, Progress, Summary};
use bluegreen::state::local::LocalStore;
use bluegreen::state::lock::LOCK_SCHEMA;
use bluegreen::state::{LockInfo, Store};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Every golden journal (the deployment id is the file name, as the local backend names it).
const JOURNALS: usize = 21;
/// The newest deployment by start: the last one the golden run made.
const NEWEST: &str = "20261202T080612491Z-4558";

/// Each artifact with the deployment whose `started` record names it (`plan_artifact`).
const ARTIFACTS: &[(&str, &str)] = &[
    ("plan-apply.bgplan", "20261202T080125943Z-1f93"),
    ("ecr-unsafe-approval.bgplan", "20261202T080208847Z-9f1b"),
];

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// (deployment id, path) of every golden journal, sorted by id.
fn journal_files() -> Vec<(String, PathBuf)> {
    let dir = golden().join("journals");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let id = p.file_name()?.to_str()?.strip_suffix(".jsonl")?.to_owned();
            Some((id, p))
        })
        .collect();
    out.sort();
    assert_eq!(out.len(), JOURNALS, "the golden journals: {out:?}");
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A golden journal through the reader the local backend uses: JSON, schema version,
/// deployment id, record numbers without gaps, no cut-off last line.
fn records(id: &str, path: &Path) -> Vec<journal::Record> {
    journal::parse_lines(&text(path), id, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Panics naming the first byte where `actual` differs from `expected`, with both around it.
#[track_caller]
fn assert_same_bytes(expected: &[u8], actual: &[u8], what: &str) {
    let Some(at) = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .or((expected.len() != actual.len()).then(|| expected.len().min(actual.len())))
    else {
        return;
    };
    let around = |b: &[u8]| {
        let from = at.saturating_sub(60);
        String::from_utf8_lossy(&b[from..(at + 60).min(b.len())]).into_owned()
    };
    panic!(
        "{what}: differs from byte {at} on (golden {} bytes, written {} bytes)\n  golden:  …{}…\n  written: …{}…",
        expected.len(),
        actual.len(),
        around(expected),
        around(actual)
    );
}

// ---------------------------------------------------------------------------------------------
// Journals (schema 1)

/// Each line parses as a record and serializes back to exactly its bytes: what
/// `LocalStore::append` writes (`serde_json::to_string(record)` + `\n`) and what the DynamoDB
/// backend keeps in `doc` (the line without its newline, read with `parse_record`).
#[test]
fn every_journal_line_parses_and_reserializes_byte_for_byte() {
    for (id, path) in journal_files() {
        let text = text(&path);
        let records = records(&id, &path);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        assert_eq!(records.len(), lines.len(), "{}", path.display());
        for (i, (record, line)) in records.iter().zip(&lines).enumerate() {
            let at = format!("{}:{}", path.display(), i + 1);
            let doc = line
                .strip_suffix('\n')
                .expect("every line ends in a newline");
            let alone = journal::parse_record(doc, &id, i as u64 + 1)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(&alone, record, "{at}");
            let again = serde_json::to_string(record).unwrap() + "\n";
            assert_same_bytes(line.as_bytes(), again.as_bytes(), &at);
        }
        // The folds `status`, `history`, `resume` and `rollback` make of it.
        let summary = Summary::of(&records).unwrap_or_else(|| panic!("{id}: no summary"));
        assert_eq!(summary.id, id);
        assert_eq!(summary.records, records.len(), "{id}");
        assert!(summary.outcome.is_some(), "{id}: every golden run finished");
        match &records[0].entry {
            Entry::Started(start) => {
                start.schedule().unwrap_or_else(|e| panic!("{id}: {e}"));
                assert!(Progress::of(&records).is_some(), "{id}");
            }
            Entry::RollbackStarted { .. } => assert!(Progress::of(&records).is_none(), "{id}"),
            other => panic!("{id} starts with {other:?}"),
        }
    }
}

/// The local backend itself: appending the golden records one by one to an empty store
/// writes files byte-identical to the golden ones, and the store reads them all back with
/// every corruption check (`deployments`, `records`, `history`, `unfinished`, `newest`).
#[tokio::test]
async fn the_local_store_appends_the_golden_records_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let journal_dir = dir.path().join("journal");
    let store = Store::Local(LocalStore::new(dir.path()));
    let lock: LockInfo =
        serde_json::from_slice(&read(&golden().join("lock/lock.json"))).expect("the golden lock");
    let mut ids = Vec::new();
    for (id, path) in journal_files() {
        for record in records(&id, &path) {
            // The store refuses a record whose fencing token is not the current lock's: put a
            // lock with the token its writer held in place (as the local backend writes it).
            let lock_path = journal_dir.join("lock.json");
            match record.fence {
                Some(fence) => {
                    let held = LockInfo {
                        fence,
                        ..lock.clone()
                    };
                    std::fs::create_dir_all(&journal_dir).unwrap();
                    std::fs::write(&lock_path, serde_json::to_vec_pretty(&held).unwrap()).unwrap();
                }
                None => {
                    let _ = std::fs::remove_file(&lock_path);
                }
            }
            store
                .append(&record)
                .await
                .unwrap_or_else(|e| panic!("{id} #{}: {e}", record.seq));
        }
        let written = read(&journal_dir.join(format!("deployments/{id}.jsonl")));
        assert_same_bytes(&read(&path), &written, &path.display().to_string());
        ids.push(id);
    }
    let _ = std::fs::remove_file(journal_dir.join("lock.json"));

    assert_eq!(store.deployments().await.unwrap(), ids);
    let history = store.history().await.unwrap();
    assert_eq!(history.len(), JOURNALS);
    assert!(history
        .windows(2)
        .all(|w| w[0].started_ms <= w[1].started_ms));
    assert!(history.iter().all(|s| s.outcome.is_some()));
    assert!(store.unfinished().await.unwrap().is_none());
    let (newest, records) = store.newest().await.unwrap().expect("a newest deployment");
    assert_eq!(newest.id, NEWEST);
    assert_eq!(
        records,
        self::records(NEWEST, &golden().join(format!("journals/{NEWEST}.jsonl")))
    );
}

/// The golden journals use every record type and optional field the pre-change binary could
/// be made to write against the emulator, so the checks above are not vacuous. Not produced
/// (they need a fault injected between bluegreen and AWS, like tests/fault_proxy.rs does):
/// `weights-failed`, `restore-failed`, `scale-down-failed` (moto's UpdateService does not fail
/// for a deleted service) and the outcome `rollback-failed`; `already-live` is never written.
#[test]
fn the_golden_journals_cover_the_record_types_and_optional_fields() {
    let mut types = BTreeSet::new();
    let mut outcomes = BTreeSet::new();
    let mut commands = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (_, path) in journal_files() {
        for line in text(&path).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let e = &v["entry"];
            let ty = e["type"].as_str().unwrap().to_owned();
            if v.get("fence").is_none() {
                seen.insert(format!("{ty} without fence"));
            }
            match ty.as_str() {
                "started" => {
                    if let Some(c) = e.get("command") {
                        commands.insert(c.as_str().unwrap().to_owned());
                    }
                    if e["old"].is_null() {
                        seen.insert("started.old null".to_owned());
                    }
                    for f in [
                        "approval_required",
                        "image_requested",
                        "plan_artifact",
                        "unsafe_plan_allowed",
                    ] {
                        if e.get(f).is_some() {
                            seen.insert(format!("started.{f}"));
                        }
                    }
                    if e["steps"].to_string().contains("\"pause\"") {
                        seen.insert("started.steps pause".to_owned());
                    }
                }
                "rollback-started" => {
                    if e.get("forced").is_some() {
                        seen.insert("rollback-started.forced".to_owned());
                    }
                    if e["ends"].is_string() {
                        seen.insert("rollback-started.ends".to_owned());
                    }
                }
                "approved" if e["by"] != e["identity"] => {
                    seen.insert("approved.by is not the identity".to_owned());
                }
                "weights-intent" if e["step"].is_null() => {
                    seen.insert("weights-intent.step null".to_owned());
                }
                "finished" => {
                    outcomes.insert(e["outcome"].as_str().unwrap().to_owned());
                    if e["failing_signal"].is_string() {
                        seen.insert("finished.failing_signal".to_owned());
                    }
                }
                _ => {}
            }
            types.insert(ty);
        }
    }
    let want = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        types,
        want(&[
            "approved",
            "awaiting-approval",
            "bake-passed",
            "continued",
            "finished",
            "lock-forced",
            "lock-taken-over",
            "paused",
            "post-bake",
            "provisioned",
            "provisioning",
            "restored",
            "resumed",
            "rollback-intent",
            "rollback-started",
            "scale-down-intent",
            "scaled-down",
            "scaled-up",
            "settled",
            "started",
            "stopped",
            "termination-wait",
            "weights-intent",
            "weights-verified",
        ])
    );
    assert_eq!(
        outcomes,
        want(&["abandoned", "deployed", "failed", "rebuilt", "rolled-back"])
    );
    assert_eq!(commands, want(&["apply", "rebuild", "rebuild --swap"]));
    for field in [
        "started.old null",
        "started.approval_required",
        "started.image_requested",
        "started.plan_artifact",
        "started.unsafe_plan_allowed",
        "started.steps pause",
        "rollback-started.forced",
        "rollback-started.ends",
        "approved.by is not the identity",
        "approved without fence",
        "lock-forced without fence",
        "weights-intent.step null",
        "finished.failing_signal",
    ] {
        assert!(
            seen.contains(field),
            "no golden record has {field}: {seen:?}"
        );
    }
}

/// The lock document (`journal/lock.json`), as a deploy held it: it parses with the local
/// backend's checks and is written back (pretty JSON, no trailing newline) byte for byte.
#[tokio::test]
async fn the_lock_document_reads_and_rewrites_byte_for_byte() {
    let path = golden().join("lock/lock.json");
    let bytes = read(&path);
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["schema"], LOCK_SCHEMA);
    let lock: LockInfo = serde_json::from_value(value).unwrap();
    assert_ne!(lock.fence, 0, "written with a fencing token");
    assert_same_bytes(
        &bytes,
        &serde_json::to_vec_pretty(&lock).unwrap(),
        "lock.json",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("journal")).unwrap();
    std::fs::write(dir.path().join("journal/lock.json"), &bytes).unwrap();
    let store = Store::Local(LocalStore::new(dir.path()));
    assert_eq!(store.lock_info().await.unwrap(), Some(lock));
}

// ---------------------------------------------------------------------------------------------
// Plan artifacts (format v1)

/// The golden test key (`BLUEGREEN_PLAN_KEY` of the golden run), parsed as the binary parses it.
fn key() -> (PlanKey, Vec<u8>) {
    let hex_key = text(&golden().join("artifacts/plan-key.hex"));
    let (key, _) = PlanKey::load_from(Some(hex_key.as_str()), Path::new("/nonexistent/plan.key"))
        .expect("the golden key");
    (key, hex::decode(hex_key.trim()).unwrap())
}

/// `value` with every object's keys sorted, whatever serde_json's map keeps.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The documented canonical form: compact JSON, every object's keys sorted.
fn canonical(value: &Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(value)).unwrap()
}

/// The documented file form, written independently of the crate: pretty JSON (two-space
/// indent), `format`, `version`, `body` (keys sorted), `terraform_plan`, `checksum` in this
/// order, and a trailing newline.
fn file_form(doc: &Value) -> Vec<u8> {
    #[derive(Serialize)]
    struct File<'a> {
        format: &'a Value,
        version: &'a Value,
        body: Value,
        terraform_plan: Plan<'a>,
        checksum: &'a Value,
    }
    #[derive(Serialize)]
    struct Plan<'a> {
        encryption: &'a Value,
        key_id: &'a Value,
        nonce: &'a Value,
        ciphertext: &'a Value,
    }
    let p = &doc["terraform_plan"];
    let file = File {
        format: &doc["format"],
        version: &doc["version"],
        body: sorted(&doc["body"]),
        terraform_plan: Plan {
            encryption: &p["encryption"],
            key_id: &p["key_id"],
            nonce: &p["nonce"],
            ciphertext: &p["ciphertext"],
        },
        checksum: &doc["checksum"],
    };
    let mut bytes = serde_json::to_vec_pretty(&file).unwrap();
    bytes.push(b'\n');
    bytes
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Each artifact inspects and opens with the golden key; its container is exactly the
/// documented file form of what it holds; the checksum and the AES-GCM associated data are
/// over the canonical JSON of its content, recomputed here; and sealing the same body and plan
/// again gives the same bytes except for the parts that are random by design.
#[test]
fn every_artifact_opens_and_reseals_to_the_same_bytes_but_the_nonce() {
    let (key, key_bytes) = key();
    for (name, deployment) in ARTIFACTS {
        let path = golden().join("artifacts").join(name);
        let bytes = read(&path);
        let opened = artifact::inspect(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (opened_with_key, plan) =
            artifact::open(&bytes, &key).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(opened_with_key, opened, "{name}");
        assert_eq!(opened.key_id, key.key_id(), "{name}");
        // A Terraform saved plan is a zip archive: the plaintext really is the plan.
        assert!(
            plan.starts_with(b"PK\x03\x04"),
            "{name}: not a Terraform plan file"
        );

        // The journal of the `apply` that carried it out names it by this checksum.
        let journal = golden().join(format!("journals/{deployment}.jsonl"));
        let Entry::Started(start) = &records(deployment, &journal)[0].entry else {
            panic!("{deployment} is not a deploy");
        };
        assert_eq!(
            start.plan_artifact.as_deref(),
            Some(opened.checksum.as_str())
        );

        // The container, rewritten from its parsed content by the documented rules.
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["body"], opened.body, "{name}");
        assert_same_bytes(&bytes, &file_form(&doc), &format!("{name} (file form)"));
        // The checksum: sha256 over the canonical form of everything but `checksum`.
        let mut content = doc.clone();
        content.as_object_mut().unwrap().remove("checksum");
        let checksum = format!("sha256:{}", hex::encode(sha256(&canonical(&content))));
        assert_eq!(checksum, opened.checksum, "{name}");
        // The AEAD: the golden nonce, the plan and sha256 of the canonical {format, version,
        // body} as associated data give exactly the golden ciphertext (and tag), so the body
        // re-serializes to the canonical bytes it was sealed with.
        let p = &doc["terraform_plan"];
        assert_eq!(p["encryption"], "AES-256-GCM");
        let nonce = BASE64.decode(p["nonce"].as_str().unwrap()).unwrap();
        assert_eq!(nonce.len(), 12, "{name}");
        let aad = sha256(&canonical(
            &json!({"format": doc["format"], "version": doc["version"], "body": opened.body}),
        ));
        let ciphertext = {
            use aes_gcm::aead::{Aead, Payload};
            use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
            Aes256Gcm::new_from_slice(&key_bytes)
                .unwrap()
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &plan,
                        aad: &aad,
                    },
                )
                .unwrap()
        };
        assert_eq!(BASE64.encode(ciphertext), p["ciphertext"], "{name}");

        // Sealing again with the crate: only the nonce (12 random bytes by design), the
        // ciphertext (encrypted under that nonce) and the checksum (over both) may differ;
        // put the golden ones in and the bytes are the golden file's.
        // Both ways: the whole body (`artifact::seal`), and as `plan` seals it now (issue 16),
        // the redacted Terraform plan held as canonical text and spliced into the body.
        let whole = artifact::seal(&opened.body, &plan, &key).unwrap().bytes;
        let mut placeholder = opened.body.clone();
        let slot = placeholder.pointer_mut("/terraform/redacted_plan").unwrap();
        let redacted = bluegreen::iac::RedactedPlan::from_value(&slot.take());
        let splice = artifact::Spliced {
            pointer: "/terraform/redacted_plan",
            raw: redacted.raw(),
        };
        let mut spliced = Vec::new();
        let checksum =
            artifact::seal_to(&placeholder, Some(splice), &plan, &key, &mut spliced).unwrap();
        assert_eq!(artifact::inspect(&spliced).unwrap().checksum, checksum);
        for (how, resealed) in [("sealed again", whole), ("sealed again, spliced", spliced)] {
            let new: Value = serde_json::from_slice(&resealed).unwrap();
            let field = |v: &Value, f: &str| match f {
                "checksum" => v[f].as_str().unwrap().to_owned(),
                _ => v["terraform_plan"][f].as_str().unwrap().to_owned(),
            };
            let mut text = String::from_utf8(resealed.clone()).unwrap();
            for f in ["nonce", "ciphertext", "checksum"] {
                assert_ne!(field(&new, f), field(&doc, f), "{name}: {f} is not fresh");
                text = text.replace(&field(&new, f), &field(&doc, f));
            }
            assert_same_bytes(&bytes, text.as_bytes(), &format!("{name} ({how})"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The binary (this build) on the golden files

/// The binary of this build, offline: AWS at a closed local port, nothing from the caller's
/// environment.
fn bluegreen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bluegreen"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .expect("run bluegreen")
}

/// `history` lists every golden deployment (the whole journal read by the CLI), and `apply`
/// reads each artifact's body as a plan of this version (its fields typed, unknown fields
/// refused) before it stops at the environment the body names, which does not exist here.
#[test]
fn the_binary_reads_the_golden_journals_and_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = tmp.path().join("envs");
    let env = envs.join("local");
    std::fs::create_dir_all(&env).unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        env.join("bluegreen.hcl"),
        format!(
            "region = \"us-east-1\"\nshared {{ root = \"{repo}/modules/emulator/shared\" }}\n\
             service {{ root = \"{repo}/modules/emulator/service\" }}\n"
        ),
    )
    .unwrap();
    let work = tmp.path().join("work");
    let deployments = work.join("local/journal/deployments");
    std::fs::create_dir_all(&deployments).unwrap();
    for (id, path) in journal_files() {
        std::fs::copy(&path, deployments.join(format!("{id}.jsonl"))).unwrap();
    }
    let (envs, work) = (envs.to_str().unwrap(), work.to_str().unwrap());
    let out = bluegreen(&[
        "history",
        "--env",
        "local",
        "--environments-dir",
        envs,
        "--work-dir",
        work,
        "--limit",
        "100",
        "--output",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let h: Value = serde_json::from_slice(&out.stdout).expect("history JSON");
    let listed: BTreeSet<&str> = h["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let ids = journal_files();
    assert_eq!(listed, ids.iter().map(|(id, _)| id.as_str()).collect());
    assert_eq!(h["deployments"][0]["id"], NEWEST);

    let empty = tmp.path().join("no-envs");
    std::fs::create_dir_all(&empty).unwrap();
    for (name, _) in ARTIFACTS {
        let file = golden().join("artifacts").join(name);
        let out = bluegreen(&[
            "apply",
            file.to_str().unwrap(),
            "--environments-dir",
            empty.to_str().unwrap(),
            "--work-dir",
            work,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        // Refused for the environment (`env_arg` of the body), not for the artifact.
        assert!(
            stderr.contains("unknown environment `local`"),
            "{name}: {stderr}"
        );
    }
}
