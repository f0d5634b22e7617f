//! `rollback`: one listener change back to the other color — which must still be provisioned,
//! running and healthy — read back and verified. It never replays deploy steps.

use super::context::Ctx;
use super::wait::{verdicts, Target};
use crate::aws::{Services, Traffic};
use crate::color::{Color, Weights};
use crate::deploy::{failing, read_view};
use crate::error::Error;
use crate::report::Event;
use serde::Serialize;

#[derive(Serialize)]
struct RollbackResult<'a> {
    outcome: &'a str,
    env: &'a str,
    live_color: Color,
    previous_color: Option<Color>,
    weights: Weights,
}

pub async fn run(ctx: &Ctx, to: Option<Color>) -> Result<(), Error> {
    let tool = ctx.tool()?;
    ctx.step(format!("rollback in environment `{}`", ctx.cfg.name));
    let (_, shared) = ctx.shared_outputs(&tool).await?;
    let shared = shared.ok_or_else(|| {
        Error::refused(
            "nothing to roll back: the shared stack was never applied",
            "deploy first: `bluegreen deploy --env ENV --image IMAGE`",
        )
    })?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let before = read_view(&aws.traffic, &shared.listener_arn, tgs).await?;
    let live = before.weights().live_color();
    let target =
        match (to, live) {
            (Some(t), _) => t,
            (None, Some(l)) => l.other(),
            (None, None) => return Err(Error::refused(
                format!(
                    "no single color is live ({}), so there is no \"other\" color",
                    before.weights()
                ),
                "name the color to put traffic on: `bluegreen rollback --env ENV --to blue|green`",
            )),
        };
    if live == Some(target) {
        ctx.step(format!("all traffic is already on {target}; nothing to do"));
        let r = RollbackResult {
            outcome: "already_live",
            env: &ctx.cfg.name,
            live_color: target,
            previous_color: None,
            weights: before.weights(),
        };
        ctx.out.result(&format!("already live: {target}"), &r);
        return Ok(());
    }

    // The target must be provisioned, running and healthy right now: rolling back onto a
    // stack that can't serve would make things worse.
    let out = ctx
        .color_outputs(&tool, target, &shared)
        .await?
        .ok_or_else(|| {
            Error::refused(
                format!("{target} was never provisioned in this environment; nothing changed"),
                "deploy a known-good image instead: `bluegreen deploy --env ENV --image IMAGE`",
            )
        })?;
    let svc = aws
        .services
        .describe(&out.cluster_name, &out.service_name)
        .await?;
    let desired = svc.as_ref().map(|s| s.desired).unwrap_or(0);
    let check_target = Target {
        color: target,
        cluster: &out.cluster_name,
        service: &out.service_name,
        target_group: tgs.of(target),
        task_definition: svc
            .as_ref()
            .map(|s| s.task_definition.as_str())
            .unwrap_or(&out.task_definition_arn),
        desired,
    };
    // The service was just described; only target health is left to read.
    let targets = aws.traffic.target_health(tgs.of(target)).await?;
    let checks = verdicts(&check_target, svc.as_ref(), &targets);
    for c in &checks {
        ctx.out.emit(Event::Health {
            color: target,
            signal: c.signal.to_string(),
            ok: c.ok,
            observed: c.observed.clone(),
        });
    }
    let failing = failing(&checks);
    if desired < 1 || !failing.is_empty() {
        return Err(Error::refused(
            format!(
                "{target} is not ready to take traffic (desired {desired}{}); nothing changed",
                if failing.is_empty() {
                    String::new()
                } else {
                    format!("; {}", failing.join("; "))
                }
            ),
            format!(
                "redeploy a known-good image: `bluegreen deploy --env {} --image IMAGE`",
                ctx.cfg.name
            ),
        ));
    }

    let wanted = Weights::all_on(target);
    ctx.step(format!(
        "moving production traffic: {} → {wanted}",
        before.weights()
    ));
    if let Err(e) = ctx
        .shift(&aws, &shared.listener_arn, tgs, &before, wanted)
        .await
    {
        // Whatever the listener holds now is unverified: say so loudly.
        let now = read_view(&aws.traffic, &shared.listener_arn, tgs)
            .await
            .map(|v| v.weights().to_string())
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        return Err(Error::RollbackFailed {
            reason: format!("rollback to {target} requested"),
            restore_error: format!("{e}; the listener now reads {now}"),
        });
    }
    let r = RollbackResult {
        outcome: "rolled_back",
        env: &ctx.cfg.name,
        live_color: target,
        previous_color: live,
        weights: wanted,
    };
    ctx.out.result(
        &format!("rolled back: production traffic is on {target} (listener reads {wanted})"),
        &r,
    );
    Ok(())
}
