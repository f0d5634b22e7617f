//! Running one deployment: its schedule, its journal record, and the driver of the state machine from the first route change to the end.

use crate::config::OldColor;
use crate::domain::color::{Color, Weights};
use crate::domain::{ListenerView, Machine, Outcome, Plan, Schedule, Strategy, Until};
use crate::error::Error;
use crate::flow::context::{Aws, Ctx};
use crate::flow::drive::{Driver, Ended, OldService, Routes};
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::readings::SignalReader;
use crate::flow::session::Session;
use crate::flow::target::Target;
use crate::report::Event;
use crate::state::journal::{FinalOutcome, Start};
use crate::state::{Entry, Holder, Writer};
use serde::Serialize;
use std::time::Duration;

/// What the result line of a deploy (or a resumed one) reports.
pub struct Shift<'a> {
    pub strategy: &'a str,
    pub image: &'a str,
    pub shared: &'a SharedOutputs,
    /// The old color's outputs, for the scale-down.
    pub live_out: Option<&'a ServiceOutputs>,
}

/// Runs the state machine to its end, journals the final record, and turns the outcome into
/// the command's result.
pub async fn run_machine(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    routes: Routes<'_>,
    out: &ServiceOutputs,
    shift: &Shift<'_>,
    machine: Machine,
) -> Result<(), Error> {
    let plan = machine.plan().clone();
    let (live, idle) = (plan.old, plan.new);
    let image = shift.image;
    let before = routes.primary().weights();
    let tgs = &shift.shared.target_groups;
    let target = Target {
        color: idle,
        cluster: &out.cluster_name,
        service: &out.service_name,
        target_group: tgs.of(idle),
        task_definition: &out.task_definition_arn,
        desired: ctx.cfg.service.desired_count as i32,
    };
    let signals = SignalReader::new(&ctx.cfg.health, target).map_err(Error::Internal)?;
    let driver = Driver {
        ctx,
        aws,
        routes,
        signals,
        old_service: shift.live_out.map(|o| OldService {
            cluster: o.cluster_name.clone(),
            service: o.service_name.clone(),
        }),
        session,
        schedule: plan.schedule.to_string(),
    };
    let outcome = match driver.run(machine).await {
        Ended::Machine(o) => o,
        Ended::LockLost { weights, why } => {
            // Someone else may hold the lock now: no record, no write, no rollback from here.
            // Every write goes through the fence, so this is true, not hoped.
            return Err(Error::RollbackFailed {
                reason: format!(
                    "the environment lock was taken from this deploy ({why}); the weights it last verified were {weights}"
                ),
                restore_error: "bluegreen stopped and made no further change to the production \
                    routes or services (every write is checked against the lock first); check \
                    them with `bluegreen status`"
                    .into(),
            });
        }
    };

    match outcome {
        Outcome::Promoted {
            scaled_down,
            scale_down_error,
        } => {
            if let Some(e) = &scale_down_error {
                ctx.out.emit(Event::Warning {
                    message: format!(
                        "traffic is fully on {idle}, but scaling the old color down failed: {e}"
                    ),
                });
            }
            let wanted = Weights::all_on(idle);
            let old = match (live, scaled_down) {
                (Some(l), true) => format!("; {l} was scaled to 0 after the termination wait"),
                (Some(l), false) => format!("; {l} stays provisioned at full size for rollback"),
                (None, _) => String::new(),
            };
            let message =
                format!("deployed {image} to {idle}: every production route reads {wanted}{old}");
            session
                .finish(ctx, FinalOutcome::Deployed, message.clone(), None)
                .await;
            let result = DeployResult {
                outcome: "deployed",
                env: &ctx.cfg.name,
                deployment: Some(session.deployment().to_string()),
                image: image.to_string(),
                strategy: shift.strategy,
                live_color: Some(idle),
                previous_color: live,
                weights: wanted,
                service: out.service_name.clone(),
                task_definition: out.task_definition_arn.clone(),
                old_color_scaled_down: scaled_down,
            };
            ctx.out.result(&message, &result);
            Ok(())
        }
        Outcome::RolledBack { failure } => {
            let signal = Some(failure.signal.clone());
            session
                .finish(ctx, FinalOutcome::RolledBack, failure.to_string(), signal)
                .await;
            Err(Error::RolledBack {
                reason: failure.to_string(),
                restored: before.live_color(),
                weights: before,
            })
        }
        Outcome::RollbackFailed { failure, error } => {
            let detail = format!("{failure}; restore failed: {error}");
            let signal = Some(failure.signal.clone());
            session
                .finish(ctx, FinalOutcome::RollbackFailed, detail, signal)
                .await;
            Err(Error::RollbackFailed {
                reason: failure.to_string(),
                restore_error: error,
            })
        }
        Outcome::AwaitingApproval | Outcome::Stopped { .. } => {
            // Not an end: the deployment stays unfinished (no `finished` record) for `resume`.
            let env = &ctx.cfg.name;
            let id = session.deployment().to_string();
            let weights = match &outcome {
                Outcome::Stopped {
                    at: crate::domain::Until::Weight(p),
                } => crate::domain::split(live, idle, *p),
                _ => before,
            };
            let (outcome_str, message) = match &outcome {
                Outcome::Stopped { at } => (
                    "stopped",
                    format!(
                        "deployment {id} stopped at {at} (--until): production reads {weights}; \
                         `bluegreen resume --env {env}` continues it, `bluegreen rollback --env {env}` ends it"
                    ),
                ),
                _ => (
                    "awaiting_approval",
                    format!(
                        "deployment {id}: {idle} passed every signal with test traffic only and \
                         waits for approval; production traffic was not moved ({weights})"
                    ),
                ),
            };
            let result = DeployResult {
                outcome: outcome_str,
                env,
                deployment: Some(id.clone()),
                image: image.to_string(),
                strategy: shift.strategy,
                live_color: weights.live_color().or(live),
                previous_color: live,
                weights,
                service: out.service_name.clone(),
                task_definition: out.task_definition_arn.clone(),
                old_color_scaled_down: false,
            };
            ctx.out.result(&message, &result);
            match outcome {
                Outcome::Stopped { .. } => Ok(()),
                _ => Err(Error::AwaitingApproval {
                    message: format!("deployment {id} waits for approval"),
                    next: format!(
                        "`bluegreen approve --env {env} [--comment TEXT]`, then \
                         `bluegreen resume --env {env}`; `bluegreen rollback --env {env}` ends it"
                    ),
                }),
            }
        }
        Outcome::Abandoned { observed } => {
            let reason = format!(
                "someone else changed the production listener to {observed} while the deploy ran"
            );
            session
                .finish(ctx, FinalOutcome::Abandoned, reason.clone(), None)
                .await;
            Err(Error::RollbackFailed {
                reason,
                restore_error: "bluegreen stopped and did not touch the listener again".into(),
            })
        }
    }
}

