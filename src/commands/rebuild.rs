//! `rebuild`: destroy the idle color's stack and create it again from HCL (with the image the
//! live color runs, unless `--image`), bring it to full size, and verify every health signal
//! through the test listener while production traffic stays where it is. Without `--swap` the
//! rebuilt color then goes back to its idle size; with `--swap` the deploy state machine takes
//! over and shifts production traffic to it with the environment's strategy.
//!
//! Destroy-then-create, as two saved plans (`plan -destroy -out`, then the ordinary
//! `plan -out`), each applied exactly: see "Rebuilding the idle color" in docs/operations.md
//! for why not `plan -replace=…`.
//!
//! Journaled like a deploy (`started` with `command: "rebuild"` or `"rebuild --swap"`). An
//! unfinished `rebuild` without `--swap` never moved production traffic: the next `rebuild`
//! ends it (`failed`, "superseded by rebuild ID") and proceeds. Anything else unfinished is
//! refused exactly like `deploy` refuses it.

use crate::aws::Services;
use crate::config::OldColor;
use crate::domain::color::{Color, Weights};
use crate::domain::image::ImageRef;
use crate::domain::{Machine, Stage};
use crate::error::Error;
use crate::flow::context::{Aws, Ctx, StackId};
use crate::flow::drive::Routes;
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::provision::{prepare_new_color, Provision};
use crate::flow::readiness::until_ready;
use crate::flow::run::{
    begin_deployment, live_color_of, refuse_if_unfinished, run_machine, Stacks,
};
use crate::flow::session::{after_release, Session};
use crate::flow::spec::{deployment_spec, expand, start_record, Source, Today};
use crate::flow::target::Target;
use crate::iac::IacTool;
use crate::state::journal::{CommandKind, FinalOutcome};
use crate::state::{Entry, Writer};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Serialize)]
struct RebuildResult<'a> {
    outcome: &'a str,
    env: &'a str,
    deployment: String,
    image: String,
    rebuilt_color: Color,
    live_color: Color,
    /// Production weights, read back after the rebuild: unchanged.
    weights: Weights,
    service: String,
    task_definition: String,
    /// The size the rebuilt color was left at (0 when `promotion.old_color = "scale-down"`).
    idle_desired: u32,
}

pub async fn run(
    ctx: &Ctx,
    swap: bool,
    image: Option<&ImageRef>,
    lock_wait: Duration,
) -> Result<(), Error> {
    expand(
        &ctx.cfg.strategy,
        "fix the `strategy` block (docs/strategies.md)",
    )?;
    let tool = ctx.tool()?;
    let command = if swap {
        CommandKind::RebuildSwap
    } else {
        CommandKind::Rebuild
    };
    let mut session = Session::begin(ctx, command.as_str(), lock_wait).await?;
    let result = locked(ctx, &tool, &mut session, command, image).await;
    after_release(result, session.release().await)
}

/// Ends an unfinished `rebuild` without `--swap` (it never moved production traffic); refuses
/// anything else that is unfinished, like `deploy`.
async fn supersede_or_refuse(ctx: &Ctx, session: &mut Session) -> Result<(), Error> {
    if let Some((s, records)) = session.store.unfinished().await? {
        if s.started_by() == CommandKind::Rebuild {
            let me = session.deployment().to_string();
            ctx.step(format!(
                "ending the interrupted rebuild {} (it never moved production traffic)",
                s.id
            ));
            let mut w = Writer::continuing(&s.id, &records).fenced(session.guard.fence().token());
            if let Some((previous, reason)) = session.guard.took_over.clone() {
                if previous.holder.deployment == s.id {
                    let e = Entry::LockTakenOver { previous, reason };
                    w.write(&session.store, e).await?;
                }
            }
            let end = Entry::Finished {
                outcome: FinalOutcome::Failed,
                detail: format!("superseded by rebuild {me}"),
                failing_signal: None,
            };
            w.write(&session.store, end).await?;
        }
    }
    refuse_if_unfinished(ctx, session).await
}

