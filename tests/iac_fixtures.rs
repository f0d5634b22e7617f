//! Every recorded Terraform output in `tests/fixtures/terraform/` and every
//! plan in `tests/fixtures/terraform-plans/` goes through the parsers, and no
//! sensitive value escapes a redacted form. The last test drives real
//! Terraform (when it is on PATH) through `Stack` with the fixture module.
//! How the recordings were made: `tests/fixtures/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bluegreen::iac::{
    failure, filter_stderr, parse_ui_line, redact_plan_json, redacted_plan_json, run_streaming,
    Action, IacError, IacPreference, Outputs, PlanSummary, ReplaceOrder, Severity, Stack,
    StackDirs, TfCommand, UiEvent, REDACTED,
};
use serde_json::Value;

/// The fixture module's sensitive variable default.
const SECRET: &str = "FIXTURE-SECRET-7f3a9c";

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {dir}");
    files
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_recording_parses() {
    for path in files("terraform") {
        let file = name(&path);
        let bytes = read(&path);
        if file.ends_with(".jsonl") {
            check_stream(&file, &bytes);
        } else if file.starts_with("show_plan_") && file.ends_with(".json") {
            check_plan(&file, &bytes);
        } else if file == "output.json" {
            check_outputs(&bytes);
        } else if file.ends_with(".stderr") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.contains("Unable to open CLI configuration file"),
                "{file}"
            );
            assert_eq!(filter_stderr(&text), "", "{file}: the warning box is noise");
        } else {
            panic!("{file}: unknown kind of fixture; teach this test to parse it");
        }
    }
}

#[test]
fn every_public_plan_parses_and_redacts() {
    for path in files("terraform-plans") {
        let file = name(&path);
        if file.ends_with(".md") || file.ends_with(".NOTICE") {
            continue; // licence notices
        }
        assert!(file.ends_with(".json"), "{file}: unknown kind of fixture");
        check_plan(&file, &read(&path));
    }
}

/// Every line is a known message; the stream starts with a supported version.
fn check_stream(file: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap();
    let messages: Vec<_> = text
        .lines()
        .map(|line| parse_ui_line(line).unwrap_or_else(|e| panic!("{file}: {e}: {line}")))
        .map(|m| m.unwrap_or_else(|| panic!("{file}: blank line")))
        .collect();
    let UiEvent::Version(version) = &messages[0].event else {
        panic!("{file}: first message is not the version")
    };
    version.check().unwrap();
    for m in &messages {
        assert!(
            !matches!(m.event, UiEvent::Other(_)),
            "{file}: unrecognised {m:?}"
        );
        if let UiEvent::Outputs(outputs) = &m.event {
            assert_eq!(outputs["secret"].value, None, "{file}");
        }
    }
    assert!(
        !text.contains(SECRET),
        "{file}: the UI stream redacts on its own"
    );
}

fn check_plan(file: &str, bytes: &[u8]) {
    let summary = PlanSummary::from_json(bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
    let raw: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(
        summary.resource_changes.len(),
        raw["resource_changes"].as_array().map_or(0, Vec::len),
        "{file}"
    );
    let redacted = redacted_plan_json(bytes).unwrap();
    assert_eq!(redacted, redact_plan_json(&raw));
    assert_shapes_redacted(file, &redacted);
    let shown = [
        format!("{summary:?}"),
        serde_json::to_string(&summary).unwrap(),
        redacted.to_string(),
    ];
    for text in shown {
        assert!(!text.contains(SECRET), "{file}: secret escaped");
    }
    if file.starts_with("show_plan_") {
        assert!(
            String::from_utf8_lossy(bytes).contains(SECRET),
            "{file}: recorded in plain text"
        );
        assert!(redacted.to_string().contains(REDACTED), "{file}");
    }
}

/// Wherever a change's shape marks a value sensitive, the redacted plan shows [`REDACTED`].
fn assert_shapes_redacted(file: &str, plan: &Value) {
    for change in plan["resource_changes"].as_array().into_iter().flatten() {
        let change = &change["change"];
        for (value, shape) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
            walk_shape(file, &change[value], &change[shape]);
        }
    }
}

fn walk_shape(file: &str, value: &Value, shape: &Value) {
    match (shape, value) {
        (_, Value::Null) => {}
        (Value::Bool(true), v) => assert_eq!(v, &Value::String(REDACTED.into()), "{file}"),
        (Value::Object(s), Value::Object(v)) => {
            for (k, v) in v {
                walk_shape(file, v, s.get(k).unwrap_or(&Value::Null));
            }
        }
        (Value::Array(s), Value::Array(v)) => {
            for (v, s) in v.iter().zip(s) {
                walk_shape(file, v, s);
            }
        }
        _ => {}
    }
}

