//! `rollback`: one listener change back to the other color — which must still be provisioned,
//! running and healthy — read back and verified. It never replays deploy steps.
//!
//! It is always allowed, in three ways:
//! - a deploy is running (it holds the lock): the request goes to that deploy through the
//!   state store, and the deploy — the only writer — puts traffic back at its next poll;
//! - a deployment was interrupted (its process died): rollback takes the stale lock, goes to
//!   the color that deployment started from, and ends it in the journal;
//! - nothing is in flight: rollback to the other color, under the lock, journaled.

use crate::domain::color::{Color, Weights};
use crate::domain::rollback::target_color;
use crate::error::Error;
use crate::flow::context::Aws;
use crate::flow::context::Ctx;
use crate::flow::drive::Routes;
use crate::flow::judge::judge_target;
use crate::flow::known_good::{journal_view, JournalView};
use crate::flow::outputs::SharedOutputs;
use crate::flow::session::{after_release, locked, Guard, Session};
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
                        ctx.cfg.env_arg
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
                fix: format!("watch it with `bluegreen status --env {}`", ctx.cfg.env_arg),
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
    let (_, recorded) = ctx.recorded_shared(tool).await?;
    let recorded = recorded.ok_or_else(|| {
        Error::refused(
            "nothing to roll back: the shared stack was never applied",
            "deploy first: `bluegreen deploy --env ENV --image IMAGE`",
        )
    })?;
    let aws = ctx.aws().await;
    // The outputs record is trusted only as far as AWS confirms it (docs/architecture.md,
    // "The outputs record"): routes that do not read with it send us to Terraform once.
    let fresh;
    let routes = Routes::read(&aws, &recorded.target_groups, &recorded.production_routes()).await;
    let (shared, routes) = match routes {
        Ok(routes) => (&recorded, routes),
        Err(e) => {
            fresh = reread_shared(ctx, tool, &recorded, e).await?;
            let arns = fresh.production_routes();
            (
                &fresh,
                Routes::read(&aws, &fresh.target_groups, &arns).await?,
            )
        }
    };
    let tgs = &shared.target_groups;
    let live = routes.primary().weights().live_color();
    let view = journal_view(ctx, session, to).await?;
    let split = !routes.disagreeing().is_empty();
    let target = target_color(to, view.known_good, live, split).map_err(|why| {
        Error::refused(
            format!("{why} ({})", describe_routes(&routes)),
            "name the color to put traffic on: `bluegreen rollback --env ENV --to blue|green`",
        )
    })?;
    if live == Some(target) && !split {
        return already_there(ctx, session, &view, target, &routes).await;
    }
    // The target must be provisioned and pass every configured signal right now: rolling back
    // onto a stack that can't serve would make things worse.
    let out = ctx
        .recorded_color(tool, target, shared)
        .await?
        .ok_or_else(|| {
            Error::refused(
                format!("{target} was never provisioned in this environment; nothing changed"),
                "deploy a known-good image instead: `bluegreen deploy --env ENV --image IMAGE`",
            )
        })?;
    let judged = judge_target(ctx, &aws, session, &out, tgs.of(target), target, force).await?;
    journal_rollback(
        ctx,
        session,
        &view,
        &routes,
        target,
        judged.scaled_up,
        &judged.forced,
    )
    .await?;
    move_traffic(ctx, &aws, session, &view, &routes, target, judged.forced).await
}

/// The routes did not read with the recorded shared outputs: reads the shared stack through
/// Terraform; its outputs if they differ from the record's, else the read's error.
async fn reread_shared(
    ctx: &Ctx,
    tool: &crate::iac::IacTool,
    recorded: &SharedOutputs,
    err: crate::domain::TrafficError,
) -> Result<SharedOutputs, Error> {
    let (_, fresh) = ctx.terraform_shared(tool).await?;
    match fresh {
        Some(fresh) if &fresh != recorded => {
            ctx.step(format!(
                "the routes did not read with the recorded shared outputs ({err}); the shared \
                 stack's outputs changed: using the ones Terraform reads now"
            ));
            Ok(fresh)
        }
        _ => Err(err.into()),
    }
}

/// All traffic is on the target already: nothing moves; an interrupted deployment is ended.
async fn already_there(
    ctx: &Ctx,
    session: &Session,
    view: &JournalView,
    target: Color,
    routes: &Routes<'_>,
) -> Result<(), Error> {
    ctx.step(format!("all traffic is already on {target}; nothing to do"));
    let why = "traffic was already there";
    let ended = end_unfinished(ctx, session, &view.unfinished, target, why).await;
    let r = RollbackResult {
        outcome: "already_live",
        env: &ctx.cfg.name,
        deployment: None,
        ended,
        live_color: target,
        previous_color: None,
        weights: routes.primary().weights(),
        forced: Vec::new(),
    };
    ctx.out.result(&format!("already live: {target}"), &r);
    Ok(())
}

/// Journals the rollback before anything moves: started (with what `--force` let through),
/// the target's scale-up, a lock takeover, and the intent.
async fn journal_rollback(
    ctx: &Ctx,
    session: &mut Session,
    view: &JournalView,
    routes: &Routes<'_>,
    target: Color,
    scaled_up: bool,
    forced: &[Overridden],
) -> Result<(), Error> {
    let me = &session.guard.holder;
    let started = Entry::RollbackStarted {
        user: me.user.clone(),
        host: me.host.clone(),
        pid: me.pid,
        from: routes.primary().weights(),
        to: target,
        ends: view.unfinished.as_ref().map(|(s, _)| s.id.clone()),
        forced: forced.to_vec(),
    };
    session.write(started).await?;
    if scaled_up {
        // It was scaled up above (and is healthy): the journal's record of its size follows.
        let desired = ctx.cfg.service.desired_count;
        let entry = Entry::ScaledUp {
            color: target,
            desired,
        };
        session.record(ctx, entry).await;
    }
    session.record_takeover(ctx).await;
    let intent = Entry::WeightsIntent {
        weights: Weights::all_on(target),
        step: None,
    };
    session.write(intent).await?;
    Ok(())
}

/// Puts every route on `target` — a restore: fenced, retried until its deadline, read back
/// twice — then journals and reports the outcome.
async fn move_traffic(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    view: &JournalView,
    routes: &Routes<'_>,
    target: Color,
    forced: Vec<Overridden>,
) -> Result<(), Error> {
    let wanted = Weights::all_on(target);
    let before = routes.primary().weights();
    ctx.step(format!("moving production traffic: {before} → {wanted}"));
    let views = routes.views_at(wanted);
    if let Err(e) = routes
        .put(ctx, aws, session.guard.fence(), &views, true)
        .await
    {
        // Whatever the routes hold now is unverified: say so loudly.
        let failed = Entry::WeightsFailed {
            weights: wanted,
            error: e.clone(),
        };
        session.record(ctx, failed).await;
        let outcome = FinalOutcome::RollbackFailed;
        session.finish(ctx, outcome, e.clone(), None).await;
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
    let outcome = FinalOutcome::RolledBack;
    session.finish(ctx, outcome, detail, None).await;
    let why = format!("rolled back by {}", session.deployment());
    let ended = end_unfinished(ctx, session, &view.unfinished, target, &why).await;
    let r = RollbackResult {
        outcome: "rolled_back",
        env: &ctx.cfg.name,
        deployment: Some(session.deployment().to_string()),
        ended,
        live_color: target,
        previous_color: before.live_color(),
        weights: wanted,
        forced,
    };
    ctx.out.result(
        &format!("rolled back: production traffic is on {target} (listener reads {wanted})"),
        &r,
    );
    Ok(())
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
