//! `deploy`: provision the idle color, verify it, move all traffic to it (this slice:
//! all-at-once), verify the listener, and put traffic back if anything fails after it moved.

use super::context::{Aws, Ctx, StackId};
use super::wait::{check_once, until_healthy, Target};
use crate::aws::{Services, Traffic};
use crate::color::{Color, Weights};
use crate::deploy::{failing, read_view, ListenerView, ServiceOutputs, SharedOutputs};
use crate::error::Error;
use crate::iac::Stack;
use crate::image::ImageRef;
use crate::report::Event;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct DeployResult<'a> {
    outcome: &'a str,
    env: &'a str,
    image: String,
    live_color: Color,
    previous_color: Option<Color>,
    weights: Weights,
    service: String,
    task_definition: String,
}

pub async fn run(ctx: &Ctx, image: &ImageRef, force: bool) -> Result<(), Error> {
    let image = image.to_string();
    let tool = ctx.tool()?;
    ctx.step(format!(
        "deploying {image} to environment `{}` ({})",
        ctx.cfg.name,
        ctx.cfg.file.display()
    ));
    ctx.info(format!("infrastructure tool: {}", tool.program.display()));

    let shared = ensure_shared(ctx, &tool).await?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let before = read_view(&aws.traffic, &shared.listener_arn, tgs).await?;
    let live = live_color_of(&before)?;
    let idle = live.map(Color::other).unwrap_or(Color::Blue);
    ctx.info(match live {
        Some(l) => format!("live color: {l} ({}); idle color: {idle}", before.weights()),
        None => format!("no color is live yet (first deploy); idle color: {idle}"),
    });

    if let (Some(l), false) = (live, force) {
        if let Some(out) = already_running(ctx, &tool, &aws, l, &shared, &image).await? {
            ctx.step(format!(
                "{image} is already live on {l}; nothing to do (use --force to redeploy)"
            ));
            let result = DeployResult {
                outcome: "already_live",
                env: &ctx.cfg.name,
                image: image.clone(),
                live_color: l,
                previous_color: None,
                weights: before.weights(),
                service: out.service_name,
                task_definition: out.task_definition_arn,
            };
            ctx.out
                .result(&format!("already live: {image} on {l}"), &result);
            return Ok(());
        }
    }

    // Provision the idle color. Production traffic is untouched until the switch below.
    ctx.step(format!("provisioning {idle} with {image}"));
    let stack = ctx.service_stack(&tool, idle, &shared, &image)?;
    stack
        .prepare(&mut ctx.tf_progress(StackId::Color(idle)))
        .await?;
    plan_and_apply(ctx, &stack, StackId::Color(idle)).await?;
    let out = ServiceOutputs::read(&stack.outputs().await?, idle)
        .map_err(Error::Contract)?
        .ok_or_else(|| Error::Contract(format!("the {idle} stack has no outputs after apply")))?;
    out.check_against(idle, &shared).map_err(Error::Contract)?;

    let desired = ctx.cfg.service.desired_count as i32;
    ctx.step(format!(
        "scaling {idle} service {} to {desired} and waiting until it is healthy",
        out.service_name
    ));
    aws.services
        .set_desired(&out.cluster_name, &out.service_name, desired)
        .await?;
    let target = Target {
        color: idle,
        cluster: &out.cluster_name,
        service: &out.service_name,
        target_group: tgs.of(idle),
        task_definition: &out.task_definition_arn,
        desired,
    };
    let health = &ctx.cfg.health;
    if let Err(reason) =
        until_healthy(ctx, &aws, &target, health.timeout, health.poll_interval).await?
    {
        return Err(unchanged_or_restore(ctx, &aws, &shared, &before, reason).await);
    }

    if let Some(test) = &shared.test_listener_arn {
        ctx.step(format!("pointing the test listener at {idle}"));
        let view = read_view(&aws.traffic, test, tgs).await?;
        ctx.shift(&aws, test, tgs, &view, Weights::all_on(idle))
            .await?;
    }

    let wanted = Weights::all_on(idle);
    ctx.step(format!(
        "moving production traffic: {} → {wanted}",
        before.weights()
    ));
    if let Err(e) = ctx
        .shift(&aws, &shared.listener_arn, tgs, &before, wanted)
        .await
    {
        return Err(restore(ctx, &aws, &shared, &before, e.to_string()).await);
    }

    // The new color was verified before the switch; one more look catches anything that broke
    // while traffic moved. Its predecessor is still at full size, so going back is instant.
    let failing: Vec<String> = match check_once(&aws, &target).await {
        Ok(checks) => failing(&checks),
        Err(e) => vec![format!("health check failed: {e}")],
    };
    if !failing.is_empty() {
        let reason = format!("{idle} failed after the switch: {}", failing.join("; "));
        return Err(restore(ctx, &aws, &shared, &before, reason).await);
    }

    let result = DeployResult {
        outcome: "deployed",
        env: &ctx.cfg.name,
        image: image.clone(),
        live_color: idle,
        previous_color: live,
        weights: wanted,
        service: out.service_name.clone(),
        task_definition: out.task_definition_arn.clone(),
    };
    let human = format!(
        "deployed {image} to {idle}: listener reads {wanted}{}",
        live.map(|l| format!("; {l} stays provisioned for rollback"))
            .unwrap_or_default()
    );
    ctx.out.result(&human, &result);
    Ok(())
}

