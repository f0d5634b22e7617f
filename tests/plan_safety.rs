//! The plan safety check (`bluegreen::iac::check_plan`) over every real plan
//! fixture, redacted first as bluegreen does; and `Stack::state_meta` /
//! `Stack::state_json` against real Terraform (when it is on PATH).
//!
//! Fixtures: `tests/fixtures/terraform-plans/` (public plans),
//! `tests/fixtures/terraform/show_plan_*.json` and
//! `tests/fixtures/terraform-plans-own/` (recorded from
//! `tests/fixtures/modules/idle-color` by `tests/fixtures/capture-plans-own.sh`).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bluegreen::iac::{
    check_plan, redact_plan_json, Finding, ForeignObjects, IacPreference, Rule, SafetyPolicy,
    Stack, StackDirs, StateMeta, REDACTED,
};
use serde_json::{json, Value};

use Rule::{
    ForeignObject, ProductionReference, ProtectedDestroy, ProtectedReplace, TargetGroupReplace,
};

/// Sensitive defaults of the recorded modules, in plain text in the recordings.
const SECRETS: &[&str] = &["FIXTURE-SECRET-7f3a9c", "IDLE-FIXTURE-SECRET-5b1e"];

/// The values `capture-plans-own.sh` passes as the production listener and the
/// live (blue) color's target group, and the idle (green) color's own ones.
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2";
const BLUE_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-blue/73e2d6bc24d8a067";
const GREEN_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-green/8e8c07f1bd1ea3b8";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:111122223333:cluster/web";

/// ARNs in tfcompliance_issue249 (an ALB, its listener and target group).
const TC_LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/mybu-sandbox-myapp-instance-alb/2ae7b3df5b81f465";
const TC_LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/mybu-sandbox-myapp-instance-alb/2ae7b3df5b81f465/ae54df34347920f4";
const TC_TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mybu-sandbox-myapp-instance-alb/f33662f2da142d83";

/// One policy applied to one fixture, and exactly the findings it must produce.
struct Case {
    protected: &'static [&'static str],
    /// (owner, address, id-or-arn) entries of the other stacks' states.
    foreign: &'static [(&'static str, &'static str, &'static str)],
    /// (value, what it is)
    production: &'static [(&'static str, &'static str)],
    expect: &'static [(Rule, &'static str, &'static str)],
}

const NONE: Case = Case {
    protected: &[],
    foreign: &[],
    production: &[],
    expect: &[],
};

