//! `deploy`: provision the idle color, bring it to full size, then hand over to the state
//! machine, which checks every signal with test traffic only, moves production traffic
//! through the strategy's schedule (verifying every route after every change), bakes, and
//! scales the old color down after the termination wait — or puts traffic back in one change.

use super::context::{Aws, Ctx, StackId};
use super::lock::{after_release, Session};
use super::shift::{Driver, Ended, OldService, Routes};
use super::signals::SignalReader;
use super::wait::Target;
use crate::aws::Resolved;
use crate::aws::Services;
use crate::color::{Color, Weights};
use crate::config::OldColor;
use crate::deploy::{
    read_view, ListenerView, Machine, Outcome, Plan, Schedule, ServiceOutputs, SharedOutputs,
    Strategy, Until,
};
use crate::error::Error;
use crate::iac::{IacTool, Stack};
use crate::image::ImageRef;
use crate::report::Event;
use crate::state::journal::{FinalOutcome, Start};
use crate::state::{Entry, Holder, Writer};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Serialize)]
struct DeployResult<'a> {
    outcome: &'a str,
    env: &'a str,
    /// The journal's id for this deployment (`bluegreen history`).
    deployment: Option<String>,
    image: String,
    strategy: &'a str,
    /// `null` only while nothing is live yet (a first deploy stopped before production).
    live_color: Option<Color>,
    previous_color: Option<Color>,
    weights: Weights,
    service: String,
    task_definition: String,
    old_color_scaled_down: bool,
}

/// What `deploy` was asked to do, validated.
pub struct DeployArgs {
    pub image: ImageRef,
    pub force: bool,
    pub strategy: Option<Strategy>,
    pub until: Option<Until>,
    pub allow_unsafe: bool,
    pub lock_wait: Duration,
}

