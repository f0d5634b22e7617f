//! The plan artifact's body (format v1, docs/plan-then-deploy.md): what `plan` seals and `apply` checks against the world.

use crate::aws::Resolved;
use crate::domain::color::{Color, Weights};
use crate::domain::{DeploymentSpec, Gate};
use crate::iac::{Finding, StateMeta};
use crate::state::journal::{millis, recorded_schedule, steps_of, StepRecord};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The artifact's body (format version 1; docs/plan-then-deploy.md documents every field). On
/// disk its fields are flat (the private `BodyRecord`); in memory the deployment is one
/// [`DeploymentSpec`] (the artifact keeps no `until`: `apply --until` sets it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "BodyRecord", from = "BodyRecord")]
pub struct PlanBody {
    /// The environment's name, and the `--env` argument the plan was made with.
    pub env: String,
    pub env_arg: String,
    /// sha256 of `bluegreen.hcl` when planned: signals, gates and timeouts come from it.
    pub env_file_sha256: String,
    pub created_at: String,
    pub created_by: String,
    pub bluegreen_version: String,
    /// The image lookup; its `requested` and `pinned` are the spec's `image_requested` and
    /// `image` (written from the spec).
    pub image: Resolved,
    /// Every production route (listener or rule) and its weights when planned.
    pub routes: Vec<RouteWeights>,
    /// The Terraform states the plan was made against (`None`: no state yet).
    pub states: States,
    /// The journal's newest deployment when planned: any later one makes the plan stale.
    pub last_deployment: Option<String>,
    /// The deployment: colors, schedule, timeouts, promotion, signals, the approval gate.
    pub spec: DeploymentSpec,
    /// The schedule in words, as the reviewer read it.
    pub schedule_text: String,
    pub worst_case_ms: u64,
    pub worst_case: String,
    pub terraform: TerraformPart,
    pub safety: SafetyPart,
}

/// [`PlanBody`] as format v1 writes it (the artifact sorts the keys).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyRecord {
    env: String,
    env_arg: String,
    env_file_sha256: String,
    created_at: String,
    created_by: String,
    bluegreen_version: String,
    image: Resolved,
    live_color: Option<Color>,
    idle_color: Color,
    routes: Vec<RouteWeights>,
    states: States,
    last_deployment: Option<String>,
    strategy: String,
    schedule: Vec<StepRecord>,
    schedule_text: String,
    health_timeout_ms: u64,
    poll_interval_ms: u64,
    post_bake_ms: u64,
    termination_wait_ms: u64,
    scale_down: bool,
    desired: u32,
    signals: Vec<String>,
    approval_required: bool,
    approval_wait_ms: u64,
    worst_case_ms: u64,
    worst_case: String,
    terraform: TerraformPart,
    safety: SafetyPart,
}

impl From<PlanBody> for BodyRecord {
    fn from(b: PlanBody) -> BodyRecord {
        let spec = b.spec;
        BodyRecord {
            env: b.env,
            env_arg: b.env_arg,
            env_file_sha256: b.env_file_sha256,
            created_at: b.created_at,
            created_by: b.created_by,
            bluegreen_version: b.bluegreen_version,
            image: Resolved {
                requested: spec.image_requested.unwrap_or_else(|| spec.image.clone()),
                pinned: spec.image,
                ..b.image
            },
            live_color: spec.old,
            idle_color: spec.new,
            routes: b.routes,
            states: b.states,
            last_deployment: b.last_deployment,
            strategy: spec.strategy,
            schedule: steps_of(&spec.schedule),
            schedule_text: b.schedule_text,
            health_timeout_ms: millis(spec.health_timeout),
            poll_interval_ms: millis(spec.poll_interval),
            post_bake_ms: millis(spec.post_bake),
            termination_wait_ms: millis(spec.termination_wait),
            scale_down: spec.scale_down,
            desired: spec.desired,
            signals: spec.signals,
            approval_required: spec.approval.required,
            approval_wait_ms: millis(spec.approval.wait),
            worst_case_ms: b.worst_case_ms,
            worst_case: b.worst_case,
            terraform: b.terraform,
            safety: b.safety,
        }
    }
}

