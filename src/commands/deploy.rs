//! `deploy`: provision the idle color, bring it to full size, then hand over to the state
//! machine, which checks every signal with test traffic only, moves production traffic
//! through the strategy's schedule (verifying every route after every change), bakes, and
//! scales the old color down after the termination wait — or puts traffic back in one change.

use crate::aws::Resolved;
use crate::config::OldColor;
use crate::domain::color::{Color, Weights};
use crate::domain::image::ImageRef;
use crate::domain::{Machine, Plan, Schedule, Strategy, Until};
use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::drive::Routes;
use crate::flow::provision::already_running;
use crate::flow::provision::ensure_shared;
use crate::flow::provision::prepare_new_color;
use crate::flow::provision::Provision;
use crate::flow::run::announce_schedule;
use crate::flow::run::check_until;
use crate::flow::run::live_color_of;
use crate::flow::run::refuse_if_unfinished;
use crate::flow::run::run_machine;
use crate::flow::run::start_record;
use crate::flow::run::strategy_and_schedule;
use crate::flow::run::DeployResult;
use crate::flow::run::Shift;
use crate::flow::session::{after_release, Session};
use crate::iac::IacTool;
use crate::report::Event;
use crate::state::Entry;
use std::time::Duration;

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
    let image = crate::flow::idle::resolve_image(ctx, &args.image).await?;
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
    let live_color = live.map(|color| crate::flow::idle::LiveColor {
        color,
        read: live_out.is_some(),
    });
    let planned = crate::flow::idle::plan_idle(
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
        .map(crate::flow::idle::describe_finding)
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
