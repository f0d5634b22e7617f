//! `deploy`: provision the idle color, bring it to full size, then hand over to the state
//! machine, which checks every signal with test traffic only, moves production traffic
//! through the strategy's schedule (verifying every route after every change), bakes, and
//! scales the old color down after the termination wait — or puts traffic back in one change.

use crate::aws::Resolved;
use crate::domain::color::{Color, Weights};
use crate::domain::image::ImageRef;
use crate::domain::{Machine, Schedule, Strategy, Until};
use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::drive::Routes;
use crate::flow::idle::{describe_finding, plan_idle, LiveColor};
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::provision::{already_running, ensure_shared, Provision};
use crate::flow::run::{
    announce_schedule, begin_deployment, live_color_of, provision_new_color, refuse_if_unfinished,
    run_machine, strategy_and_schedule, DeployResult, Stacks,
};
use crate::flow::session::{after_release, Session};
use crate::flow::spec::{check_until, deployment_spec, start_record, Source, Today};
use crate::iac::IacTool;
use crate::report::Event;
use crate::state::journal::CommandKind;
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
    let (_, schedule) = strategy_and_schedule(ctx, args.strategy.clone())?;
    check_until(args.until, &schedule, "")?;
    let tool = ctx.tool()?;
    // Read-only: a missing image is bad input before the lock is even taken.
    let image = crate::flow::idle::resolve_image(ctx, &args.image).await?;
    let mut session = Session::begin(ctx, "deploy", args.lock_wait).await?;
    let result = locked(ctx, &tool, &mut session, &image, &args).await;
    after_release(result, session.release().await)
}

async fn locked(
    ctx: &Ctx,
    tool: &IacTool,
    session: &mut Session,
    resolved: &Resolved,
    args: &DeployArgs,
) -> Result<(), Error> {
    let image = resolved.pinned.as_str();
    refuse_if_unfinished(ctx, session).await?;
    let (strategy, schedule) = strategy_and_schedule(ctx, args.strategy.clone())?;
    announce(ctx, tool, session, image, (&strategy, &schedule));
    let shared = ensure_shared(ctx, tool, &session.store).await?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let routes = Routes::read_agreeing(&aws, tgs, &shared.production_routes()).await?;
    let before = routes.primary().weights();
    warn_if_moved_outside(ctx, session, before).await?;
    let (live, idle, live_out) = live_and_idle(ctx, tool, &shared, &routes).await?;
    if let (Some(l), Some(out), false) = (live, &live_out, args.force) {
        if already_running(&aws, out, image).await? {
            report_already_live(ctx, image, strategy.name(), l, before, out);
            return Ok(());
        }
    }

    // The idle color's Terraform plan, made and checked before anything is journaled.
    let live_color = live.map(|color| LiveColor {
        color,
        read: live_out.is_some(),
    });
    let planned = plan_idle(
        ctx,
        tool,
        &shared,
        live_color,
        idle,
        image,
        args.allow_unsafe,
    )
    .await?;

    // The deployment, durable before anything is provisioned or moved.
    let source = Source::New {
        strategy: args.strategy.clone(),
        image: resolved,
        old: live,
        new: idle,
        old_provisioned: live_out.is_some(),
        until: args.until,
    };
    let spec = deployment_spec(&Today::of(&ctx.cfg), source)?;
    let mut start = start_record(CommandKind::Deploy, before, &spec);
    start.unsafe_plan_allowed = planned.findings.iter().map(describe_finding).collect();
    begin_deployment(ctx, session, start).await?;
    if live.is_none() && schedule.steps().len() > 1 {
        ctx.info(
            "first deploy: no color is live to share traffic with, so the schedule is all-at-once",
        );
    }
    let stacks = Stacks {
        shared: &shared,
        live_out: live_out.as_ref(),
    };
    let provision = Provision::Saved {
        stack: &planned.stack,
        plan: &planned.path,
        has_changes: planned.outcome.has_changes,
    };
    let out = provision_new_color(ctx, tool, &aws, session, &shared, &spec, provision).await?;
    ctx.step(format!(
        "waiting until {idle} passes every signal (test traffic only, at most {})",
        humantime::format_duration(ctx.cfg.health.timeout)
    ));
    let machine = Machine::new(spec);
    run_machine(ctx, &aws, session, routes, &out, &stacks, machine).await
}

/// The live color (none on a first deploy), the idle color deployed to (blue on a first
/// deploy), and the live color's outputs if its stack has any.
async fn live_and_idle(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    routes: &Routes<'_>,
) -> Result<(Option<Color>, Color, Option<ServiceOutputs>), Error> {
    let live = live_color_of(routes.primary())?;
    let idle = live.map(Color::other).unwrap_or(Color::Blue);
    let before = routes.primary().weights();
    ctx.info(match live {
        Some(l) => format!("live color: {l} ({before}); idle color: {idle}"),
        None => format!("no color is live yet (first deploy); idle color: {idle}"),
    });
    let live_out = match live {
        Some(l) => ctx.color_outputs(tool, l, shared).await?,
        None => None,
    };
    Ok((live, idle, live_out))
}

fn announce(
    ctx: &Ctx,
    tool: &IacTool,
    session: &Session,
    image: &str,
    (strategy, schedule): (&Strategy, &Schedule),
) {
    ctx.step(format!(
        "deploying {image} to environment `{}` ({}), deployment {}",
        ctx.cfg.name,
        ctx.cfg.file.display(),
        session.deployment()
    ));
    ctx.info(format!("infrastructure tool: {}", tool.program.display()));
    announce_schedule(ctx, strategy, schedule);
}

/// The result line of a deploy of the image the live color already runs.
fn report_already_live(
    ctx: &Ctx,
    image: &str,
    strategy: &str,
    live: Color,
    weights: Weights,
    out: &ServiceOutputs,
) {
    ctx.step(format!(
        "{image} is already live on {live}; nothing to do (use --force to redeploy)"
    ));
    let result = DeployResult {
        outcome: "already_live",
        env: &ctx.cfg.name,
        deployment: None,
        image: image.to_string(),
        strategy,
        live_color: Some(live),
        previous_color: None,
        weights,
        service: out.service_name.clone(),
        task_definition: out.task_definition_arn.clone(),
        old_color_scaled_down: false,
    };
    ctx.out
        .result(&format!("already live: {image} on {live}"), &result);
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