pub async fn run(ctx: &Ctx, args: DeployArgs) -> Result<(), Error> {
    let (strategy, schedule) = strategy_and_schedule(ctx, args.strategy.clone())?;
    check_until(args.until, &schedule, "")?;
    let tool = ctx.tool()?;
    // Read-only: a missing image is bad input before the lock is even taken.
    let image = super::plan::resolve_image(ctx, &args.image).await?;
    let mut session = Session::begin(ctx, "deploy", args.lock_wait).await?;
    let result = locked(
        ctx,
        &tool,
        &mut session,
        &image,
        &args,
        &strategy,
        &schedule,
    )
    .await;
    after_release(result, session.release().await)
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
        if s.command == super::rebuild::REBUILD {
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

async fn locked(
    ctx: &Ctx,
    tool: &IacTool,
    session: &mut Session,
    resolved: &Resolved,
    args: &DeployArgs,
    strategy: &Strategy,
    schedule: &Schedule,
) -> Result<(), Error> {
    let image = resolved.pinned.as_str();
    let force = args.force;
    refuse_if_unfinished(ctx, session).await?;
    ctx.step(format!(
        "deploying {image} to environment `{}` ({}), deployment {}",
        ctx.cfg.name,
        ctx.cfg.file.display(),
        session.deployment()
    ));
    ctx.info(format!("infrastructure tool: {}", tool.program.display()));
    announce_schedule(ctx, strategy, schedule);

    let shared = ensure_shared(ctx, tool, &session.store).await?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let routes = Routes::read_agreeing(&aws, tgs, &shared.production_routes()).await?;
    let before = routes.primary().clone();
    warn_if_moved_outside(ctx, session, before.weights()).await?;
    let live = live_color_of(&before)?;
    let idle = live.map(Color::other).unwrap_or(Color::Blue);
    ctx.info(match live {
        Some(l) => format!("live color: {l} ({}); idle color: {idle}", before.weights()),
        None => format!("no color is live yet (first deploy); idle color: {idle}"),
    });
    let live_out = match live {
        Some(l) => ctx.color_outputs(tool, l, &shared).await?,
        None => None,
    };

    if let (Some(l), Some(out), false) = (live, &live_out, force) {
        if already_running(&aws, out, image).await? {
            ctx.step(format!(
                "{image} is already live on {l}; nothing to do (use --force to redeploy)"
            ));
            let result = DeployResult {
                outcome: "already_live",
                env: &ctx.cfg.name,
                deployment: None,
                image: image.to_string(),
                strategy: strategy.name(),
                live_color: Some(l),
                previous_color: None,
                weights: before.weights(),
                service: out.service_name.clone(),
                task_definition: out.task_definition_arn.clone(),
                old_color_scaled_down: false,
            };
            ctx.out
                .result(&format!("already live: {image} on {l}"), &result);
            return Ok(());
        }
    }

    // The idle color's Terraform plan, made and checked before anything is journaled.
    let live_color = live.map(|color| super::plan::LiveColor {
        color,
        read: live_out.is_some(),
    });
    let planned = super::plan::plan_idle(
        ctx,
        tool,
        &shared,
        live_color,
        idle,
        image,
        args.allow_unsafe,
    )
    .await?;

    // The plan, durable before anything is provisioned or moved.
    let promotion = &ctx.cfg.promotion;
    let plan = Plan {
        old: live,
        new: idle,
        schedule: schedule.clone(),
        health_timeout: ctx.cfg.health.timeout,
        post_bake: promotion.bake,
        termination_wait: promotion.termination_wait,
        scale_down: promotion.old_color == OldColor::ScaleDown && live_out.is_some(),
        approval: ctx.cfg.approval.required.then_some(ctx.cfg.approval.wait),
        until: args.until,
    };
    let machine = Machine::new(plan);
    if live.is_none() {
        // A first deploy is all-at-once: its only weight checkpoint is 100.
        check_until(
            args.until,
            &machine.plan().schedule,
            " (a first deploy moves all traffic at once)",
        )?;
    }
    let mut start = start_record(
        ctx,
        image,
        strategy.name(),
        before.weights(),
        machine.plan(),
    );
    start.image_requested =
        (resolved.requested != resolved.pinned).then(|| resolved.requested.clone());
    start.unsafe_plan_allowed = planned
        .findings
        .iter()
        .map(super::plan::describe_finding)
        .collect();
    session.write(Entry::Started(start)).await?;
    session.record_takeover(ctx).await;
    if live.is_none() && schedule.steps().len() > 1 {
        ctx.info(
            "first deploy: no color is live to share traffic with, so the schedule is all-at-once",
        );
    }
    let shift = Shift {
        strategy: strategy.name(),
        image,
        shared: &shared,
        live_out: live_out.as_ref(),
    };
    let provision = Provision::Saved {
        stack: &planned.stack,
        plan: &planned.path,
        has_changes: planned.outcome.has_changes,
    };
    let prepared =
        prepare_new_color(ctx, tool, &aws, session, &shared, idle, image, provision).await;
    // Production traffic never moved: a failure here ends the deployment.
    let out = session.failed_unless_ok(ctx, prepared).await?;
    ctx.step(format!(
        "waiting until {idle} passes every signal (test traffic only, at most {})",
        humantime::format_duration(ctx.cfg.health.timeout)
    ));
    run_machine(ctx, &aws, session, routes, &out, &shift, machine).await
}

/// Compares the live weights with where the journal's newest deployment left them: a
/// difference means someone moved traffic outside bluegreen since. Said, not refused (a manual
/// rollback with the AWS CLI is a legitimate thing to have done).
async fn warn_if_moved_outside(ctx: &Ctx, session: &Session, live: Weights) -> Result<(), Error> {
    let Some(last) = session.store.latest().await? else {
        return Ok(());
    };
    if let Some(recorded) = last.last_verified.filter(|w| *w != live) {
        ctx.out.emit(Event::Warning {
            message: format!(
                "the journal's last deployment ({}, {}) left production at {recorded}, but the listener reads {live}: traffic was moved outside bluegreen since",
                last.id,
                last.outcome.map(|o| o.as_str()).unwrap_or("unfinished")
            ),
        });
    }
    Ok(())
}

/// The `started` record: everything `resume` needs to carry out exactly this deployment.
pub(super) fn start_record(
    ctx: &Ctx,
    image: &str,
    strategy: &str,
    before: Weights,
    plan: &Plan,
) -> Start {
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

/// How the new color gets provisioned.
pub enum Provision<'a> {
    /// Plan now and apply that plan (`resume` before `provisioned`, `rebuild`).
    PlanNow,
    /// Apply this saved plan exactly (`deploy`, `apply`); `has_changes` from its
    /// `-detailed-exitcode`.
    Saved {
        stack: &'a Stack,
        plan: &'a std::path::Path,
        has_changes: bool,
    },
    /// `provisioned` is journaled already (a resumed deployment).
    Done(ServiceOutputs),
}

/// Provisions the new color with `image` as `provision` says, brings it to full size and
/// points the test listener at it.
#[allow(clippy::too_many_arguments)]
pub async fn prepare_new_color(
    ctx: &Ctx,
    tool: &IacTool,
    aws: &Aws,
    session: &mut Session,
    shared: &SharedOutputs,
    idle: Color,
    image: &str,
    provision: Provision<'_>,
) -> Result<ServiceOutputs, Error> {
    let tgs = &shared.target_groups;
    let out = match provision {
        Provision::Done(out) => out,
        provision => {
            session.write(Entry::Provisioning { color: idle }).await?;
            ctx.step(format!("provisioning {idle} with {image}"));
            let fresh;
            let stack = match provision {
                Provision::Saved {
                    stack,
                    plan,
                    has_changes,
                } => {
                    if has_changes {
                        session.fence_check().await?;
                        stack
                            .apply(plan, &mut ctx.tf_apply_progress(StackId::Color(idle)))
                            .await?;
                    } else {
                        ctx.info(format!("[{idle}] no changes"));
                    }
                    stack
                }
                _ => {
                    fresh = ctx.service_stack(tool, idle, shared, image)?;
                    fresh
                        .prepare(&mut ctx.tf_progress(StackId::Color(idle)))
                        .await?;
                    plan_and_apply(ctx, &fresh, StackId::Color(idle)).await?;
                    &fresh
                }
            };
            let out = ServiceOutputs::read(&stack.outputs().await?, idle)
                .map_err(Error::Contract)?
                .ok_or_else(|| {
                    Error::Contract(format!("the {idle} stack has no outputs after apply"))
                })?;
            out.check_against(idle, shared).map_err(Error::Contract)?;
            let done = Entry::Provisioned {
                color: idle,
                cluster: out.cluster_name.clone(),
                service: out.service_name.clone(),
                task_definition: out.task_definition_arn.clone(),
            };
            session.record(ctx, done).await;
            out
        }
    };

    let desired = ctx.cfg.service.desired_count as i32;
    ctx.step(format!(
        "scaling {idle} service {} to {desired}",
        out.service_name
    ));
    session.fence_check().await?;
    aws.services
        .set_desired(&out.cluster_name, &out.service_name, desired)
        .await?;
    let scaled = Entry::ScaledUp {
        color: idle,
        desired: desired as u32,
    };
    session.record(ctx, scaled).await;

    if let Some(test) = &shared.test_listener_arn {
        ctx.step(format!("pointing the test listener at {idle}"));
        let view = read_view(&aws.traffic, test, tgs).await?;
        session.fence_check().await?;
        ctx.shift(aws, test, tgs, &view, Weights::all_on(idle))
            .await?;
    }
    Ok(out)
}

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
                    at: crate::deploy::Until::Weight(p),
                } => crate::deploy::split(live, idle, *p),
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

fn announce_schedule(ctx: &Ctx, strategy: &Strategy, schedule: &Schedule) {
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

/// The shared stack's outputs; on the first deploy into an empty environment, applies it first.
/// A shared stack without state in an environment the journal knows is not a first deploy:
/// refused before anything is created.
async fn ensure_shared(
    ctx: &Ctx,
    tool: &IacTool,
    store: &crate::state::Store,
) -> Result<SharedOutputs, Error> {
    ctx.step("reading the shared stack");
    let (stack, shared) = ctx.read_shared(tool).await?;
    if let Some(s) = shared {
        return Ok(s);
    }
    ctx.refuse_missing_state(store, &stack).await?;
    ctx.step("the shared stack was never applied: provisioning it (first deploy)");
    stack.prepare(&mut ctx.tf_progress(StackId::Shared)).await?;
    plan_and_apply(ctx, &stack, StackId::Shared).await?;
    SharedOutputs::read(&stack.outputs().await?)
        .map_err(Error::Contract)?
        .ok_or_else(|| Error::Contract("the shared stack has no outputs after apply".into()))
}

/// Creates the directory `path` goes in (a saved plan's, in the work directory).
pub fn create_parent(path: &std::path::Path) -> Result<(), Error> {
    match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display()))),
        None => Ok(()),
    }
}