async fn locked(
    ctx: &Ctx,
    tool: &IacTool,
    session: &mut Session,
    command: CommandKind,
    image: Option<&ImageRef>,
) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    // Before anything is journaled: a missing state is refused with nothing changed.
    let shared = read_shared(ctx, tool, session).await?;
    supersede_or_refuse(ctx, session).await?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let routes = Routes::read_agreeing(&aws, tgs, &shared.production_routes()).await?;
    let before = routes.primary().weights();
    let (live, live_out) = live_color(ctx, tool, &shared, &routes).await?;
    let idle = live.other();
    let image = match image {
        Some(i) => i.to_string(),
        None => live_image(&aws, &live_out).await?,
    };
    ctx.step(format!(
        "rebuilding {idle} in environment `{env}` with {image} (live: {live} at {before}), deployment {}",
        session.deployment()
    ));
    let swap = command == CommandKind::RebuildSwap;
    let source = Source::Rebuild { image, live, swap };
    let spec = deployment_spec(&Today::of(&ctx.cfg), source)?;
    begin_deployment(ctx, session, start_record(command, before, &spec)).await?;

    // Production traffic has not moved (and, without --swap, never will): a failure before
    // the swap ends the rebuild as `failed`.
    let rebuilt = rebuild_idle(ctx, tool, &aws, session, &shared, idle, &spec.image).await;
    let out = session.failed_unless_ok(ctx, rebuilt).await?;
    if swap {
        ctx.step(format!(
            "waiting until {idle} passes every signal (test traffic only, at most {}), then shifting production traffic to it: {}",
            humantime::format_duration(ctx.cfg.health.timeout),
            spec.schedule
        ));
        let stacks = Stacks {
            shared: &shared,
            live_out: Some(&live_out),
        };
        return run_machine(
            ctx,
            &aws,
            session,
            routes,
            &out,
            &stacks,
            Machine::new(spec),
        )
        .await;
    }
    verify_at_zero_traffic(ctx, &aws, session, &shared, &out, idle, routes, live).await?;
    let idle_desired = scale_back(ctx, &aws, session, &out, idle).await?;
    let image = spec.image;
    let message = format!(
        "rebuilt {idle} with {image} and verified it with test traffic only; production stays on {live} ({before}); {idle} is at its idle size {idle_desired}"
    );
    session
        .finish(ctx, FinalOutcome::Rebuilt, message.clone(), None)
        .await;
    let result = RebuildResult {
        outcome: "rebuilt",
        env,
        deployment: session.deployment().to_string(),
        image,
        rebuilt_color: idle,
        live_color: live,
        weights: before,
        service: out.service_name.clone(),
        task_definition: out.task_definition_arn.clone(),
        idle_desired,
    };
    ctx.out.result(&message, &result);
    Ok(())
}

/// The shared stack's outputs; refused (nothing journaled) when it has no state.
async fn read_shared(ctx: &Ctx, tool: &IacTool, session: &Session) -> Result<SharedOutputs, Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    ctx.step("reading the shared stack");
    let (shared_stack, shared) = ctx.read_shared(tool).await?;
    if let Some(shared) = shared {
        return Ok(shared);
    }
    ctx.refuse_missing_state(&session.store, &shared_stack)
        .await?;
    Err(Error::refused(
        format!(
            "the shared stack has no Terraform state in {} and the journal records no \
             deployment: there is nothing to rebuild",
            ctx.state_location(&shared_stack)
        ),
        format!(
            "{}; if `{env}` is deployed already, {}",
            deploy_first(arg),
            ctx.point_at_state_fix()
        ),
    ))
}

fn deploy_first(arg: &str) -> String {
    format!("deploy first: `bluegreen deploy --env {arg} --image IMAGE`")
}

/// The live color and its outputs; refused when no color is live or its stack has no outputs.
async fn live_color(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    routes: &Routes<'_>,
) -> Result<(Color, ServiceOutputs), Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    let live = live_color_of(routes.primary())?.ok_or_else(|| {
        Error::refused(
            format!(
                "no color is live in `{env}`: rebuild re-creates the idle color next to a live one"
            ),
            deploy_first(arg),
        )
    })?;
    let live_out = ctx
        .color_outputs(tool, live, shared)
        .await?
        .ok_or_else(|| {
            Error::refused(
                format!("{live} takes production traffic but its stack has no outputs"),
                format!("re-apply it with `bluegreen deploy --env {arg} --image IMAGE --force`"),
            )
        })?;
    Ok((live, live_out))
}

/// Back to the idle size the environment keeps its idle color at; that size.
async fn scale_back(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    out: &ServiceOutputs,
    idle: Color,
) -> Result<u32, Error> {
    let idle_desired = match ctx.cfg.promotion.old_color {
        OldColor::ScaleDown => 0,
        _ => ctx.cfg.service.desired_count,
    };
    if idle_desired == ctx.cfg.service.desired_count {
        ctx.info(format!(
            "{idle} stays at {idle_desired} (promotion.old_color keeps the idle color warm)"
        ));
        return Ok(idle_desired);
    }
    session
        .write(Entry::ScaleDownIntent { color: idle })
        .await?;
    ctx.step(format!(
        "scaling {idle} service {} back to its idle size {idle_desired}",
        out.service_name
    ));
    session.fence_check().await?;
    if let Err(e) = aws
        .services
        .set_desired(&out.cluster_name, &out.service_name, idle_desired as i32)
        .await
    {
        let error = e.to_string();
        let failed = Entry::ScaleDownFailed {
            color: idle,
            error: error.clone(),
        };
        session.record(ctx, failed).await;
        let detail = format!("{idle} was rebuilt and verified, but scaling it back to {idle_desired} failed: {error}");
        session
            .finish(ctx, FinalOutcome::Failed, detail, None)
            .await;
        return Err(e.into());
    }
    session.record(ctx, Entry::ScaledDown { color: idle }).await;
    Ok(idle_desired)
}