fn check_outputs(bytes: &[u8]) {
    assert!(
        String::from_utf8_lossy(bytes).contains(SECRET),
        "recorded in plain text"
    );
    let outputs = Outputs::from_json(bytes).unwrap();
    for shown in [
        format!("{outputs:?}"),
        outputs.to_string(),
        serde_json::to_string(&outputs).unwrap(),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("fixture-app"), "{shown}");
    }
    assert_eq!(outputs.require_string("secret").unwrap(), SECRET);
    assert_eq!(outputs.require_string("name").unwrap(), "fixture-app");
    let tags = outputs.get_string_map("tags").unwrap();
    assert_eq!(
        tags,
        BTreeMap::from([
            ("label".into(), "first".into()),
            ("revision".into(), "1".into())
        ])
    );
}

fn plan(file: &str) -> PlanSummary {
    PlanSummary::from_json(&read(&fixtures("terraform").join(file))).unwrap()
}

fn actions(summary: &PlanSummary) -> Vec<(&str, Action, Option<&str>)> {
    summary
        .resource_changes
        .iter()
        .map(|c| (c.address.as_str(), c.action, c.action_reason.as_deref()))
        .collect()
}

#[test]
fn recorded_plans_say_what_terraform_planned() {
    let create = plan("show_plan_create.json");
    assert_eq!(
        (create.add, create.change, create.replace, create.destroy),
        (2, 0, 0, 0)
    );
    assert_eq!(create.terraform_version, "1.11.4");

    let replace = plan("show_plan_replace.json");
    assert_eq!(
        actions(&replace),
        [
            (
                "terraform_data.app",
                Action::Replace(ReplaceOrder::DeleteThenCreate),
                Some("replace_because_cannot_update")
            ),
            (
                "terraform_data.extra[0]",
                Action::Delete,
                Some("delete_because_count_index")
            ),
        ]
    );
    assert!(replace
        .output_changes
        .contains(&("secret".into(), Action::NoOp)));

    let tainted = plan("show_plan_tainted.json");
    assert_eq!(
        tainted.resource_changes[0].action_reason.as_deref(),
        Some("replace_because_tainted")
    );

    let forget = plan("show_plan_forget.json");
    assert_eq!(forget.forget, 1);
    assert_eq!(forget.effective_changes().count(), 1);

    let output_only = plan("show_plan_output_only.json");
    assert_eq!(output_only.effective_changes().count(), 0);
    assert!(output_only
        .output_changes
        .contains(&("tags".into(), Action::Update)));
}

#[test]
fn public_plans_cover_both_replace_orders_and_old_formats() {
    let plan = |file: &str| {
        PlanSummary::from_json(&read(&fixtures("terraform-plans").join(file))).unwrap()
    };
    let cbd = plan("checkov_create_before_destroy_tf1.2.4.json");
    assert_eq!(
        cbd.resource_changes[0].action,
        Action::Replace(ReplaceOrder::CreateThenDelete)
    );
    let tainted = plan("terraform-json_action_reason_tainted_tf1.15.0.json");
    assert_eq!(
        tainted.resource_changes[0].action,
        Action::Replace(ReplaceOrder::DeleteThenCreate)
    );
    let listener = plan("tfcompliance_issue171_lb_listener_create_tf0.12.10.json");
    assert_eq!(listener.format_version, "0.1");
    assert_eq!(listener.add, 14);
    let tg = plan("tfcompliance_issue249_alb_tg_update_tf0.12.24.json");
    let target_group = tg
        .resource_changes
        .iter()
        .find(|c| c.address == "module.alb.aws_alb_target_group.alb")
        .unwrap();
    assert_eq!(
        (target_group.action, target_group.module_address.as_deref()),
        (Action::Update, Some("module.alb"))
    );
    assert_eq!(
        tg.output_changes,
        [("lambda_execution_arn".into(), Action::Create)]
    );
}

/// Replays a recorded stdout through the real runner (`cat` stands in for Terraform).
async fn replay(file: &str, exit_code: i32) -> IacError {
    let cmd = TfCommand {
        program: "cat".into(),
        args: vec![fixtures("terraform").join(file).display().to_string()],
        env: Default::default(),
        env_remove: Default::default(),
    };
    let mut seen = 0;
    let outcome = run_streaming(&cmd, &mut |_| seen += 1).await.unwrap();
    assert!(seen > 1, "{file}");
    assert_eq!(outcome.version.as_ref().unwrap().version, "1.11.4");
    failure(&cmd, exit_code, outcome.diagnostics, outcome.stderr_tail)
}