pub fn announce_schedule(ctx: &Ctx, strategy: &Strategy, schedule: &Schedule) {
    let scale_down = ctx.cfg.promotion.old_color == OldColor::ScaleDown;
    let (_, words) = worst_case(ctx, schedule, scale_down);
    ctx.step(format!("strategy {}: {schedule}", strategy.name()));
    ctx.info(format!("worst case after provisioning: {words}"));
}

/// The longest a deploy can take after provisioning, and the sum in words: settling, the
/// schedule (bakes and read-back timeouts), the post-promotion bake and, when the old color is
/// scaled down, the termination wait.
pub fn worst_case(ctx: &Ctx, schedule: &Schedule, scale_down: bool) -> (Duration, String) {
    let worst = schedule.worst_case(ctx.cfg.traffic.verify_timeout);
    let p = &ctx.cfg.promotion;
    let settle = ctx.cfg.health.timeout;
    let wait = if scale_down {
        p.termination_wait
    } else {
        Duration::ZERO
    };
    let total = settle + worst.total + p.bake + wait;
    let h = |d: Duration| humantime::format_duration(d).to_string();
    let words = format!(
        "{} = settling ≤ {} + schedule {worst} + post-promotion bake {}{}",
        h(total),
        h(settle),
        h(p.bake),
        if scale_down {
            format!(" + termination wait {}", h(wait))
        } else {
            " (the old color is kept warm)".into()
        }
    );
    (total, words)
}

