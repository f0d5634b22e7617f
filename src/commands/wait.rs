//! Polling a color until it is healthy, or until the deadline.

use super::context::{Aws, Ctx};
use crate::aws::{ServiceState, Services, TargetHealth, Traffic};
use crate::color::Color;
use crate::deploy::{failing, service_stable, targets_healthy, Check};
use crate::error::Error;
use crate::report::Event;
use std::time::Duration;
use tokio::time::Instant;

pub struct Target<'a> {
    pub color: Color,
    pub cluster: &'a str,
    pub service: &'a str,
    pub target_group: &'a str,
    pub task_definition: &'a str,
    pub desired: i32,
}

/// One look at every health signal of the color.
pub async fn check_once(aws: &Aws, t: &Target<'_>) -> Result<Vec<Check>, Error> {
    let svc = aws.services.describe(t.cluster, t.service).await?;
    let targets = aws.traffic.target_health(t.target_group).await?;
    Ok(verdicts(t, svc.as_ref(), &targets))
}

/// The verdict of every health signal, from what was read.
pub fn verdicts(
    t: &Target<'_>,
    svc: Option<&ServiceState>,
    targets: &[TargetHealth],
) -> Vec<Check> {
    vec![
        service_stable(svc, t.desired, t.task_definition),
        targets_healthy(targets, t.desired.max(0) as usize),
    ]
}

/// Polls every `interval` until all signals pass. On timeout returns the failing signals with
/// what they last observed.
pub async fn until_healthy(
    ctx: &Ctx,
    aws: &Aws,
    t: &Target<'_>,
    timeout: Duration,
    interval: Duration,
) -> Result<Result<(), String>, Error> {
    let deadline = Instant::now() + timeout;
    let mut last_reported: Vec<Check> = Vec::new();
    loop {
        let checks = check_once(aws, t).await?;
        for c in &checks {
            // Report a signal when it changes, not on every poll.
            if !last_reported.contains(c) {
                ctx.out.emit(Event::Health {
                    color: t.color,
                    signal: c.signal.to_string(),
                    ok: c.ok,
                    observed: c.observed.clone(),
                });
            }
        }
        if checks.iter().all(|c| c.ok) {
            return Ok(Ok(()));
        }
        last_reported = checks.clone();
        if Instant::now() + interval > deadline {
            return Ok(Err(format!(
                "{} did not become healthy within {}: {}",
                t.color,
                humantime::format_duration(timeout),
                failing(&checks).join("; ")
            )));
        }
        tokio::time::sleep(interval).await;
    }
}
