//! `resume`: continues an interrupted deployment from its last verified step.
//!
//! The journal says what the deployment verified last, and which change (if any) it had
//! announced but not verified when it died. The live weights decide: they must equal one of
//! those two, on every production route; otherwise someone (or something) moved traffic since,
//! and `resume` refuses and explains — `rollback` is always allowed. Nothing is applied twice
//! by accident: Terraform steps are re-run only if the journal never saw them finish (a re-run
//! of an applied plan changes nothing), and weights are read back before anything continues.

use crate::domain::color::Weights;
use crate::domain::{Checkpoint, Machine, Schedule, Step, Until};
use crate::error::Error;
use crate::flow::context::{Aws, Ctx};
use crate::flow::drive::Routes;
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::provision::{prepare_new_color, Provision};
use crate::flow::run::{run_machine, Stacks};
use crate::flow::session::{after_release, Guard, Session};
use crate::flow::spec::{deployment_spec, Source, Today};
use crate::state::journal::{CommandKind, FinalOutcome, Progress};
use crate::state::{Entry, Holder, Writer};
use std::time::Duration;

pub async fn run(ctx: &Ctx, until: Option<Until>, lock_wait: Duration) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    let tool = ctx.tool()?;
    let store = ctx.store().await;
    let nothing = || {
        Error::refused(
            format!("no interrupted deployment in `{env}`; nothing to resume"),
            format!("start one: `bluegreen deploy --env {arg} --image IMAGE`"),
        )
    };
    let (summary, _) = store.unfinished().await?.ok_or_else(nothing)?;
    let holder = Holder::this_process("resume", &summary.id);
    let guard = Guard::take(ctx, &store, holder, lock_wait).await?;
    // Read again under the lock: the journal is only trusted while we hold it.
    let (summary, records) = match store.unfinished().await {
        Ok(Some(u)) if u.0.id == summary.id => u,
        Ok(_) => {
            let _ = guard.release().await;
            return Err(nothing());
        }
        Err(e) => {
            let _ = guard.release().await;
            return Err(e.into());
        }
    };
    let mut session = Session::new(store, guard, Writer::continuing(&summary.id, &records));
    session.record_takeover(ctx).await;
    let result = match Progress::of(&records) {
        // A rebuild without --swap never moves production traffic: there is nothing to
        // continue, and the next `rebuild` ends it and starts over.
        Some(_) if summary.started_by() == CommandKind::Rebuild => Err(Error::refused(
            format!(
                "deployment {} is an interrupted `rebuild` (without --swap); it never moved production traffic",
                summary.id
            ),
            format!("re-run `bluegreen rebuild --env {arg}`: it ends this one and rebuilds again"),
        )),
        Some(progress) => resume_locked(ctx, &tool, &mut session, progress, until).await,
        None => Err(Error::refused(
            format!(
                "deployment {} is an interrupted `{}`, not a deploy",
                summary.id, summary.command
            ),
            format!("run `bluegreen {} --env {arg}` again", summary.command),
        )),
    };
    after_release(result, session.release().await)
}