/// `--strategy` (or else the environment's strategy) and the schedule it expands to.
pub fn strategy_and_schedule(
    ctx: &Ctx,
    strategy: Option<Strategy>,
) -> Result<(Strategy, Schedule), Error> {
    let strategy = strategy.unwrap_or_else(|| ctx.cfg.strategy.clone());
    let schedule = strategy.schedule().map_err(|e| {
        Error::bad_input(
            format!("strategy {}: {e}", strategy.name()),
            "fix the `strategy` block or the --strategy flag (docs/strategies.md)",
        )
    })?;
    Ok((strategy, schedule))
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

/// The `started` record: everything `resume` needs to carry out exactly this deployment.
pub fn start_record(ctx: &Ctx, image: &str, strategy: &str, before: Weights, plan: &Plan) -> Start {
    let me = Holder::this_process("deploy", "");
    Start {
        command: None,
        user: me.user,
        host: me.host,
        pid: me.pid,
        image: image.to_string(),
        old: plan.old,
        new: plan.new,
        before,
        strategy: strategy.to_string(),
        // What will run: a first deploy's schedule is all-at-once whatever was configured.
        steps: Start::steps_of(&plan.schedule),
        health_timeout_ms: plan.health_timeout.as_millis() as u64,
        post_bake_ms: plan.post_bake.as_millis() as u64,
        termination_wait_ms: plan.termination_wait.as_millis() as u64,
        scale_down: plan.scale_down,
        desired: ctx.cfg.service.desired_count,
        approval_required: plan.approval.is_some(),
        image_requested: None,
        plan_artifact: None,
        unsafe_plan_allowed: Vec::new(),
    }
}

/// Refuses while an earlier deployment is unfinished: it must be resumed or rolled back first.
/// A takeover of that deployment's lock is recorded in its journal.
pub async fn refuse_if_unfinished(ctx: &Ctx, session: &mut Session) -> Result<(), Error> {
    let Some((s, records)) = session.store.unfinished().await? else {
        return Ok(());
    };
    if let Some((previous, reason)) = session.guard.took_over.clone() {
        if previous.holder.deployment == s.id {
            let mut w = Writer::continuing(&s.id, &records).fenced(session.guard.fence().token());
            let e = Entry::LockTakenOver { previous, reason };
            if let Err(err) = w.write(&session.store, e).await {
                ctx.out.emit(Event::Warning {
                    message: format!("could not record the lock takeover: {err}"),
                });
            }
        }
    }
    let env = &ctx.cfg.name;
    Err(Error::refused(
        format!(
            "deployment {} ({} of {}, started {} by {}) was interrupted; it stopped at: {}",
            s.id,
            s.command,
            s.image.as_deref().unwrap_or("no image"),
            s.started,
            s.user,
            s.step
        ),
        if s.command == crate::flow::run::REBUILD {
            // A rebuild without --swap never moved traffic: there is nothing to resume.
            format!(
                "it never moved production traffic: re-run `bluegreen rebuild --env {env}` \
                 (it ends this one), or end it with `bluegreen rollback --env {env}` \
                 (docs/operations.md)"
            )
        } else {
            format!(
                "continue it with `bluegreen resume --env {env}`, or put traffic back with \
                 `bluegreen rollback --env {env}` (docs/operations.md)"
            )
        },
    ))
}

pub fn live_color_of(view: &ListenerView) -> Result<Option<Color>, Error> {
    match view {
        ListenerView::NotForwarding { .. } => Ok(None),
        ListenerView::Forwarding { weights, .. } => match weights.live_color() {
            Some(c) => Ok(Some(c)),
            None => Err(Error::refused(
                format!(
                    "production traffic is split ({weights}); a deploy starts from one live color"
                ),
                "put all traffic on one color first: `bluegreen rollback --env ENV --to COLOR`",
            )),
        },
    }
}

/// The journal's `command` of a rebuild without `--swap`.
pub const REBUILD: &str = "rebuild";

/// The journal's `command` of a rebuild with `--swap`.
pub const REBUILD_SWAP: &str = "rebuild --swap";

#[derive(Debug, Serialize)]
pub struct DeployResult<'a> {
    pub outcome: &'a str,
    pub env: &'a str,
    /// The journal's id for this deployment (`bluegreen history`).
    pub deployment: Option<String>,
    pub image: String,
    pub strategy: &'a str,
    /// `null` only while nothing is live yet (a first deploy stopped before production).
    pub live_color: Option<Color>,
    pub previous_color: Option<Color>,
    pub weights: Weights,
    pub service: String,
    pub task_definition: String,
    pub old_color_scaled_down: bool,
}