/// `plan -out` (or `plan -destroy -out`) of `stack` into `path` in the work directory, read
/// back and reported as a plan event.
pub async fn plan_into(
    ctx: &Ctx,
    stack: &Stack,
    id: StackId,
    path: &std::path::Path,
    destroy: bool,
) -> Result<crate::iac::PlanOutcome, Error> {
    create_parent(path)?;
    let progress = &mut ctx.tf_progress(id);
    let outcome = if destroy {
        stack.plan_destroy(path, progress).await?
    } else {
        stack.plan(path, progress).await?
    };
    let s = &outcome.summary;
    ctx.out.emit(Event::Plan {
        stack: id.name().to_string(),
        add: s.add,
        change: s.change,
        replace: s.replace,
        destroy: s.destroy,
    });
    Ok(outcome)
}

/// `plan -out`, summarise the saved plan, and apply exactly that plan if it changes anything.
pub async fn plan_and_apply(ctx: &Ctx, stack: &Stack, id: StackId) -> Result<(), Error> {
    let plan = &ctx.plan_path(id);
    let outcome = plan_into(ctx, stack, id, plan, false).await?;
    if outcome.has_changes {
        stack.apply(plan, &mut ctx.tf_apply_progress(id)).await?;
    } else {
        ctx.info(format!("[{}] no changes", id.name()));
    }
    Ok(())
}

pub(super) fn live_color_of(view: &ListenerView) -> Result<Option<Color>, Error> {
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

/// Whether the live color's service already runs exactly `image` at full size.
async fn already_running(aws: &Aws, out: &ServiceOutputs, image: &str) -> Result<bool, Error> {
    let Some(svc) = aws
        .services
        .describe(&out.cluster_name, &out.service_name)
        .await?
    else {
        return Ok(false);
    };
    let images = aws
        .services
        .task_definition_images(&svc.task_definition)
        .await?;
    Ok(images.iter().any(|i| i == image) && svc.desired > 0)
}