impl From<BodyRecord> for PlanBody {
    fn from(r: BodyRecord) -> PlanBody {
        let ms = Duration::from_millis;
        let spec = DeploymentSpec {
            image: r.image.pinned.clone(),
            image_requested: (r.image.requested != r.image.pinned)
                .then(|| r.image.requested.clone()),
            old: r.live_color,
            new: r.idle_color,
            strategy: r.strategy,
            schedule: recorded_schedule(&r.schedule),
            health_timeout: ms(r.health_timeout_ms),
            poll_interval: ms(r.poll_interval_ms),
            post_bake: ms(r.post_bake_ms),
            termination_wait: ms(r.termination_wait_ms),
            scale_down: r.scale_down,
            desired: r.desired,
            approval: Gate {
                required: r.approval_required,
                wait: ms(r.approval_wait_ms),
            },
            signals: r.signals,
            until: None,
        };
        PlanBody {
            env: r.env,
            env_arg: r.env_arg,
            env_file_sha256: r.env_file_sha256,
            created_at: r.created_at,
            created_by: r.created_by,
            bluegreen_version: r.bluegreen_version,
            image: r.image,
            routes: r.routes,
            states: r.states,
            last_deployment: r.last_deployment,
            spec,
            schedule_text: r.schedule_text,
            worst_case_ms: r.worst_case_ms,
            worst_case: r.worst_case,
            terraform: r.terraform,
            safety: r.safety,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWeights {
    pub route: String,
    pub weights: Weights,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct States {
    pub shared: Option<StateMeta>,
    pub live: Option<StateMeta>,
    pub idle: Option<StateMeta>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformPart {
    pub tool: String,
    pub version: String,
    pub has_changes: bool,
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    /// Every resource change that is not a no-op: address, action, reason.
    pub changes: Vec<ChangeLine>,
    /// `show -json` of the saved plan with every sensitive value redacted.
    pub redacted_plan: crate::iac::RedactedPlan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLine {
    pub address: String,
    pub action: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyPart {
    pub protected: Vec<String>,
    pub findings: Vec<Finding>,
    /// `--allow-unsafe-plan` was given: the findings above were let through on purpose.
    pub allowed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bodies as the code before `DeploymentSpec` wrote them (sorted keys, as the artifact keeps
    /// them): a tag resolved in ECR with an approval gate and a finding let through, and a
    /// reference passed through unchanged with the gate off.
    const OLD_BODIES: [&str; 2] = [
        r#"{"approval_required":true,"approval_wait_ms":3600000,"bluegreen_version":"0.1.0","created_at":"2026-01-02T03:04:05Z","created_by":"ci@h","desired":2,"env":"staging","env_arg":"environments/staging","env_file_sha256":"ab12","health_timeout_ms":600000,"idle_color":"green","image":{"digest":"sha256:9b1d","ecr":true,"pinned":"1.dkr.ecr.us-east-1.amazonaws.com/app@sha256:9b1d","requested":"1.dkr.ecr.us-east-1.amazonaws.com/app:1.4.2","tag":"1.4.2"},"last_deployment":"20261124T151643Z-ba8f","live_color":"blue","poll_interval_ms":5000,"post_bake_ms":120000,"routes":[{"route":"arn:l1","weights":{"blue":100,"green":0}},{"route":"arn:r2","weights":{"blue":100,"green":0}}],"safety":{"allowed":true,"findings":[{"action":"delete","address":"aws_s3_bucket.x","detail":"owned by shared","rule":"foreign-object"}],"protected":["aws_db_instance.*"]},"scale_down":true,"schedule":[{"bake_ms":300000,"kind":"weight","percent":20},{"kind":"pause"},{"bake_ms":0,"kind":"weight","percent":100}],"schedule_text":"20% for 5m → pause → 100%","signals":["ecs-service","target-health","alarm:app-5xx","http:health"],"states":{"idle":null,"live":{"lineage":"l-2","serial":4},"shared":{"lineage":"l-1","serial":9}},"strategy":"steps","termination_wait_ms":300000,"terraform":{"add":1,"change":1,"changes":[{"action":"create","address":"aws_ecs_task_definition.this","reason":null},{"action":"update","address":"aws_ecs_service.this","reason":"x"}],"destroy":0,"has_changes":true,"redacted_plan":{"format_version":"1.2","resource_changes":[]},"replace":0,"tool":"/usr/bin/terraform","version":"1.11.0"},"worst_case":"23m = settling ≤ 10m + schedule 6m + post-promotion bake 2m + termination wait 5m","worst_case_ms":1380000}"#,
        r#"{"approval_required":false,"approval_wait_ms":0,"bluegreen_version":"0.1.0","created_at":"x","created_by":"u@h","desired":1,"env":"local","env_arg":"local","env_file_sha256":"cd","health_timeout_ms":1,"idle_color":"blue","image":{"digest":null,"ecr":false,"pinned":"nginx:1","requested":"nginx:1","tag":"1"},"last_deployment":null,"live_color":"green","poll_interval_ms":2,"post_bake_ms":0,"routes":[],"safety":{"allowed":false,"findings":[],"protected":[]},"scale_down":false,"schedule":[{"bake_ms":0,"kind":"weight","percent":100}],"schedule_text":"100%","signals":["ecs-service","target-health"],"states":{"idle":null,"live":null,"shared":null},"strategy":"all-at-once","termination_wait_ms":0,"terraform":{"add":0,"change":0,"changes":[],"destroy":0,"has_changes":false,"redacted_plan":null,"replace":0,"tool":"tofu","version":"1.8.0"},"worst_case":"1ms","worst_case_ms":1}"#,
    ];

    #[test]
    fn bodies_of_format_1_are_rewritten_byte_for_byte() {
        for text in OLD_BODIES {
            let body: PlanBody = serde_json::from_str(text).unwrap();
            let again = serde_json::to_value(&body).unwrap();
            assert_eq!(serde_json::to_string(&again).unwrap(), text);
        }
    }

    #[test]
    fn a_body_reads_as_its_spec() {
        let body: PlanBody = serde_json::from_str(OLD_BODIES[0]).unwrap();
        let s = &body.spec;
        assert_eq!(s.image, "1.dkr.ecr.us-east-1.amazonaws.com/app@sha256:9b1d");
        assert_eq!(
            s.image_requested.as_deref(),
            Some("1.dkr.ecr.us-east-1.amazonaws.com/app:1.4.2")
        );
        assert_eq!((s.old, s.new), (Some(Color::Blue), Color::Green));
        assert_eq!(s.schedule.steps().len(), 3);
        assert_eq!(s.approval, Gate::required(Duration::from_secs(3600)));
        assert_eq!(s.poll_interval, Duration::from_secs(5));
        assert_eq!(s.until, None);
        let body: PlanBody = serde_json::from_str(OLD_BODIES[1]).unwrap();
        assert_eq!(body.spec.image_requested, None);
    }

    #[test]
    fn an_unknown_field_is_still_refused() {
        let text = OLD_BODIES[1].replacen("{", r#"{"extra":1,"#, 1);
        let err = serde_json::from_str::<PlanBody>(&text).unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }
}
