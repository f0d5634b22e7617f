//! `rollback`: one listener change back to the other color — which must still be provisioned,
//! running and healthy — read back and verified. It never replays deploy steps.

use super::context::Ctx;
use super::control::Control;
use super::shift::Routes;
use super::wait::{verdicts, Target};
use crate::aws::{Services, Traffic};
use crate::color::{Color, Weights};
use crate::deploy::failing;
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
    let mut routes = Routes::read(&aws, tgs, &shared.production_routes()).await?;
    let before = routes.primary().clone();
    let live = before.weights().live_color();
    // A deploy in flight knows which color it is moving away from: that is where a rollback
    // goes, whatever the weights are at this instant. The deploy sees the change on its next
    // poll and stops.
    let in_flight = Control::new(ctx.work.path())
        .read()
        .filter(|(_, alive)| *alive)
        .and_then(|(s, _)| s.old);
    if let Some(old) = in_flight {
        ctx.info(format!(
            "a deploy is in flight; rolling back to the color it started from: {old}"
        ));
    }
    let target =
        match (to, in_flight, live) {
            (Some(t), _, _) => t,
            (None, Some(old), _) => old,
            (None, None, Some(l)) => l.other(),
            (None, None, None) => return Err(Error::refused(
                format!(
                    "no single color is live ({}), so there is no \"other\" color",
                    before.weights()
                ),
                "name the color to put traffic on: `bluegreen rollback --env ENV --to blue|green`",
            )),
        };
    if live == Some(target) && routes.disagreeing().is_empty() {
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
    let mut svc = aws
        .services
        .describe(&out.cluster_name, &out.service_name)
        .await?;
    let scaled_down = svc.as_ref().is_some_and(|s| s.desired == 0);
    if scaled_down {
        // The last deploy scaled it down after its termination wait. Bring it back first; this
        // rollback then takes as long as the service needs to become healthy.
        let n = ctx.cfg.service.desired_count as i32;
        ctx.step(format!(
            "{target} was scaled to 0 after the last deploy: scaling it to {n} and waiting until it is healthy (at most {})",
            humantime::format_duration(ctx.cfg.health.timeout)
        ));
        aws.services
            .set_desired(&out.cluster_name, &out.service_name, n)
            .await?;
    }
    let deadline = tokio::time::Instant::now() + ctx.cfg.health.timeout;
    let failing = loop {
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
        let mut failing = failing(&checks);
        if desired < 1 {
            failing.push(format!("desired count is {desired}"));
        }
        if failing.is_empty() || !scaled_down || tokio::time::Instant::now() >= deadline {
            break failing;
        }
        tokio::time::sleep(ctx.cfg.health.poll_interval).await;
        svc = aws
            .services
            .describe(&out.cluster_name, &out.service_name)
            .await?;
    };
    if !failing.is_empty() {
        if scaled_down {
            // Leave the idle color as it was found.
            aws.services
                .set_desired(&out.cluster_name, &out.service_name, 0)
                .await?;
        }
        return Err(Error::refused(
            format!(
                "{target} is not ready to take traffic: {}; production traffic was not changed",
                failing.join("; ")
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
    if let Err(e) = routes.set(ctx, &aws, wanted).await {
        // Whatever the routes hold now is unverified: say so loudly.
        return Err(Error::RollbackFailed {
            reason: format!("rollback to {target} requested"),
            restore_error: e,
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
