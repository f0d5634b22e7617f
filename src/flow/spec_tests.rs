//! The rules of `deployment_spec`, one row per command and difference.

use super::*;
use crate::domain::Step;
use crate::state::journal::{recorded_schedule, StepRecord};

/// A format-1 artifact body: all-at-once, no gate, desired 1.
const BODY: &str = r#"{"approval_required":false,"approval_wait_ms":0,"bluegreen_version":"0.1.0","created_at":"x","created_by":"u@h","desired":1,"env":"local","env_arg":"local","env_file_sha256":"cd","health_timeout_ms":1,"idle_color":"blue","image":{"digest":null,"ecr":false,"pinned":"nginx:1","requested":"nginx:1","tag":"1"},"last_deployment":null,"live_color":"green","poll_interval_ms":2,"post_bake_ms":0,"routes":[],"safety":{"allowed":false,"findings":[],"protected":[]},"scale_down":false,"schedule":[{"bake_ms":0,"kind":"weight","percent":100}],"schedule_text":"100%","signals":["ecs-service","target-health"],"states":{"idle":null,"live":null,"shared":null},"strategy":"all-at-once","termination_wait_ms":0,"terraform":{"add":0,"change":0,"changes":[],"destroy":0,"has_changes":false,"redacted_plan":null,"replace":0,"tool":"tofu","version":"1.8.0"},"worst_case":"1ms","worst_case_ms":1}"#;

const S: Duration = Duration::from_secs(1);

fn today() -> Today {
    Today {
        env: "staging".into(),
        strategy: Strategy::Canary {
            percent: 20,
            bake: 60 * S,
        },
        health_timeout: 600 * S,
        poll_interval: 5 * S,
        post_bake: 120 * S,
        termination_wait: 300 * S,
        scale_down: true,
        desired: 2,
        approval: Gate::required(3600 * S),
        signals: vec!["ecs-service".into(), "alarm:x".into()],
    }
}

fn resolved(requested: &str, pinned: &str) -> Resolved {
    Resolved {
        requested: requested.into(),
        pinned: pinned.into(),
        digest: None,
        tag: None,
        ecr: requested != pinned,
    }
}

fn new(old: Option<Color>, old_provisioned: bool, until: Option<Until>) -> DeploymentSpec {
    let image = resolved("app:1", "app@sha256:1");
    let source = Source::New {
        strategy: None,
        image: &image,
        old,
        new: Color::Green,
        old_provisioned,
        until,
    };
    deployment_spec(&today(), source).unwrap()
}

/// What a journal holds: the gate required, no wait, no signals (the journal keeps neither).
fn journaled() -> Start {
    let mut spec = new(Some(Color::Blue), true, None);
    spec.approval.wait = Duration::ZERO;
    spec.poll_interval = Duration::ZERO;
    spec.signals.clear();
    start_record(CommandKind::Deploy, Weights::all_on(Color::Blue), &spec)
}

fn resume(start: &Start, approved: bool, until: Option<Until>) -> Result<DeploymentSpec, Error> {
    let source = Source::Journal {
        start,
        deployment: "d1",
        approved,
        until,
    };
    deployment_spec(&today(), source)
}

#[test]
fn deploy_takes_the_file_and_the_flags() {
    let spec = new(Some(Color::Blue), true, Some(Until::Weight(20)));
    assert_eq!(spec.image, "app@sha256:1");
    assert_eq!(spec.image_requested.as_deref(), Some("app:1"));
    assert_eq!(spec.strategy, "canary");
    assert_eq!(spec.schedule.to_string(), "20% for 1m → 100%");
    assert_eq!(spec.approval, Gate::required(3600 * S));
    assert_eq!(spec.signals, today().signals);
    assert_eq!(spec.until, Some(Until::Weight(20)));
    assert!(spec.scale_down);
}

#[test]
fn scale_down_needs_an_old_color_with_a_stack() {
    // (old color, its stack has outputs) → scale_down, with the file saying scale-down.
    for (old, provisioned, scale_down) in [
        (Some(Color::Blue), true, true),
        (Some(Color::Blue), false, false),
        (None, false, false),
    ] {
        assert_eq!(
            new(old, provisioned, None).scale_down,
            scale_down,
            "{old:?}"
        );
    }
}

