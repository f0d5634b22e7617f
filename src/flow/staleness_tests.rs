//! `what_moved`, one row per fact a plan was made against.

use super::*;
use crate::domain::color::Color;

/// A format-1 body planned against blue 100 on two routes, three states, after deployment d1.
fn body() -> PlanBody {
    let text = r#"{"approval_required":false,"approval_wait_ms":0,"bluegreen_version":"0.1.0","created_at":"x","created_by":"u@h","desired":1,"env":"local","env_arg":"local","env_file_sha256":"aa","health_timeout_ms":1,"idle_color":"green","image":{"digest":"sha256:1","ecr":true,"pinned":"r@sha256:1","requested":"r:1","tag":"1"},"last_deployment":"d1","live_color":"blue","poll_interval_ms":2,"post_bake_ms":0,"routes":[{"route":"l1","weights":{"blue":100,"green":0}},{"route":"r2","weights":{"blue":100,"green":0}}],"safety":{"allowed":false,"findings":[],"protected":[]},"scale_down":false,"schedule":[{"bake_ms":0,"kind":"weight","percent":100}],"schedule_text":"100%","signals":[],"states":{"idle":null,"live":{"lineage":"L","serial":2},"shared":{"lineage":"S","serial":5}},"strategy":"all-at-once","termination_wait_ms":0,"terraform":{"add":0,"change":0,"changes":[],"destroy":0,"has_changes":false,"redacted_plan":null,"replace":0,"tool":"tofu","version":"1"},"worst_case":"1ms","worst_case_ms":1}"#;
    serde_json::from_str(text).unwrap()
}

fn meta(serial: u64, lineage: &str) -> Option<StateMeta> {
    Some(StateMeta {
        serial,
        lineage: lineage.into(),
    })
}

/// The world exactly as `body()` was planned against.
fn same() -> Now {
    let blue = Weights::all_on(Color::Blue);
    Now {
        env_file_sha256: "aa".into(),
        latest: Some("d1".into()),
        routes: vec![("l1".into(), blue), ("r2".into(), blue)],
        states: States {
            shared: meta(5, "S"),
            live: meta(2, "L"),
            idle: None,
        },
        image_exists: Some(true),
    }
}

/// A change to the world.
type Change = fn(&mut Now);

#[test]
fn each_fact_that_moved_is_named() {
    let cases: Vec<(&str, Change, &str)> = vec![
        ("nothing", |_| {}, ""),
        ("env file", |n| n.env_file_sha256 = "bb".into(), "the environment file bluegreen.hcl changed since the plan was made"),
        ("newest deployment", |n| n.latest = Some("d2".into()), "the journal's newest is d2 (the plan was made after d1)"),
        ("journal emptied", |n| n.latest = None, "the journal's newest is none (the plan was made after d1)"),
        ("a route more", |n| n.routes.push(("r3".into(), Weights::default())), "the plan knew 2, the shared stack has 3 now"),
        ("a route renamed", |n| n.routes[1].0 = "r9".into(), "the plan knew 2, the shared stack has 2 now"),
        ("shared state", |n| n.states.shared = meta(6, "S"), "the shared stack's Terraform state moved: planned against serial 5 lineage S, now serial 6 lineage S"),
        ("idle state appeared", |n| n.states.idle = meta(1, "I"), "the idle stack's Terraform state moved: planned against no state, now serial 1 lineage I"),
        ("live state gone", |n| n.states.live = None, "the live stack's Terraform state moved: planned against serial 2 lineage L, now no state"),
        ("image gone", |n| n.image_exists = Some(false), "the planned image r@sha256:1 is no longer in ECR"),
        ("image not checked", |n| n.image_exists = None, ""),
    ];
    for (name, change, expected) in cases {
        let mut now = same();
        change(&mut now);
        let moved = what_moved(&body(), &now, std::path::Path::new("bluegreen.hcl"));
        if expected.is_empty() {
            assert!(moved.is_empty(), "{name}: {moved:?}");
        } else {
            assert_eq!(moved.len(), 1, "{name}: {moved:?}");
            assert!(moved[0].contains(expected), "{name}: {moved:?}");
        }
    }
}

#[test]
fn traffic_moved_is_named_per_route_and_everything_is_listed() {
    let mut now = same();
    now.routes[1].1 = Weights {
        blue: 50,
        green: 50,
    };
    now.latest = Some("d2".into());
    let moved = what_moved(&body(), &now, std::path::Path::new("f"));
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(moved[0].starts_with("another deployment ran"));
    assert_eq!(
        moved[1],
        format!(
            "production traffic moved on r2: planned against {}, now {}",
            Weights::all_on(Color::Blue),
            Weights {
                blue: 50,
                green: 50
            }
        )
    );
}

#[test]
fn the_live_state_counts_only_when_the_plan_had_a_live_color() {
    let mut body = body();
    body.spec.old = None;
    let mut now = same();
    now.states.live = None;
    assert!(what_moved(&body, &now, std::path::Path::new("f")).is_empty());
}
