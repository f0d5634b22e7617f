//! The one builder of a [`DeploymentSpec`]: `plan`, `deploy`, `apply`, `resume` and `rebuild`
//! all describe their deployment through [`deployment_spec`], so where they differ is written
//! here once (and in the spec's documentation and docs/strategies.md), not in five commands.

use crate::config::{EnvConfig, OldColor};
use crate::domain::color::{Color, Weights};
use crate::domain::image::Resolved;
use crate::domain::{DeploymentSpec, Gate, Schedule, Strategy, Until};
use crate::error::Error;
use crate::flow::planfile::PlanBody;
use crate::state::journal::{CommandKind, Start};
use crate::state::Holder;
use std::time::Duration;

/// What the environment file says today, as far as a deployment takes it.
#[derive(Debug, Clone)]
pub struct Today {
    /// The environment as a command line names it, for hints (`EnvConfig::env_arg`).
    pub env: String,
    pub strategy: Strategy,
    pub health_timeout: Duration,
    pub poll_interval: Duration,
    pub post_bake: Duration,
    pub termination_wait: Duration,
    /// `promotion.old_color = "scale-down"`.
    pub scale_down: bool,
    pub desired: u32,
    pub approval: Gate,
    pub signals: Vec<String>,
}

impl Today {
    pub fn of(cfg: &EnvConfig) -> Today {
        Today {
            env: cfg.env_arg.clone(),
            strategy: cfg.strategy.clone(),
            health_timeout: cfg.health.timeout,
            poll_interval: cfg.health.poll_interval,
            post_bake: cfg.promotion.bake,
            termination_wait: cfg.promotion.termination_wait,
            scale_down: cfg.promotion.old_color == OldColor::ScaleDown,
            desired: cfg.service.desired_count,
            approval: Gate {
                required: cfg.approval.required,
                wait: cfg.approval.wait,
            },
            signals: signal_names(cfg),
        }
    }
}

/// The health signals that gate a deployment, by name.
pub fn signal_names(cfg: &EnvConfig) -> Vec<String> {
    let h = &cfg.health;
    let mut v = vec!["ecs-service".to_string(), "target-health".to_string()];
    if let Some(a) = &h.alarms {
        v.extend(a.names.iter().map(|n| format!("alarm:{n}")));
    }
    v.extend(h.http.iter().map(|c| format!("http:{}", c.name)));
    v
}

/// Where a deployment comes from.
pub enum Source<'a> {
    /// `deploy` and `plan`: a new deployment of `image` from `old` (none on a first deploy)
    /// to `new`. `old_provisioned`: the old color has a stack (outputs) to scale down.
    New {
        strategy: Option<Strategy>,
        image: &'a Resolved,
        old: Option<Color>,
        new: Color,
        old_provisioned: bool,
        until: Option<Until>,
    },
    /// `apply`: the artifact's deployment.
    Artifact {
        body: &'a PlanBody,
        until: Option<Until>,
    },
    /// `resume`: the journal's deployment `deployment`; `approved` when an approval is
    /// journaled.
    Journal {
        start: &'a Start,
        deployment: &'a str,
        approved: bool,
        until: Option<Until>,
    },
    /// `rebuild` of the idle color next to `live`, with `image`.
    Rebuild {
        image: String,
        live: Color,
        swap: bool,
    },
}

/// The deployment `source` describes, checked: its schedule is valid and reaches `until`.
/// The rules are the spec's ([`DeploymentSpec`]); errors are bad input (exit 2), except a
/// journal's schedule this bluegreen refuses (exit 7: roll the deployment back).
pub fn deployment_spec(today: &Today, source: Source<'_>) -> Result<DeploymentSpec, Error> {
    match source {
        Source::New {
            strategy,
            image,
            old,
            new,
            old_provisioned,
            until,
        } => {
            let flag = "fix the `strategy` block or the --strategy flag (docs/strategies.md)";
            let strategy = strategy.unwrap_or_else(|| today.strategy.clone());
            let schedule = expand(&strategy, flag)?;
            check_until(until, &schedule, "")?;
            let mut spec = from_today(today, image.pinned.clone(), old, new, &strategy, schedule);
            spec.image_requested =
                (image.requested != image.pinned).then(|| image.requested.clone());
            spec.scale_down = today.scale_down && old_provisioned && old.is_some();
            spec.until = until;
            if old.is_none() {
                // No old color to share traffic with: one change to 100 %.
                spec.schedule = Schedule::all_at_once();
                let why = " (a first deploy moves all traffic at once)";
                check_until(until, &spec.schedule, why)?;
            }
            Ok(spec)
        }
        Source::Artifact { body, until } => from_artifact(body, until),
        Source::Journal {
            start,
            deployment,
            approved,
            until,
        } => from_journal(today, start, deployment, approved, until),
        Source::Rebuild { image, live, swap } => {
            let strategy = today.strategy.clone();
            let schedule = expand(&strategy, "fix the `strategy` block (docs/strategies.md)")?;
            let mut spec = from_today(today, image, Some(live), live.other(), &strategy, schedule);
            // Without --swap production traffic never moves: there is nothing to approve.
            spec.approval.required = swap && today.approval.required;
            Ok(spec)
        }
    }
}