async fn resume_locked(
    ctx: &Ctx,
    tool: &crate::iac::IacTool,
    session: &mut Session,
    p: Progress,
    until: Option<Until>,
) -> Result<(), Error> {
    let arg = &ctx.cfg.env_arg;
    let id = session.deployment().to_string();
    let start = &p.start;
    ctx.step(format!(
        "resuming deployment {id}: {} → {} (started by {}@{})",
        start.spec.image, start.spec.new, start.user, start.host
    ));
    let source = Source::Journal {
        start,
        deployment: &id,
        approved: p.approved,
        until,
    };
    let spec = deployment_spec(&Today::of(&ctx.cfg), source)?;
    let (_, shared) = ctx.shared_outputs(tool).await?;
    let shared = shared.ok_or_else(|| {
        Error::refused(
            format!("deployment {id} never got as far as the shared stack"),
            format!("`bluegreen rollback --env {arg}` ends it; then deploy again"),
        )
    })?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let mut routes = Routes::read(&aws, tgs, &shared.production_routes()).await?;

    // A rollback the deployment had started: finish it, whatever the routes read.
    if let Some(to) = p.rolling_back {
        let done = routes.disagreeing().is_empty() && routes.primary().weights() == to;
        return finish_rollback(ctx, &aws, session, routes, to, done, &p).await;
    }
    let (live, at_step) = where_traffic_is(ctx, &aws, session, &mut routes, &p).await?;
    discard_old_request(ctx, session, &id).await;
    let me = &session.guard.holder;
    let resumed = Entry::Resumed {
        user: me.user.clone(),
        host: me.host.clone(),
        pid: me.pid,
        weights: live,
    };
    session.write(resumed).await?;

    let checkpoint = checkpoint_of(&p, at_step, &spec.schedule);
    ctx.info(format!("continuing from: {checkpoint:?}"));
    if let Checkpoint::Paused { step } = checkpoint {
        ctx.step(format!(
            "the deployment was paused at step {}: it waits again for `bluegreen promote --env {arg}` (signals are watched; `bluegreen rollback` puts traffic back)",
            step + 1
        ));
    }
    let out = reprovision(ctx, tool, &aws, session, &shared, &p, checkpoint).await?;
    let live_out = match spec.old {
        Some(old) => ctx.color_outputs(tool, old, &shared).await?,
        None => None,
    };
    let stacks = Stacks {
        shared: &shared,
        live_out: live_out.as_ref(),
    };
    // The restore point of a resumed deployment is where it started, not where it resumed.
    // (A first deploy started from the listener's fixed response, which the journal does not
    // hold: its restore point stays what the routes read now.)
    let routes = match spec.old {
        Some(_) => routes.restoring_to(start.before),
        None => routes,
    };
    let machine = Machine::resume(spec, checkpoint, Duration::ZERO);
    run_machine(ctx, &aws, session, routes, &out, &stacks, machine).await
}

