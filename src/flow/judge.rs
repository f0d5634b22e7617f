//! Judging the color `rollback` puts traffic on: every configured signal, the way a deploy
//! judges (`crate::flow::readiness`), refused unless `--force` when one fails.

use crate::aws::Services;
use crate::domain::color::Color;
use crate::domain::rollback::judge_stage;
use crate::domain::Reading;
use crate::error::Error;
use crate::flow::context::{Aws, Ctx};
use crate::flow::outputs::ServiceOutputs;
use crate::flow::readiness::until_ready;
use crate::flow::session::Session;
use crate::flow::target::Target;
use crate::report::Event;
use crate::state::Overridden;

/// What judging the rollback target found.
pub struct Judged {
    /// It was scaled down to 0 and this rollback scaled it back up.
    pub scaled_up: bool,
    /// With `--force`: the failing signals traffic is moved past anyway.
    pub forced: Vec<Overridden>,
}

/// Judges the rollback target by every configured signal, as a deploy would (ECS, target
/// health, alarms, HTTP checks, their no-data policies). A warm, steady target is judged at
/// once (a pending signal is waited for within `health.timeout`); a target still coming up
/// ([`judge_stage`]) is waited for within `health.timeout`, and one the last deploy scaled to
/// 0 is scaled back up first and waited for the same way. A failing target
/// refuses the rollback (it is put back to 0 if it was scaled up), unless `force`.
pub async fn judge_target(
    ctx: &Ctx,
    aws: &Aws,
    session: &Session,
    out: &ServiceOutputs,
    target_group: &str,
    target: Color,
    force: bool,
) -> Result<Judged, Error> {
    let (cluster, service) = (&out.cluster_name, &out.service_name);
    let svc = aws.services.describe(cluster, service).await?.ok_or_else(|| {
        Error::refused(
            format!("{target}'s ECS service {service} was not found in cluster {cluster}; production traffic was not changed"),
            format!("redeploy a known-good image: `bluegreen deploy --env {} --image IMAGE`", ctx.cfg.env_arg),
        )
    })?;
    let scaled_up = svc.desired == 0;
    let desired = if scaled_up {
        // The last deploy scaled it down after its termination wait. Bring it back first; this
        // rollback then takes as long as the service needs to pass every signal.
        let n = ctx.cfg.service.desired_count as i32;
        ctx.step(format!(
            "{target} was scaled to 0 after the last deploy: scaling it to {n} and waiting until it passes every signal (at most {})",
            humantime::format_duration(ctx.cfg.health.timeout)
        ));
        session.fence_check().await?;
        aws.services.set_desired(cluster, service, n).await?;
        n
    } else {
        svc.desired
    };
    let check = Target {
        color: target,
        cluster,
        service,
        target_group,
        task_definition: &svc.task_definition,
        desired,
    };
    let stage = judge_stage(&svc, scaled_up);
    let failing = until_ready(ctx, aws, session, check, stage, || lock_lost(target)).await?;
    if failing.is_empty() {
        return Ok(Judged {
            scaled_up,
            forced: Vec::new(),
        });
    }
    let seen = describe_failing(&failing);
    if force {
        ctx.out.emit(Event::Warning {
            message: format!(
                "{target} fails {seen}; moving production traffic to it anyway (--force, journaled)"
            ),
        });
        let forced = failing
            .into_iter()
            .map(|r| Overridden {
                signal: r.signal,
                observed: r.observed,
            })
            .collect();
        return Ok(Judged { scaled_up, forced });
    }
    if scaled_up {
        // Leave the idle color as it was found.
        session.fence_check().await?;
        aws.services.set_desired(cluster, service, 0).await?;
    }
    Err(Error::refused(
        format!("{target} is not ready to take traffic: it fails {seen}; production traffic was not changed"),
        format!(
            "redeploy a known-good image: `bluegreen deploy --env {env} --image IMAGE`; or, if {target} must take traffic anyway, `bluegreen rollback --env {env} --to {target} --force` (journaled)",
            env = ctx.cfg.env_arg
        ),
    ))
}

/// `alarm:x-blue-5xx: ALARM (threshold crossed); target-health: 1/2 targets healthy`.
fn describe_failing(failing: &[Reading]) -> String {
    failing
        .iter()
        .map(|r| format!("{}: {}", r.signal, r.observed))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The lock was taken while the target was judged: nothing moved.
fn lock_lost(target: Color) -> Error {
    Error::refused(
        format!(
            "the environment lock was taken from this rollback (lease expired or `unlock --force`) while it checked {target}; production traffic was not changed"
        ),
        "check `bluegreen status`, then run `bluegreen rollback` again",
    )
}
