//! `rollback`: one listener change back to the other color — which must still be provisioned,
//! running and healthy — read back and verified. It never replays deploy steps.
//!
//! It is always allowed, in three ways:
//! - a deploy is running (it holds the lock): the request goes to that deploy through the
//!   state store, and the deploy — the only writer — puts traffic back at its next poll;
//! - a deployment was interrupted (its process died): rollback takes the stale lock, goes to
//!   the color that deployment started from, and ends it in the journal;
//! - nothing is in flight: rollback to the other color, under the lock, journaled.

use crate::aws::Services;
use crate::domain::color::{Color, Weights};
use crate::domain::{Reading, Stage};
use crate::error::Error;
use crate::flow::context::Aws;
use crate::flow::context::Ctx;
use crate::flow::drive::Routes;
use crate::flow::outputs::ServiceOutputs;
use crate::flow::readiness::until_ready;
use crate::flow::session::{after_release, locked, Guard, Session};
use crate::flow::target::Target;
use crate::report::Event;
use crate::state::journal::{FinalOutcome, Progress};
use crate::state::{
    new_deployment_id, Entry, Holder, LockInfo, Overridden, Request, Store, Summary, Writer,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

#[derive(Serialize)]
struct RollbackResult<'a> {
    outcome: &'a str,
    env: &'a str,
    /// The journal id of this rollback (or of the deploy that rolled back on request).
    deployment: Option<String>,
    /// The interrupted deployment this rollback ended, if any.
    ended: Option<String>,
    live_color: Color,
    previous_color: Option<Color>,
    weights: Weights,
    /// With `--force`: the target's failing signals traffic was moved past.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forced: Vec<Overridden>,
}

pub async fn run(
    ctx: &Ctx,
    to: Option<Color>,
    force: bool,
    lock_wait: Duration,
) -> Result<(), Error> {
    let tool = ctx.tool()?;
    ctx.step(format!("rollback in environment `{}`", ctx.cfg.name));
    let store = ctx.store().await;
    let id = new_deployment_id();
    let holder = Holder::this_process("rollback", &id);
    let guard = match Guard::take(ctx, &store, holder.clone(), Duration::ZERO).await {
        Ok(g) => g,
        Err(Error::Locked { holder: lock, .. })
            if matches!(
                lock.holder.command.as_str(),
                "deploy" | "apply" | "resume" | "rebuild --swap"
            ) =>
        {
            return ask_running_deploy(ctx, &store, &lock, to).await;
        }
        Err(Error::Locked { .. }) if !lock_wait.is_zero() => {
            Guard::take(ctx, &store, holder, lock_wait).await?
        }
        Err(e) => return Err(e),
    };
    let mut session = Session::new(store, guard, Writer::new(&id));
    let result = rollback_locked(ctx, &tool, &mut session, to, force).await;
    after_release(result, session.release().await)
}

