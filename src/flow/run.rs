//! Running one deployment: its schedule, its journal record, and the driver of the state machine from the first route change to the end.

use crate::config::OldColor;
use crate::domain::color::{Color, Weights};
use crate::domain::{DeploymentSpec, ListenerView, Machine, Outcome, Schedule, Strategy, Until};
use crate::error::Error;
use crate::flow::context::{Aws, Ctx};
use crate::flow::drive::{Driver, Ended, OldService, Routes};
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::provision::{prepare_new_color, Provision};
use crate::flow::readings::SignalReader;
use crate::flow::session::Session;
use crate::flow::target::Target;
use crate::iac::IacTool;
use crate::report::Event;
use crate::state::journal::{CommandKind, FinalOutcome, Start};
use crate::state::{Entry, Writer};
use serde::Serialize;
use std::time::Duration;

/// What the driver needs besides the machine: the shared stack and the old color's outputs
/// (for the scale-down).
pub struct Stacks<'a> {
    pub shared: &'a SharedOutputs,
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
    stacks: &Stacks<'_>,
    machine: Machine,
) -> Result<(), Error> {
    let spec = machine.spec().clone();
    let before = routes.primary().weights();
    let outcome = drive(ctx, aws, session, routes, out, stacks, machine).await?;
    let ended = Ending {
        spec: &spec,
        before,
        out,
    };
    match outcome {
        Outcome::Promoted {
            scaled_down,
            scale_down_error,
        } => {
            ended
                .promoted(ctx, session, scaled_down, scale_down_error)
                .await
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
            ended.unfinished(ctx, session, outcome)
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

/// The driver of `machine` over the new color's signals, to the machine's outcome; a lost lock
/// ends it at once.
async fn drive(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    routes: Routes<'_>,
    out: &ServiceOutputs,
    stacks: &Stacks<'_>,
    machine: Machine,
) -> Result<Outcome, Error> {
    let idle = machine.spec().new;
    let target = Target {
        color: idle,
        cluster: &out.cluster_name,
        service: &out.service_name,
        target_group: stacks.shared.target_groups.of(idle),
        task_definition: &out.task_definition_arn,
        desired: ctx.cfg.service.desired_count as i32,
    };
    let signals = SignalReader::new(&ctx.cfg.health, target).map_err(Error::Internal)?;
    let driver = Driver {
        ctx,
        aws,
        routes,
        signals,
        old_service: stacks.live_out.map(|o| OldService {
            cluster: o.cluster_name.clone(),
            service: o.service_name.clone(),
        }),
        session,
        schedule: machine.spec().schedule.to_string(),
    };
    match driver.run(machine).await {
        Ended::Machine(o) => Ok(o),
        // Someone else may hold the lock now: no record, no write, no rollback from here.
        // Every write goes through the fence, so this is true, not hoped.
        Ended::LockLost { weights, why } => Err(Error::RollbackFailed {
            reason: format!(
                "the environment lock was taken from this deploy ({why}); the weights it last verified were {weights}"
            ),
            restore_error: "bluegreen stopped and made no further change to the production \
                routes or services (every write is checked against the lock first); check \
                them with `bluegreen status`"
                .into(),
        }),
    }
}

/// How a deployment that ran its machine is reported.
struct Ending<'a> {
    spec: &'a DeploymentSpec,
    /// The production weights when the machine started.
    before: Weights,
    out: &'a ServiceOutputs,
}

impl Ending<'_> {
    async fn promoted(
        &self,
        ctx: &Ctx,
        session: &mut Session,
        scaled_down: bool,
        scale_down_error: Option<String>,
    ) -> Result<(), Error> {
        let (live, idle, image) = (self.spec.old, self.spec.new, &self.spec.image);
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
        let mut result = DeployResult::of("deployed", ctx, self.spec, wanted, self.out);
        result.deployment = Some(session.deployment().to_string());
        result.live_color = Some(idle);
        result.old_color_scaled_down = scaled_down;
        ctx.out.result(&message, &result);
        Ok(())
    }

    /// Not an end: the deployment stays unfinished (no `finished` record) for `resume`.
    fn unfinished(&self, ctx: &Ctx, session: &Session, outcome: Outcome) -> Result<(), Error> {
        let (live, idle) = (self.spec.old, self.spec.new);
        let env = &ctx.cfg.env_arg;
        let id = session.deployment().to_string();
        let weights = match &outcome {
            Outcome::Stopped {
                at: Until::Weight(p),
            } => crate::domain::split(live, idle, *p),
            _ => self.before,
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
        let mut result = DeployResult::of(outcome_str, ctx, self.spec, weights, self.out);
        result.deployment = Some(id.clone());
        result.live_color = weights.live_color().or(live);
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
    let fix = "fix the `strategy` block or the --strategy flag (docs/strategies.md)";
    let schedule = crate::flow::spec::expand(&strategy, fix)?;
    Ok((strategy, schedule))
}

/// Journals the `started` record (nothing is provisioned or moved before it is durable), then
/// the takeover of a stale lock, if there was one.
pub async fn begin_deployment(ctx: &Ctx, session: &mut Session, start: Start) -> Result<(), Error> {
    session.write(Entry::Started(start)).await?;
    session.record_takeover(ctx).await;
    Ok(())
}

/// Provisions `spec`'s new color as `provision` says, brings it to full size and points the
/// test listener at it. Production traffic never moved: a failure ends the deployment.
pub async fn provision_new_color(
    ctx: &Ctx,
    tool: &IacTool,
    aws: &Aws,
    session: &mut Session,
    shared: &SharedOutputs,
    spec: &DeploymentSpec,
    provision: Provision<'_>,
) -> Result<ServiceOutputs, Error> {
    let (new, image) = (spec.new, spec.image.as_str());
    let prepared = prepare_new_color(ctx, tool, aws, session, shared, new, image, provision).await;
    session.failed_unless_ok(ctx, prepared).await
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
    let env = &ctx.cfg.env_arg;
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
        if s.started_by() == CommandKind::Rebuild {
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

impl<'a> DeployResult<'a> {
    /// The result line of `spec` with `outcome`, production at `weights`, the new color's
    /// service `out`; the deployment id, live color and scale-down are the caller's to set.
    pub fn of(
        outcome: &'a str,
        ctx: &'a Ctx,
        spec: &'a DeploymentSpec,
        weights: Weights,
        out: &ServiceOutputs,
    ) -> DeployResult<'a> {
        DeployResult {
            outcome,
            env: &ctx.cfg.name,
            deployment: None,
            image: spec.image.clone(),
            strategy: &spec.strategy,
            live_color: spec.old,
            previous_color: spec.old,
            weights,
            service: out.service_name.clone(),
            task_definition: out.task_definition_arn.clone(),
            old_color_scaled_down: false,
        }
    }
}