/// Everything as reviewed; only `until` from the flag.
fn from_artifact(body: &PlanBody, until: Option<Until>) -> Result<DeploymentSpec, Error> {
    let mut spec = body.spec.clone();
    spec.schedule = body.spec.schedule.checked().map_err(|e| {
        Error::bad_input(
            format!("the plan's schedule is invalid: {e}"),
            "make a new plan",
        )
    })?;
    check_until(until, &spec.schedule, " (the plan's schedule)")?;
    spec.until = until;
    Ok(spec)
}

/// Everything as journaled; the gate only until approved; what the journal does not keep
/// (how long to wait at the gate, how often to poll, the signals) from today's file.
fn from_journal(
    today: &Today,
    start: &Start,
    deployment: &str,
    approved: bool,
    until: Option<Until>,
) -> Result<DeploymentSpec, Error> {
    let mut spec = start.spec.clone();
    spec.schedule = start.spec.schedule.checked().map_err(|e| {
        Error::refused(
            format!(
                "deployment {deployment}'s journal holds a schedule this bluegreen refuses: {e}"
            ),
            format!("`bluegreen rollback --env {}`", today.env),
        )
    })?;
    check_until(until, &spec.schedule, " (the deployment's schedule)")?;
    spec.approval = Gate {
        required: start.spec.approval.required && !approved,
        wait: today.approval.wait,
    };
    spec.poll_interval = today.poll_interval;
    spec.signals = today.signals.clone();
    spec.until = until;
    Ok(spec)
}

/// The `started` record of `spec`, written by this process for `command`.
pub fn start_record(command: CommandKind, before: Weights, spec: &DeploymentSpec) -> Start {
    let me = Holder::this_process(command.as_str(), "");
    Start {
        command,
        user: me.user,
        host: me.host,
        pid: me.pid,
        before,
        spec: spec.clone(),
        plan_artifact: None,
        unsafe_plan_allowed: Vec::new(),
    }
}

/// `--until` must name a checkpoint `schedule` reaches (bad input otherwise); `why` is added
/// to the message.
pub fn check_until(until: Option<Until>, schedule: &Schedule, why: &str) -> Result<(), Error> {
    let Some(u) = until else {
        return Ok(());
    };
    u.check(schedule).map_err(|e| {
        Error::bad_input(
            format!("--until {u}: {e}{why}"),
            "pass `--until test-traffic`, or `--until weight:N` with a weight of the schedule",
        )
    })
}

/// `strategy`'s schedule; `fix` says where the strategy came from.
pub fn expand(strategy: &Strategy, fix: &str) -> Result<Schedule, Error> {
    strategy
        .schedule()
        .map_err(|e| Error::bad_input(format!("strategy {}: {e}", strategy.name()), fix))
}

/// A spec with everything from the environment file.
fn from_today(
    today: &Today,
    image: String,
    old: Option<Color>,
    new: Color,
    strategy: &Strategy,
    schedule: Schedule,
) -> DeploymentSpec {
    DeploymentSpec {
        image,
        image_requested: None,
        old,
        new,
        strategy: strategy.name().to_string(),
        schedule,
        health_timeout: today.health_timeout,
        poll_interval: today.poll_interval,
        post_bake: today.post_bake,
        termination_wait: today.termination_wait,
        scale_down: today.scale_down,
        desired: today.desired,
        approval: today.approval,
        signals: today.signals.clone(),
        until: None,
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
