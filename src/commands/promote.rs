//! `promote`: lets a deploy that waits at a pause step continue. The deploy process itself
//! (the lock holder) makes the next weight change; this command only asks, through the state
//! store (so it works from another machine with the DynamoDB backend), and refuses when
//! nothing is waiting.

use crate::error::Error;
use crate::flow::context::Ctx;
use crate::state::{now_ms, Request, Summary};
use serde::Serialize;

#[derive(Serialize)]
struct PromoteResult<'a> {
    outcome: &'a str,
    env: &'a str,
    deployment: &'a str,
    holder: String,
    step: &'a str,
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    let store = ctx.store().await;
    let running = store
        .lock_info()
        .await?
        .filter(|l| l.stale_because(now_ms()).is_none());
    let Some(lock) = running else {
        let fix = match store.unfinished().await? {
            Some((s, _)) => format!(
                "deployment {} was interrupted at: {}; `bluegreen resume --env {arg}` continues it",
                s.id, s.step
            ),
            None => format!("start one: `bluegreen deploy --env {arg} --image IMAGE`"),
        };
        return Err(Error::refused(
            format!("no deploy is running in `{env}`; nothing to promote"),
            fix,
        ));
    };
    let id = &lock.holder.deployment;
    let summary = Summary::of(&store.records(id).await?);
    let paused = summary
        .as_ref()
        .is_some_and(|s| s.paused && s.outcome.is_none());
    let step = summary.as_ref().map(|s| s.step.clone()).unwrap_or_default();
    if !paused {
        return Err(Error::refused(
            format!(
                "the running {} is not paused; it is at: {step}",
                lock.holder
            ),
            "promote only continues a deploy that waits at a `pause` step",
        ));
    }
    store.put_request(id, Request::Promote).await?;
    ctx.out.result(
        &format!("promote requested: deployment {id} continues at its next poll (it was {step})"),
        &PromoteResult {
            outcome: "promote_requested",
            env,
            deployment: id,
            holder: lock.holder.to_string(),
            step: &step,
        },
    );
    Ok(())
}