/// The live weights, checked against the journal (every route reads the last verified weights
/// or the announced ones, `Progress::can_resume`, the rule `status` shares), and the step they
/// are verified at. A lockstep change the process died in the middle of is finished first.
async fn where_traffic_is(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    routes: &mut Routes<'_>,
    p: &Progress,
) -> Result<(Weights, Option<usize>), Error> {
    let arg = &ctx.cfg.env_arg;
    let id = session.deployment().to_string();
    let refuse = |why: String| {
        Error::refused(
            format!("cannot resume deployment {id}: {why}; nothing was changed"),
            format!(
                "put traffic back with `bluegreen rollback --env {arg}` (always allowed), then deploy again"
            ),
        )
    };
    let disagreeing = routes.disagreeing();
    let mut live = routes.primary().weights();
    let verified = p.verified_weights();
    let reads: Vec<Weights> = routes.before.iter().map(|(_, v)| v.weights()).collect();
    if !p.can_resume(&reads) {
        return Err(refuse(if disagreeing.is_empty() {
            format!(
                "the live weights are {live}, but the journal's last verified weights are {verified}{}",
                p.pending
                    .map(|(w, _)| format!(" (and the change it was making was to {w})"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "the production routes disagree ({live} on the listener; {})",
                disagreeing.join("; ")
            )
        }));
    }
    // Resumable, so the announced change is the only other thing a route can read.
    let announced = p.pending.filter(|(w, _)| *w != verified);
    if let Some((w, _)) = announced.filter(|_| !disagreeing.is_empty()) {
        // The process died between two routes of one lockstep change: finishing the announced
        // change is continuing the deployment.
        ctx.step(format!(
            "the deployment died while writing {w}: some routes read it, the others {verified}; finishing that change"
        ));
        routes
            .set(ctx, aws, session.guard.fence(), w)
            .await
            .map_err(|e| refuse(format!("finishing the interrupted change failed: {e}")))?;
        live = w;
    }
    let Some((w, step)) = announced.filter(|(w, _)| *w == live) else {
        return Ok((live, p.verified.and_then(|(_, s)| s)));
    };
    // The announced change landed (or was just finished): it reads back now, so it is verified.
    ctx.info(format!(
        "the change the deployment announced last ({w}) had landed"
    ));
    session
        .write(Entry::WeightsVerified { weights: w, step })
        .await?;
    Ok((live, step))
}

/// A promote or rollback request left for the process that died is not this run's to act on:
/// the operator now asked to continue.
async fn discard_old_request(ctx: &Ctx, session: &Session, id: &str) {
    if let Ok(Some(req)) = session.store.take_request(id).await {
        ctx.out.emit(crate::report::Event::Warning {
            message: format!(
                "discarded a `{}` request made before the deployment was interrupted; run it again if it still applies",
                req.as_str()
            ),
        });
    }
}

/// Where the machine continues: the step the live weights are verified at, or a pause, the
/// post-promotion bake or the termination wait after the last one.
fn checkpoint_of(p: &Progress, at_step: Option<usize>, schedule: &Schedule) -> Checkpoint {
    let last = schedule.steps().len() - 1;
    match at_step {
        None => Checkpoint::Start,
        Some(i) if p.paused_at == Some(i) => Checkpoint::Paused { step: i },
        Some(i) if i < last => match schedule.steps()[i] {
            Step::Pause => Checkpoint::Paused { step: i },
            Step::Weight { .. } => Checkpoint::Baking { step: i },
        },
        Some(_) if p.termination_wait => Checkpoint::TerminationWait {
            scale_down_started: p.scale_down_intent,
        },
        Some(_) => Checkpoint::PostBake,
    }
}

/// The new color, brought to full size: re-provisioned only if the journal never saw the apply
/// finish (and only before production traffic moved).
async fn reprovision(
    ctx: &Ctx,
    tool: &crate::iac::IacTool,
    aws: &Aws,
    session: &mut Session,
    shared: &SharedOutputs,
    p: &Progress,
    checkpoint: Checkpoint,
) -> Result<ServiceOutputs, Error> {
    let new = p.start.spec.new;
    let provisioned = match &p.provisioned {
        Some(_) => ctx.color_outputs(tool, new, shared).await?,
        None => None,
    };
    if checkpoint != Checkpoint::Start && provisioned.is_none() {
        let arg = &ctx.cfg.env_arg;
        return Err(Error::refused(
            format!(
                "cannot resume deployment {}: {new} takes production traffic but its stack has no outputs; nothing was changed",
                session.deployment()
            ),
            format!(
                "put traffic back with `bluegreen rollback --env {arg}` (always allowed), then deploy again"
            ),
        ));
    }
    let provision = match provisioned {
        Some(out) => Provision::Done(out),
        None => Provision::PlanNow,
    };
    let image = &p.start.spec.image;
    prepare_new_color(ctx, tool, aws, session, shared, new, image, provision).await
}

/// The deployment was rolling back when it died: put traffic back where it started.
async fn finish_rollback(
    ctx: &Ctx,
    aws: &Aws,
    session: &mut Session,
    routes: Routes<'_>,
    to: Weights,
    already_there: bool,
    p: &Progress,
) -> Result<(), Error> {
    ctx.step(format!("the deployment was rolling back: restoring {to}"));
    let routes = routes.restoring_to(to);
    if !already_there {
        if let Err(e) = routes.restore(ctx, aws, session.guard.fence()).await {
            session
                .finish(
                    ctx,
                    FinalOutcome::RollbackFailed,
                    e.clone(),
                    p.rollback_signal.clone(),
                )
                .await;
            return Err(Error::RollbackFailed {
                reason: "resuming an interrupted rollback".into(),
                restore_error: e,
            });
        }
    }
    session.record(ctx, Entry::Restored { weights: to }).await;
    let detail = format!("interrupted while rolling back; resumed and restored {to} (verified)");
    session
        .finish(
            ctx,
            FinalOutcome::RolledBack,
            detail.clone(),
            p.rollback_signal.clone(),
        )
        .await;
    Err(Error::RolledBack {
        reason: format!(
            "the deployment had failed ({}) and was rolling back",
            p.rollback_signal.as_deref().unwrap_or("unknown signal")
        ),
        restored: to.live_color(),
        weights: to,
    })
}