/// The one image the live color's service runs, read from ECS.
async fn live_image(aws: &Aws, live: &ServiceOutputs) -> Result<String, Error> {
    let fix = "name the image with `--image IMAGE`";
    let svc = aws
        .services
        .describe(&live.cluster_name, &live.service_name)
        .await?
        .ok_or_else(|| {
            Error::refused(
                format!(
                    "the live service {} is missing from cluster {}",
                    live.service_name, live.cluster_name
                ),
                fix,
            )
        })?;
    let mut images = aws
        .services
        .task_definition_images(&svc.task_definition)
        .await?;
    images.dedup();
    match images.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::refused(
            format!("the live task definition {} has no image", svc.task_definition),
            fix,
        )),
        many => Err(Error::refused(
            format!(
                "the live task definition {} runs several images ({}): which one is the service's is ambiguous",
                svc.task_definition,
                many.join(", ")
            ),
            fix,
        )),
    }
}

/// Destroys the idle color's stack (a saved `plan -destroy`, applied exactly), then provisions
/// it anew, brings it to full size and points the test listener at it.
async fn rebuild_idle(
    ctx: &Ctx,
    tool: &IacTool,
    aws: &Aws,
    session: &mut Session,
    shared: &SharedOutputs,
    idle: Color,
    image: &str,
) -> Result<ServiceOutputs, Error> {
    let id = StackId::Color(idle);
    let stack = ctx.service_stack(tool, idle, shared, image)?;
    if stack.prepare_existing(&mut ctx.tf_progress(id)).await? {
        ctx.step(format!("destroying the {idle} stack"));
        let plan = ctx.plan_path(id).with_extension("destroy.tfplan");
        let outcome = crate::flow::provision::plan_into(ctx, &stack, id, &plan, true).await?;
        let s = &outcome.summary;
        if s.add + s.change + s.replace > 0 {
            return Err(Error::Internal(format!(
                "the destroy plan of {idle} would also create or change resources: {s:?}"
            )));
        }
        if outcome.has_changes {
            session.fence_check().await?;
            ctx.forget_outputs(id);
            stack.apply(&plan, &mut ctx.tf_apply_progress(id)).await?;
        } else {
            ctx.info(format!("[{}] nothing to destroy", id.name()));
        }
    } else {
        ctx.info(format!(
            "{idle} was never provisioned: nothing to destroy, creating it"
        ));
    }
    // `prepare_new_color` journals `provisioning`/`provisioned`/`scaled-up` and plans and
    // applies the stack exactly as a deploy does.
    prepare_new_color(
        ctx,
        tool,
        aws,
        session,
        shared,
        idle,
        image,
        Provision::PlanNow,
    )
    .await
}

/// Polls every signal of the rebuilt color (test traffic only) until all pass, or fails after
/// `health.timeout` naming the signal that never passed. Production traffic is read back at
/// the end, so the error can say it was untouched.
#[allow(clippy::too_many_arguments)]
async fn verify_at_zero_traffic(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    shared: &SharedOutputs,
    out: &ServiceOutputs,
    idle: Color,
    routes: Routes<'_>,
    live: Color,
) -> Result<(), Error> {
    let health = &ctx.cfg.health;
    ctx.step(format!(
        "waiting until {idle} passes every signal (test traffic only, at most {})",
        humantime::format_duration(health.timeout)
    ));
    let target = Target {
        color: idle,
        cluster: &out.cluster_name,
        service: &out.service_name,
        target_group: shared.target_groups.of(idle),
        task_definition: &out.task_definition_arn,
        desired: ctx.cfg.service.desired_count as i32,
    };
    // Judged as a deploy judges a color still coming up: a bad reading only means "not yet",
    // until `health.timeout`.
    let lock_lost = || {
        Error::refused(
            "the environment lock was taken from this rebuild (lease expired or `unlock --force`); it stopped at once",
            "check `bluegreen status`; production traffic was never moved by this rebuild",
        )
    };
    let failing = until_ready(ctx, aws, session, target, Stage::Settling, lock_lost).await?;
    let Some(r) = failing.into_iter().next() else {
        session.record(ctx, Entry::Settled).await;
        ctx.info(format!("{idle} passed every signal with test traffic only"));
        return Ok(());
    };
    let reason = format!(
        "the rebuilt {idle} never passed {} within {}: {}; production traffic was never moved",
        r.signal,
        humantime::format_duration(health.timeout),
        r.observed
    );
    // Read production back: the error says where traffic is, verified.
    let now = Routes::read(aws, routes.tgs, &shared.production_routes()).await;
    let before = routes.primary().weights();
    let untouched = match &now {
        Ok(n) => n.before.iter().all(|(_, v)| v.weights() == before),
        Err(_) => false,
    };
    let signal = Some(r.signal.clone());
    session
        .finish(ctx, FinalOutcome::Failed, reason.clone(), signal)
        .await;
    if !untouched {
        return Err(Error::RollbackFailed {
            reason,
            restore_error: format!(
                "the production routes no longer read {before} (someone else changed them, or they could not be read); check `bluegreen status`"
            ),
        });
    }
    Err(Error::RolledBack {
        reason,
        restored: Some(live),
        weights: before,
    })
}