#[test]
fn a_first_deploy_is_all_at_once_and_stops_only_at_100() {
    let spec = new(None, false, Some(Until::Weight(100)));
    assert_eq!(spec.schedule, Schedule::all_at_once());
    let image = resolved("app:1", "app:1");
    let source = Source::New {
        strategy: None,
        image: &image,
        old: None,
        new: Color::Blue,
        old_provisioned: false,
        until: Some(Until::Weight(20)),
    };
    let err = deployment_spec(&today(), source).unwrap_err().to_string();
    assert!(
        err.contains("(a first deploy moves all traffic at once)"),
        "{err}"
    );
}

#[test]
fn a_strategy_flag_replaces_the_files() {
    let image = resolved("app:1", "app:1");
    let source = Source::New {
        strategy: Some(Strategy::AllAtOnce),
        image: &image,
        old: Some(Color::Blue),
        new: Color::Green,
        old_provisioned: true,
        until: None,
    };
    let spec = deployment_spec(&today(), source).unwrap();
    assert_eq!(
        (spec.strategy.as_str(), spec.image_requested),
        ("all-at-once", None)
    );
}

#[test]
fn resume_keeps_the_journal_but_takes_todays_wait_poll_and_signals() {
    let start = journaled();
    // (approved, until) → gate still closed
    for (approved, required) in [(false, true), (true, false)] {
        let spec = resume(&start, approved, Some(Until::TestTraffic)).unwrap();
        assert_eq!(spec.approval.required, required);
        assert_eq!(spec.approval.wait, 3600 * S, "today's approval.wait");
        assert_eq!(spec.poll_interval, 5 * S);
        assert_eq!(spec.signals, today().signals);
        assert_eq!(spec.until, Some(Until::TestTraffic));
        assert_eq!(spec.schedule, start.spec.schedule);
        assert_eq!(spec.post_bake, start.spec.post_bake);
    }
}

#[test]
fn resume_refuses_a_journaled_schedule_it_cannot_run() {
    let mut start = journaled();
    start.spec.schedule = recorded_schedule(&[StepRecord::Weight {
        percent: 50,
        bake_ms: 0,
    }]);
    let err = resume(&start, false, None).unwrap_err();
    assert_eq!(err.exit_code(), crate::exit::REFUSED);
    assert!(
        err.to_string()
            .contains("deployment d1's journal holds a schedule"),
        "{err}"
    );
    let err = resume(&journaled(), false, Some(Until::Weight(50))).unwrap_err();
    assert!(
        err.to_string().contains("(the deployment's schedule)"),
        "{err}"
    );
}

#[test]
fn apply_takes_everything_from_the_artifact_but_until() {
    let body: PlanBody = serde_json::from_str(BODY).unwrap();
    let spec = deployment_spec(
        &today(),
        Source::Artifact {
            body: &body,
            until: Some(Until::TestTraffic),
        },
    )
    .unwrap();
    assert_eq!(spec.until, Some(Until::TestTraffic));
    assert_eq!(spec.approval, Gate::default());
    assert_eq!(spec.desired, 1);
    assert_eq!(
        spec.schedule.steps(),
        [Step::Weight {
            percent: 100,
            bake: Duration::ZERO
        }]
    );
    let err = deployment_spec(
        &today(),
        Source::Artifact {
            body: &body,
            until: Some(Until::Weight(20)),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("(the plan's schedule)"), "{err}");
}

#[test]
fn rebuild_gates_only_a_swap_and_never_stops_early() {
    for (swap, required) in [(false, false), (true, true)] {
        let source = Source::Rebuild {
            image: "app:1".into(),
            live: Color::Blue,
            swap,
        };
        let spec = deployment_spec(&today(), source).unwrap();
        assert_eq!(spec.approval.required, required);
        assert_eq!((spec.old, spec.new), (Some(Color::Blue), Color::Green));
        assert_eq!((spec.until, spec.image_requested), (None, None));
        assert!(spec.scale_down);
    }
}