/// A deploy is running: ask it to roll back (it holds the lock and is the only writer), then
/// wait for its journal to say how it ended.
async fn ask_running_deploy(
    ctx: &Ctx,
    store: &Arc<Store>,
    lock: &LockInfo,
    to: Option<Color>,
) -> Result<(), Error> {
    let id = lock.holder.deployment.clone();
    let records = store.records(&id).await?;
    let from = Progress::of(&records).and_then(|p| p.start.spec.old);
    if let (Some(t), Some(f)) = (to, from) {
        if t != f {
            return Err(locked(ctx, lock.clone(), Duration::ZERO));
        }
    }
    ctx.step(format!(
        "a deploy is running ({}): asking it to put traffic back{}",
        lock.holder,
        from.map(|c| format!(" on {c}")).unwrap_or_default()
    ));
    store.put_request(&id, Request::Rollback).await?;
    // The deploy acts at its next poll; the restore then takes at most one verify timeout.
    let patience = ctx.cfg.health.poll_interval * 3 + ctx.cfg.traffic.verify_timeout * 2;
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let summary = Summary::of(&store.records(&id).await?);
        if let Some(s) = summary.filter(|s| s.outcome.is_some()) {
            let outcome = s.outcome.expect("filtered on an outcome");
            let detail = s.detail.clone().unwrap_or_default();
            return match outcome {
                FinalOutcome::RolledBack => {
                    let weights = s.last_verified.unwrap_or_default();
                    let live = weights.live_color();
                    let r = RollbackResult {
                        outcome: "rolled_back",
                        env: &ctx.cfg.name,
                        deployment: Some(id.clone()),
                        ended: Some(id.clone()),
                        live_color: live.or(from).unwrap_or(Color::Blue),
                        previous_color: s.to_color,
                        weights,
                        forced: Vec::new(),
                    };
                    ctx.out.result(
                        &format!("rolled back: deployment {id} put production traffic back ({weights}, verified)"),
                        &r,
                    );
                    Ok(())
                }
                FinalOutcome::RollbackFailed => Err(Error::RollbackFailed {
                    reason: format!("rollback of deployment {id} requested"),
                    restore_error: detail,
                }),
                other => Err(Error::refused(
                    format!(
                        "deployment {id} ended ({}) before it acted on the request: {detail}",
                        other.as_str()
                    ),
                    format!(
                        "run `bluegreen rollback --env {}` again to roll back from its result",
                        ctx.cfg.name
                    ),
                )),
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Locked {
                message: format!(
                    "asked the running deploy ({}) to roll back, but it has not acted within {}; \
                     it is at: {}. The request stays pending: it rolls back at its next poll",
                    lock.holder,
                    humantime::format_duration(patience),
                    Summary::of(&records).map(|s| s.step).unwrap_or_default()
                ),
                fix: format!("watch it with `bluegreen status --env {}`", ctx.cfg.name),
                holder: Box::new(lock.clone()),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn rollback_locked(
    ctx: &Ctx,
    tool: &crate::iac::IacTool,
    session: &mut Session,
    to: Option<Color>,
    force: bool,
) -> Result<(), Error> {
    let tool = tool.clone();
    let (_, shared) = ctx.shared_outputs(&tool).await?;
    let shared = shared.ok_or_else(|| {
        Error::refused(
            "nothing to roll back: the shared stack was never applied",
            "deploy first: `bluegreen deploy --env ENV --image IMAGE`",
        )
    })?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let routes = Routes::read(&aws, tgs, &shared.production_routes()).await?;
    let before = routes.primary().clone();
    let live = before.weights().live_color();
    // An interrupted deployment knows which color it was moving away from: that is where a
    // rollback goes, whatever the weights are at this instant.
    let unfinished = match session.store.unfinished().await {
        Ok(u) => u,
        // An emergency must not wait for a repair: with an explicit color, roll back anyway
        // (the damaged journal stays as it is and still blocks deploys until repaired).
        Err(e @ crate::state::StoreError::Corrupt { .. }) if to.is_some() => {
            ctx.out.emit(Event::Warning {
                message: format!("{e}\nrolling back anyway, because --to names the color"),
            });
            None
        }
        Err(e @ crate::state::StoreError::Corrupt { .. }) => {
            return Err(Error::refused(
                format!("{e}"),
                "to roll back without the journal, name the color: `bluegreen rollback --env ENV --to blue|green`",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    // The journal's known-good color: where an interrupted deployment started from, or where
    // the newest deployment's failed restore was putting traffic back.
    // (With `--to` the color is named: the journal is not read again, so an emergency
    // rollback works even with a damaged journal.)
    let failed_restore = match (&unfinished, to) {
        (Some(_), _) | (None, Some(_)) => None,
        (None, None) => session
            .store
            .newest()
            .await?
            .filter(|(s, _)| s.outcome == Some(FinalOutcome::RollbackFailed)),
    };
    let known_good = unfinished
        .as_ref()
        .or(failed_restore.as_ref())
        .and_then(|(s, records)| known_good(s, records));
    if let (Some((s, _)), Some(old)) = (&unfinished, known_good) {
        ctx.info(format!(
            "deployment {} was interrupted at: {}; rolling back to the color it started from: {old}",
            s.id, s.step
        ));
    }
    if let (Some((s, _)), Some(good)) = (&failed_restore, known_good) {
        ctx.info(format!(
            "deployment {} could not finish putting traffic back on {good} ({}); finishing that",
            s.id,
            s.detail.as_deref().unwrap_or("restore not verified")
        ));
    }
    let split = !routes.disagreeing().is_empty();
    let target = target_color(to, known_good, live, split).map_err(|why| {
        Error::refused(
            format!("{why} ({})", describe_routes(&routes)),
            "name the color to put traffic on: `bluegreen rollback --env ENV --to blue|green`",
        )
    })?;
    if live == Some(target) && routes.disagreeing().is_empty() {
        ctx.step(format!("all traffic is already on {target}; nothing to do"));
        let ended = end_unfinished(
            ctx,
            session,
            &unfinished,
            target,
            "traffic was already there",
        )
        .await;
        let r = RollbackResult {
            outcome: "already_live",
            env: &ctx.cfg.name,
            deployment: None,
            ended,
            live_color: target,
            previous_color: None,
            weights: before.weights(),
            forced: Vec::new(),
        };
        ctx.out.result(&format!("already live: {target}"), &r);
        return Ok(());
    }

    // The target must be provisioned and pass every configured signal right now: rolling back
    // onto a stack that can't serve would make things worse.
    let out = ctx
        .color_outputs(&tool, target, &shared)
        .await?
        .ok_or_else(|| {
            Error::refused(
                format!("{target} was never provisioned in this environment; nothing changed"),
                "deploy a known-good image instead: `bluegreen deploy --env ENV --image IMAGE`",
            )
        })?;
    let judged = judge_target(ctx, &aws, session, &out, tgs.of(target), target, force).await?;

    let wanted = Weights::all_on(target);
    let me = &session.guard.holder;
    let started = Entry::RollbackStarted {
        user: me.user.clone(),
        host: me.host.clone(),
        pid: me.pid,
        from: before.weights(),
        to: target,
        ends: unfinished.as_ref().map(|(s, _)| s.id.clone()),
        forced: judged.forced.clone(),
    };
    session.write(started).await?;
    if judged.scaled_up {
        // It was scaled up above (and is healthy): the journal's record of its size follows.
        let desired = ctx.cfg.service.desired_count;
        session
            .record(
                ctx,
                Entry::ScaledUp {
                    color: target,
                    desired,
                },
            )
            .await;
    }
    session.record_takeover(ctx).await;
    let intent = Entry::WeightsIntent {
        weights: wanted,
        step: None,
    };
    session.write(intent).await?;
    ctx.step(format!(
        "moving production traffic: {} → {wanted}",
        before.weights()
    ));
    // Putting traffic on the known-good color is a restore: fenced, retried until its
    // deadline, read back twice.
    let views = routes.views_at(wanted);
    let put = routes
        .put(ctx, &aws, session.guard.fence(), &views, true)
        .await;
    if let Err(e) = put {
        // Whatever the routes hold now is unverified: say so loudly.
        let failed = Entry::WeightsFailed {
            weights: wanted,
            error: e.clone(),
        };
        session.record(ctx, failed).await;
        session
            .finish(ctx, FinalOutcome::RollbackFailed, e.clone(), None)
            .await;
        return Err(Error::RollbackFailed {
            reason: format!("rollback to {target} requested"),
            restore_error: e,
        });
    }
    let verified = Entry::WeightsVerified {
        weights: wanted,
        step: None,
    };
    session.record(ctx, verified).await;
    let detail = format!("production traffic is on {target} ({wanted}, verified)");
    session
        .finish(ctx, FinalOutcome::RolledBack, detail, None)
        .await;
    let why = format!("rolled back by {}", session.deployment());
    let ended = end_unfinished(ctx, session, &unfinished, target, &why).await;
    let r = RollbackResult {
        outcome: "rolled_back",
        env: &ctx.cfg.name,
        deployment: Some(session.deployment().to_string()),
        ended,
        live_color: target,
        previous_color: live,
        weights: wanted,
        forced: judged.forced,
    };
    ctx.out.result(
        &format!("rolled back: production traffic is on {target} (listener reads {wanted})"),
        &r,
    );
    Ok(())
}

/// What judging the rollback target found.
struct Judged {
    /// It was scaled down to 0 and this rollback scaled it back up.
    scaled_up: bool,
    /// With `--force`: the failing signals traffic is moved past anyway.
    forced: Vec<Overridden>,
}

/// Judges the rollback target by every configured signal, as a deploy would (ECS, target
/// health, alarms, HTTP checks, their no-data policies). A warm target is judged at once
/// (a pending signal is waited for within `health.timeout`); a target the last deploy scaled
/// to 0 is scaled back up first and waited for, within `health.timeout`. A failing target
/// refuses the rollback (it is put back to 0 if it was scaled up), unless `force`.
async fn judge_target(
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
            format!("redeploy a known-good image: `bluegreen deploy --env {} --image IMAGE`", ctx.cfg.name),
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
    let stage = if scaled_up {
        Stage::Settling
    } else {
        Stage::Watching
    };
    let failing = until_ready(ctx, aws, session, check, stage).await?;
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
            env = ctx.cfg.name
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

/// The color a deployment's journal says is known good: the color an interrupted or failed
/// rollback was restoring (its last rollback intent), else the color the deployment started
/// from (a `rollback` command: the color it was moving to).
fn known_good(s: &Summary, records: &[crate::state::Record]) -> Option<Color> {
    let intent = records.iter().rev().find_map(|r| match &r.entry {
        Entry::RollbackIntent { to, .. } => to.live_color(),
        _ => None,
    });
    intent.or(match s.command.as_str() {
        "rollback" => s.to_color,
        _ => Progress::of(records).and_then(|p| p.start.spec.old),
    })
}

/// Where `rollback` puts traffic (pure): the color asked for; else the journal's known-good
/// color (an interrupted deployment's starting color, or a failed restore's target) — even
/// when the routes are split; else the other color of a single live color. A split state
/// with nothing in the journal has no "other" color.
fn target_color(
    to: Option<Color>,
    known_good: Option<Color>,
    live: Option<Color>,
    split: bool,
) -> Result<Color, String> {
    match (to, known_good, live) {
        (Some(t), _, _) => Ok(t),
        (None, Some(good), _) => Ok(good),
        (None, None, Some(l)) if !split => Ok(l.other()),
        (None, None, Some(_)) => Err("the production routes disagree and no unfinished or \
             failed deployment in the journal names the known-good color"
            .into()),
        (None, None, None) => Err("no single color is live, so there is no \"other\" color".into()),
    }
}

/// Every route's weights, for messages.
fn describe_routes(routes: &Routes<'_>) -> String {
    routes
        .before
        .iter()
        .map(|(arn, v)| format!("{arn}: {}", v.weights()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ends an interrupted deployment whose traffic is now (verified) on `target`, the color it
/// started from: its journal gets the final record, so it no longer blocks deploys.
async fn end_unfinished(
    ctx: &Ctx,
    session: &Session,
    unfinished: &Option<(Summary, Vec<crate::state::Record>)>,
    target: Color,
    why: &str,
) -> Option<String> {
    let (s, records) = unfinished.as_ref()?;
    let mut w = Writer::continuing(&s.id, records).fenced(session.guard.fence().token());
    let mut entries = Vec::new();
    if let Some((previous, reason)) = session.guard.took_over.clone() {
        if previous.holder.deployment == s.id {
            entries.push(Entry::LockTakenOver { previous, reason });
        }
    }
    let weights = Weights::all_on(target);
    entries.push(Entry::Restored { weights });
    entries.push(Entry::Finished {
        outcome: FinalOutcome::RolledBack,
        detail: format!(
            "interrupted at: {}; {why}; production traffic is on {target}",
            s.step
        ),
        failing_signal: Some("operator".into()),
    });
    for e in entries {
        if let Err(err) = w.write(&session.store, e).await {
            ctx.out.emit(Event::Warning {
                message: format!("could not end deployment {} in the journal: {err}", s.id),
            });
            return None;
        }
    }
    ctx.info(format!(
        "deployment {} is ended in the journal (rolled back)",
        s.id
    ));
    Some(s.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Color::{Blue, Green};

    #[test]
    fn the_target_is_the_named_color_then_the_journals_known_good_then_the_other() {
        // (to, known good, live, split) → target
        type Case = (
            Option<Color>,
            Option<Color>,
            Option<Color>,
            bool,
            Result<Color, ()>,
        );
        let table: [Case; 8] = [
            (Some(Green), Some(Blue), Some(Blue), false, Ok(Green)),
            (Some(Blue), None, None, true, Ok(Blue)),
            // An interrupted deploy, or a failed restore, names where traffic was good.
            (None, Some(Blue), Some(Green), false, Ok(Blue)),
            // Issue 12, item 2: listeners restored to green, a rule still 20/80: the known-good
            // green, never "the other color" of the listener.
            (None, Some(Green), Some(Green), true, Ok(Green)),
            (None, Some(Blue), None, true, Ok(Blue)),
            (None, None, Some(Blue), false, Ok(Green)),
            (None, None, Some(Blue), true, Err(())),
            (None, None, None, false, Err(())),
        ];
        for (to, good, live, split, want) in table {
            let got = target_color(to, good, live, split).map_err(|_| ());
            assert_eq!(
                got, want,
                "to {to:?}, known good {good:?}, live {live:?}, split {split}"
            );
        }
    }
}