/// The shared stack's outputs; on the first deploy into an empty environment, applies it first.
async fn ensure_shared(ctx: &Ctx, tool: &crate::iac::IacTool) -> Result<SharedOutputs, Error> {
    ctx.step("reading the shared stack");
    let (stack, shared) = ctx.shared_outputs(tool).await?;
    if let Some(s) = shared {
        return Ok(s);
    }
    ctx.step("the shared stack was never applied: provisioning it (first deploy)");
    plan_and_apply(ctx, &stack, StackId::Shared).await?;
    SharedOutputs::read(&stack.outputs().await?)
        .map_err(Error::Contract)?
        .ok_or_else(|| Error::Contract("the shared stack has no outputs after apply".into()))
}

/// `plan -out`, summarise the saved plan, and apply exactly that plan if it changes anything.
pub async fn plan_and_apply(ctx: &Ctx, stack: &Stack, id: StackId) -> Result<(), Error> {
    let plan = &ctx.plan_path(id);
    if let Some(dir) = plan.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let outcome = stack.plan(plan, &mut ctx.tf_progress(id)).await?;
    let s = &outcome.summary;
    ctx.out.emit(Event::Plan {
        stack: id.name().to_string(),
        add: s.add,
        change: s.change,
        replace: s.replace,
        destroy: s.destroy,
    });
    if outcome.has_changes {
        stack.apply(plan, &mut ctx.tf_apply_progress(id)).await?;
    } else {
        ctx.info(format!("[{}] no changes", id.name()));
    }
    Ok(())
}

fn live_color_of(view: &ListenerView) -> Result<Option<Color>, Error> {
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

/// The live color's outputs when its service already runs exactly `image`.
async fn already_running(
    ctx: &Ctx,
    tool: &crate::iac::IacTool,
    aws: &Aws,
    live: Color,
    shared: &SharedOutputs,
    image: &str,
) -> Result<Option<ServiceOutputs>, Error> {
    let Some(out) = ctx.color_outputs(tool, live, shared).await? else {
        return Ok(None);
    };
    let Some(svc) = aws
        .services
        .describe(&out.cluster_name, &out.service_name)
        .await?
    else {
        return Ok(None);
    };
    let images = aws
        .services
        .task_definition_images(&svc.task_definition)
        .await?;
    Ok((images.iter().any(|i| i == image) && svc.desired > 0).then_some(out))
}

/// Production was never touched: read the listener to prove it, and report the failure.
async fn unchanged_or_restore(
    ctx: &Ctx,
    aws: &Aws,
    shared: &SharedOutputs,
    before: &ListenerView,
    reason: String,
) -> Error {
    match read_view(&aws.traffic, &shared.listener_arn, &shared.target_groups).await {
        Ok(now) if &now == before => Error::RolledBack {
            reason: format!("{reason}; production traffic was not moved"),
            restored: before.weights().live_color(),
            weights: now.weights(),
        },
        _ => restore(ctx, aws, shared, before, reason).await,
    }
}

/// Puts the production listener back to `before`, reads it back, and says which it was.
pub async fn restore(
    ctx: &Ctx,
    aws: &Aws,
    shared: &SharedOutputs,
    before: &ListenerView,
    reason: String,
) -> Error {
    ctx.out.emit(Event::Warning {
        message: format!(
            "{reason} — restoring production traffic to {}",
            before.weights()
        ),
    });
    let listener = &shared.listener_arn;
    let tgs = &shared.target_groups;
    let restored = match before {
        ListenerView::Forwarding { weights, .. } => ctx
            .shift(aws, listener, tgs, before, *weights)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        ListenerView::NotForwarding { .. } => restore_fixed(aws, listener, tgs).await,
    };
    match restored {
        Ok(()) => Error::RolledBack {
            reason,
            restored: before.weights().live_color(),
            weights: before.weights(),
        },
        Err(restore_error) => Error::RollbackFailed {
            reason,
            restore_error,
        },
    }
}

async fn restore_fixed(
    aws: &Aws,
    listener: &str,
    tgs: &crate::deploy::TargetGroups,
) -> Result<(), String> {
    aws.traffic
        .set_fixed_response(listener, "503")
        .await
        .map_err(|e| e.to_string())?;
    match read_view(&aws.traffic, listener, tgs).await {
        Ok(ListenerView::NotForwarding { .. }) => Ok(()),
        Ok(v) => Err(format!("listener still reads {}", v.weights())),
        Err(e) => Err(e.to_string()),
    }
}