#[tokio::test]
async fn recorded_failures_become_the_right_errors() {
    let err = replay("apply_stale.jsonl", 1).await;
    assert!(matches!(err, IacError::StalePlan { .. }), "{err:?}");
    assert!(err.to_string().contains("make a new plan"), "{err}");

    let err = replay("plan_lock_held.jsonl", 1).await;
    assert!(matches!(err, IacError::StateLocked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("OperationTypeApply"),
        "the lock holder is shown: {err}"
    );

    let err = replay("apply_failed_provisioner.jsonl", 1).await;
    let IacError::Failed { diagnostics, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        diagnostics[0].address.as_deref(),
        Some("terraform_data.app")
    );
    assert!(
        err.to_string()
            .contains("Error: local-exec provisioner error: Error running command"),
        "{err}"
    );

    let err = replay("plan_undeclared_var.jsonl", 1).await;
    assert!(
        err.to_string().contains("Value for undeclared variable"),
        "{err}"
    );
}

#[tokio::test]
async fn apply_errored_is_info_and_the_next_diagnostic_is_the_error() {
    let text = String::from_utf8(read(
        &fixtures("terraform").join("apply_failed_provisioner.jsonl"),
    ))
    .unwrap();
    let messages: Vec<_> = text
        .lines()
        .map(|l| parse_ui_line(l).unwrap().unwrap())
        .collect();
    let at = messages
        .iter()
        .position(|m| matches!(m.event, UiEvent::ApplyErrored(_)))
        .unwrap();
    assert_eq!(messages[at].level, "info");
    let UiEvent::Diagnostic(d) = &messages[at + 1].event else {
        panic!()
    };
    assert_eq!(d.severity, Severity::Error);
    assert!(messages
        .iter()
        .any(|m| matches!(m.event, UiEvent::ProvisionErrored(_))));
}

/// Prepare, plan, apply, outputs, a no-change plan, a stale plan and a stack
/// that was never applied — against real Terraform with the fixture module,
/// and with a mistyped `TF_WORKSPACE` in the environment that must not win.
/// Skipped (with a note) when neither `tofu` nor `terraform` is on PATH.
#[tokio::test]
async fn real_terraform_round_trip() {
    let tool = match bluegreen::iac::discover(&IacPreference::Auto) {
        Ok(tool) => tool,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    // Only this test in this binary starts Terraform; nothing else reads the variable.
    std::env::set_var("TF_WORKSPACE", "mistyped-workspace");
    let work = tempfile::tempdir().unwrap();
    let module = fixtures("modules/sensitive");
    let state = work.path().join("state");
    let stack = Stack::new(
        tool,
        StackDirs {
            root: module.clone(),
            data_dir: work.path().join("data"),
            scratch_dir: work.path().join("scratch"),
            lock_timeout: Duration::from_secs(5),
        },
        Some("round-trip".into()),
        vec![
            (
                "path".into(),
                state.join("default.tfstate").display().to_string(),
            ),
            (
                "workspace_dir".into(),
                state.join("workspaces").display().to_string(),
            ),
        ],
        vec![],
        vec![("revision".into(), "1".into())],
    );
    let mut log = Vec::new();
    stack
        .prepare(&mut |m| log.push(m.message.clone()))
        .await
        .unwrap();
    assert!(state.join("workspaces/round-trip").is_dir());
    assert!(!state.join("workspaces/mistyped-workspace").exists());

    let first = work.path().join("first.tfplan");
    let planned = stack
        .plan(&first, &mut |m| log.push(m.message.clone()))
        .await
        .unwrap();
    assert!(planned.has_changes);
    assert_eq!(planned.summary.add, 2);
    assert!(!planned.redacted_plan.raw().get().contains(SECRET));
    assert!(!format!("{planned:?}").contains(SECRET));
    let applied = stack.apply(&first, &mut |_| {}).await.unwrap();
    assert_eq!(applied.change_summary.unwrap().add, 2);
    assert!(log.iter().all(|line| !line.contains(SECRET)));

    let outputs = stack.outputs().await.unwrap();
    assert_eq!(outputs.require_string("secret").unwrap(), SECRET);
    assert!(!format!("{outputs:?}").contains(SECRET));

    let again = stack
        .plan(&work.path().join("again.tfplan"), &mut |_| {})
        .await
        .unwrap();
    assert!(!again.has_changes);

    let with_revision = |revision: &str| Stack {
        vars: vec![("revision".into(), revision.into())],
        ..stack.clone()
    };
    let (a, b) = (work.path().join("a.tfplan"), work.path().join("b.tfplan"));
    with_revision("2").plan(&a, &mut |_| {}).await.unwrap();
    with_revision("3").plan(&b, &mut |_| {}).await.unwrap();
    stack.apply(&b, &mut |_| {}).await.unwrap();
    let err = stack.apply(&a, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, IacError::StalePlan { .. }), "{err:?}");

    let never = Stack {
        workspace: Some("never-applied".into()),
        ..stack.clone()
    };
    assert!(!never.prepare_existing(&mut |_| {}).await.unwrap());
    assert!(!state.join("workspaces/never-applied").exists());
    assert!(stack.prepare_existing(&mut |_| {}).await.unwrap());
    std::env::remove_var("TF_WORKSPACE");

    // Terraform wrote nothing into the module.
    let stray: Vec<_> = walk(&module)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "tf"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