/// Every fixture file and the cases run over it. A fixture missing here fails
/// `every_plan_fixture_is_checked`.
fn cases(file: &str) -> Option<Vec<Case>> {
    Some(match file {
        "tfcompliance_issue249_alb_tg_update_tf0.12.24.json" => vec![
            // Updates of protected resources are not destroys.
            Case {
                protected: &["module.alb.*", "*aws_alb_target_group*"],
                ..NONE
            },
            // Read as an idle color's plan, it updates the shared stack's ALB and target
            // group and sends an autoscaling group into the live target group.
            Case {
                foreign: &[
                    ("shared", "aws_lb.main", TC_LB),
                    ("shared", "aws_lb_listener.production", TC_LISTENER),
                    ("blue", "aws_lb_target_group.blue", TC_TG),
                ],
                production: &[
                    (TC_LISTENER, "production listener"),
                    (TC_TG, "live color's target group"),
                ],
                expect: &[
                    (ForeignObject, "module.alb.aws_alb.alb", "update"),
                    (
                        ForeignObject,
                        "module.alb.aws_alb_target_group.alb",
                        "update",
                    ),
                    (
                        ProductionReference,
                        "module.alb.aws_alb_target_group.alb",
                        "update",
                    ),
                    (
                        ProductionReference,
                        "module.myapp-asg.aws_autoscaling_group.asg",
                        "create",
                    ),
                ],
                ..NONE
            },
        ],
        "tfcompliance_issue171_lb_listener_create_tf0.12.10.json" => vec![Case {
            // Creates only: nothing to destroy, nothing known to compare.
            protected: &["*"],
            production: &[("nlb-noncompliant", "a name no create may use")],
            expect: &[(ProductionReference, "aws_lb.nlb-noncompliant", "create")],
            ..NONE
        }],
        "terraform-json_action_reason_tainted_tf1.15.0.json" => vec![Case {
            protected: &["null_resource.*"],
            foreign: &[("shared", "null_resource.shared", "8868159889619753631")],
            expect: &[
                (ProtectedReplace, "null_resource.example", "delete-create"),
                (ForeignObject, "null_resource.example", "delete-create"),
            ],
            ..NONE
        }],
        "checkov_create_before_destroy_tf1.2.4.json" => vec![Case {
            protected: &["aws_secretsmanager_secret.default"],
            expect: &[(
                ProtectedReplace,
                "aws_secretsmanager_secret.default",
                "create-delete",
            )],
            ..NONE
        }],
        "trivy_module_call_tf1.14.2.json" => vec![
            Case {
                protected: &["module.s3_bucket.*"],
                ..NONE
            },
            Case {
                production: &[("test", "a bucket of the live color")],
                expect: &[(
                    ProductionReference,
                    "module.s3_bucket.aws_s3_bucket.main",
                    "create",
                )],
                ..NONE
            },
        ],
        "show_plan_create.json" | "show_plan_output_only.json" => vec![Case {
            protected: &["*"],
            // The module's secret is in the plan but redacted: it never matches.
            production: &[("FIXTURE-SECRET-7f3a9c", "a sensitive value")],
            ..NONE
        }],
        "show_plan_forget.json" => vec![
            // Forget is not a destroy.
            Case {
                protected: &["*"],
                ..NONE
            },
            Case {
                foreign: &[(
                    "blue",
                    "terraform_data.extra[0]",
                    "79d0c331-4d9a-0bd6-aacb-bf1fb13ddb94",
                )],
                expect: &[(ForeignObject, "terraform_data.extra[0]", "forget")],
                ..NONE
            },
        ],
        "show_plan_replace.json" => vec![
            Case {
                protected: &["terraform_data.*"],
                expect: &[
                    (ProtectedReplace, "terraform_data.app", "delete-create"),
                    (ProtectedDestroy, "terraform_data.extra[0]", "delete"),
                ],
                ..NONE
            },
            Case {
                // `[0]` is literal: `extra[1]` and `extra` protect nothing here.
                protected: &["terraform_data.extra[1]", "terraform_data.extra"],
                ..NONE
            },
        ],
        "show_plan_tainted.json" => vec![Case {
            protected: &["terraform_data.app"],
            expect: &[(ProtectedReplace, "terraform_data.app", "delete-create")],
            ..NONE
        }],
        "show_plan_idle_create.json" => vec![Case {
            // The normal first plan of the idle color: its own target group, the
            // shared cluster, creates only.
            protected: &["terraform_data.database", r#"module.queue["orders"].*"#],
            foreign: &[
                ("shared", "aws_ecs_cluster.main", CLUSTER),
                ("shared", "aws_lb_listener.production", LISTENER),
                ("shared", r#"aws_lb_target_group.color["green"]"#, GREEN_TG),
            ],
            production: &[
                (LISTENER, "production listener"),
                (BLUE_TG, "live color's target group"),
                ("IDLE-FIXTURE-SECRET-5b1e", "a sensitive value"),
            ],
            ..NONE
        }],
        "show_plan_idle_replace_protected.json" => vec![
            Case {
                protected: &["terraform_data.database", r#"module.queue["orders"].*"#],
                production: &[(LISTENER, "production listener")],
                expect: &[
                    (ProtectedReplace, "terraform_data.database", "delete-create"),
                    (
                        ProtectedReplace,
                        r#"module.queue["orders"].terraform_data.queue"#,
                        "delete-create",
                    ),
                ],
                ..NONE
            },
            Case {
                // Another key is another instance.
                protected: &[r#"module.queue["users"].*"#, "module.queue.*"],
                ..NONE
            },
        ],
        "show_plan_idle_production_listener.json" => vec![Case {
            protected: &["terraform_data.database", r#"module.queue["orders"].*"#],
            production: &[
                (LISTENER, "production listener"),
                (BLUE_TG, "live color's target group"),
            ],
            expect: &[
                (
                    ProductionReference,
                    "terraform_data.listener_rule[0]",
                    "create",
                ),
                (
                    ProductionReference,
                    "terraform_data.listener_rule[0]",
                    "create",
                ),
                (ProductionReference, "terraform_data.service", "update"),
            ],
            ..NONE
        }],
        _ => return None,
    })
}

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn plan_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["terraform-plans", "terraform", "terraform-plans-own"] {
        for entry in std::fs::read_dir(fixtures(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let is_plan = match dir {
                "terraform" => name.starts_with("show_plan_") && name.ends_with(".json"),
                _ => name.ends_with(".json"),
            };
            if is_plan {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A `show -json` state document holding the given objects, for `add_state`.
fn state(objects: &[(&str, &str)]) -> Value {
    let resources: Vec<Value> = objects
        .iter()
        .map(|(address, id)| {
            json!({"address": address, "mode": "managed", "values": {"id": id, "arn": id},
                   "sensitive_values": {}})
        })
        .collect();
    json!({"format_version": "1.0", "values": {"root_module": {"resources": resources}}})
}

fn run(plan: &Value, case: &Case) -> Vec<Finding> {
    let mut foreign = ForeignObjects::new();
    for owner in ["shared", "blue", "green"] {
        let objects: Vec<(&str, &str)> = case
            .foreign
            .iter()
            .filter(|(o, _, _)| *o == owner)
            .map(|(_, address, id)| (*address, *id))
            .collect();
        foreign.add_state(owner, &state(&objects));
    }
    let protected: Vec<String> = case.protected.iter().map(|p| (*p).to_owned()).collect();
    let production: Vec<(String, String)> = case
        .production
        .iter()
        .map(|(v, w)| ((*v).to_owned(), (*w).to_owned()))
        .collect();
    let policy = SafetyPolicy {
        protected: &protected,
        foreign: &foreign,
        production: &production,
    };
    let findings = check_plan(plan, &policy).unwrap();
    // The same plan held as text, as `plan` and `deploy` judge it (issue 16).
    let text = bluegreen::iac::RedactedPlan::from_value(plan);
    let streamed = bluegreen::iac::check_redacted_plan(&text, &policy).unwrap();
    assert_eq!(streamed, findings);
    findings
}

#[test]
fn every_plan_fixture_is_checked() {
    let files = plan_files();
    assert!(files.len() >= 13, "{files:?}");
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let plan = redact_plan_json(&raw);
        let cases =
            cases(&file).unwrap_or_else(|| panic!("{file}: no safety case; add one to cases()"));
        for (i, case) in cases.iter().enumerate() {
            let findings = run(&plan, case);
            let got: Vec<(Rule, &str, &str)> = findings
                .iter()
                .map(|f| (f.rule, f.address.as_str(), f.action.as_str()))
                .collect();
            assert_eq!(got, case.expect, "{file} case {i}: {findings:#?}");
            for finding in &findings {
                let text = serde_json::to_string(finding).unwrap();
                assert!(SECRETS.iter().all(|s| !text.contains(s)), "{file}: {text}");
            }
        }
        // Protecting nothing (and knowing no other stack) finds nothing to protect.
        let everything_else = run(&plan, &NONE);
        assert_eq!(everything_else, [], "{file}");
    }
}

#[test]
fn own_plans_are_redacted_before_they_are_checked() {
    let path = fixtures("terraform-plans-own/show_plan_idle_replace_protected.json");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains("IDLE-FIXTURE-SECRET-5b1e"),
        "recorded in plain text"
    );
    let plan = redact_plan_json(&serde_json::from_str(&text).unwrap());
    assert!(!plan.to_string().contains("IDLE-FIXTURE-SECRET-5b1e"));
    assert_eq!(
        plan.pointer("/resource_changes/0/change/after/input/password"),
        Some(&json!(REDACTED))
    );
}

#[test]
fn findings_name_the_pattern_and_the_production_value() {
    let read = |file: &str| -> Value {
        let bytes = std::fs::read(fixtures("terraform-plans-own").join(file)).unwrap();
        redact_plan_json(&serde_json::from_slice(&bytes).unwrap())
    };
    let findings = run(
        &read("show_plan_idle_replace_protected.json"),
        &cases("show_plan_idle_replace_protected.json").unwrap()[0],
    );
    assert_eq!(
        findings[1].detail,
        r#"the plan would replace `module.queue["orders"].terraform_data.queue`: it matches the protected pattern `module.queue["orders"].*`"#
    );
    let findings = run(
        &read("show_plan_idle_production_listener.json"),
        &cases("show_plan_idle_production_listener.json").unwrap()[0],
    );
    assert_eq!(
        findings[0].detail,
        format!(
            "`terraform_data.listener_rule[0]` would reference the production listener \
             `{LISTENER}` (after.input.listener_arn) before bluegreen shifts traffic to this color"
        )
    );
    assert!(
        findings[2].detail.contains("live color's target group")
            && findings[2]
                .detail
                .contains("(after.input.target_group_arn)"),
        "{findings:#?}"
    );
    let json = serde_json::to_value(&findings[0]).unwrap();
    assert_eq!(json["rule"], "production-reference");
}

/// tfcompliance_issue249 updates its target group in place while its listener (a no-op in the
/// plan) forwards to it: no finding. The same real plan with the target group's change turned
/// into a replacement (`port` forcing it, as Terraform writes `replace_paths`) is the trap:
/// AWS refuses to delete a target group a listener forwards to.
#[test]
fn replacing_a_target_group_a_listener_forwards_to_is_a_finding() {
    let file = "tfcompliance_issue249_alb_tg_update_tf0.12.24.json";
    let bytes = std::fs::read(fixtures("terraform-plans").join(file)).unwrap();
    let mut raw: Value = serde_json::from_slice(&bytes).unwrap();
    let address = "module.alb.aws_alb_target_group.alb";
    assert!(run(&redact_plan_json(&raw), &NONE).is_empty());
    for (actions, order) in [
        (json!(["delete", "create"]), "delete-create"),
        (json!(["create", "delete"]), "create-delete"),
    ] {
        let changes = raw["resource_changes"].as_array_mut().unwrap();
        let tg = changes
            .iter_mut()
            .find(|c| c["address"] == address)
            .unwrap();
        tg["change"]["actions"] = actions;
        tg["change"]["replace_paths"] = json!([["port"]]);
        let findings = run(&redact_plan_json(&raw), &NONE);
        let got: Vec<(Rule, &str, &str)> = findings
            .iter()
            .map(|f| (f.rule, f.address.as_str(), f.action.as_str()))
            .collect();
        assert_eq!(got, [(TargetGroupReplace, address, order)]);
        let detail = &findings[0].detail;
        assert!(
            detail.contains("(forced by `port`)")
                && detail.contains(&format!("deleting `{TC_TG}`"))
                && detail.contains("`module.alb.aws_alb_listener.alb` of this stack uses")
                && detail.contains("is currently in use by a listener or a rule"),
            "{detail}"
        );
        assert_eq!(
            serde_json::to_value(&findings[0]).unwrap()["rule"],
            "target-group-replace"
        );
    }
}

/// CI clones only this repository; the copy in `tests/fixtures/terraform-plans/`
/// must stay the same as the shared originals (checked when they are there).
#[test]
fn repo_copy_of_public_plans_matches_shared() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/terraform-plans");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        eprintln!("skipped: {} is not there", shared.display());
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let copy = fixtures("terraform-plans").join(path.file_name().unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&copy).unwrap_or_default(),
            "{} differs from {}",
            copy.display(),
            path.display()
        );
    }
}

const STATE_SECRET: &str = "STATE-META-SECRET-94d2e1";

const MODULE: &str = r#"
terraform {
  backend "local" {}
}

variable "revision" {
  type    = string
  default = "1"
}

variable "password" {
  type      = string
  default   = "STATE-META-SECRET-94d2e1"
  sensitive = true
}

resource "terraform_data" "app" {
  input = { revision = var.revision, password = var.password }
}
"#;

/// Collects every log line the library emits (all levels) on this thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `state_meta` / `state_json` against real Terraform: a new workspace, two
/// applies, a destroy. Skipped (with a note) when neither `tofu` nor
/// `terraform` is on PATH.
#[tokio::test(flavor = "current_thread")]
async fn state_reads_against_real_terraform() {
    let tool = match bluegreen::iac::discover(&IacPreference::Auto) {
        Ok(tool) => tool,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let work = tempfile::tempdir().unwrap();
    let module = work.path().join("module");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(module.join("main.tf"), MODULE).unwrap();
    let state_dir = work.path().join("state");
    let stack = Stack::new(
        tool,
        StackDirs {
            root: module,
            data_dir: work.path().join("data"),
            scratch_dir: work.path().join("scratch"),
            lock_timeout: Duration::from_secs(5),
        },
        Some("green".into()),
        vec![
            (
                "path".into(),
                state_dir.join("default.tfstate").display().to_string(),
            ),
            (
                "workspace_dir".into(),
                state_dir.join("workspaces").display().to_string(),
            ),
        ],
        vec![],
        vec![("revision".into(), "1".into())],
    );
    stack.prepare(&mut |_| {}).await.unwrap();

    // A new workspace: `state pull` prints nothing, `show -json` only the version.
    assert_eq!(stack.state_meta().await.unwrap(), None);
    assert_eq!(
        stack.state_json().await.unwrap(),
        json!({"format_version": "1.0"})
    );

    let apply = |stack: Stack, name: &'static str| {
        let plan = work.path().join(name);
        async move {
            stack.plan(&plan, &mut |_| {}).await.unwrap();
            stack.apply(&plan, &mut |_| {}).await.unwrap();
        }
    };
    apply(stack.clone(), "first.tfplan").await;
    let before = common::state_snapshot(&state_dir);
    let first = stack.state_meta().await.unwrap().expect("applied state");
    assert!(first.serial >= 1, "{first:?}");
    assert_eq!(first.lineage.len(), 36, "a UUID: {first:?}");
    assert!(!format!("{first:?}").contains(STATE_SECRET));
    assert!(!serde_json::to_string(&first)
        .unwrap()
        .contains(STATE_SECRET));

    // The state JSON holds the secret in plain text (that is why it is never logged);
    // ForeignObjects keeps only ids.
    let state = stack.state_json().await.unwrap();
    assert!(state.to_string().contains(STATE_SECRET));
    let id = state
        .pointer("/values/root_module/resources/0/values/id")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let mut foreign = ForeignObjects::new();
    foreign.add_state("green", &state);
    assert_eq!(foreign.len(), 1);
    assert_eq!(foreign.get(&id), Some(("green", "terraform_data.app")));
    assert!(!format!("{foreign:?}").contains(STATE_SECRET));
    // Reading the state writes nothing.
    assert_eq!(common::state_snapshot(&state_dir), before);

    // An update: the serial grows, the lineage stays.
    let second_stack = Stack {
        vars: vec![("revision".into(), "2".into())],
        ..stack.clone()
    };
    apply(second_stack.clone(), "second.tfplan").await;
    let second = stack.state_meta().await.unwrap().unwrap();
    assert!(second.serial > first.serial, "{first:?} → {second:?}");
    assert_eq!(second.lineage, first.lineage);

    // Everything destroyed: the state still exists (and moves on), with no resources.
    let destroy = work.path().join("destroy.tfplan");
    second_stack
        .plan_destroy(&destroy, &mut |_| {})
        .await
        .unwrap();
    second_stack.apply(&destroy, &mut |_| {}).await.unwrap();
    let emptied = stack.state_meta().await.unwrap().unwrap();
    assert!(emptied.serial > second.serial);
    assert_eq!(
        emptied,
        StateMeta {
            serial: emptied.serial,
            lineage: first.lineage.clone()
        }
    );
    let mut none = ForeignObjects::new();
    none.add_state("green", &stack.state_json().await.unwrap());
    assert!(none.is_empty());

    // The commands were logged (so the capture works), the documents never.
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("state pull"), "{logged}");
    assert!(!logged.contains(STATE_SECRET), "{logged}");
    assert!(!logged.contains(&first.lineage), "{logged}");
}
