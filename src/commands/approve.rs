//! `approve`: records who approved production traffic for the deployment waiting at its
//! approval gate, when and why, in that deployment's journal (its permanent history).
//!
//! - A deploy still waiting in its own process (it holds the lock): the approval goes to it as
//!   a request through the state store, it journals the approval and moves on; this command
//!   waits until the journal shows it.
//! - Nobody waiting (the deploy exited with AWAITING_APPROVAL): this command takes the lock,
//!   appends the approval itself and releases; `bluegreen resume` continues.
//!
//! Who: the caller identity from STS (`GetCallerIdentity`), or `--by` when STS is unreachable
//! (recorded as unverified). With both, `--by` names the person and the ARN is kept beside it.

use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::session::{after_release, Guard};
use crate::state::journal::{Approval, Summary};
use crate::state::{now_ms, Entry, Holder, Request, Store, Writer};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

#[derive(Serialize)]
struct ApproveResult<'a> {
    outcome: &'a str,
    env: &'a str,
    deployment: &'a str,
    by: &'a str,
    identity: Option<&'a str>,
    comment: Option<&'a str>,
    /// Whether a waiting deploy took the approval and continues by itself.
    continues: bool,
}

pub async fn run(
    ctx: &Ctx,
    by: Option<&str>,
    comment: Option<&str>,
    lock_wait: Duration,
) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    if let Some(b) = by {
        check_text("--by", b, 200)?;
    }
    if let Some(c) = comment {
        check_text("--comment", c, 1000)?;
    }
    let store = ctx.store().await;
    let Some((summary, _)) = store.unfinished().await? else {
        return Err(Error::refused(
            format!("no deployment in `{env}` is waiting for approval"),
            format!("`bluegreen status --env {arg}` shows where things are"),
        ));
    };
    if !summary.awaiting_approval {
        return Err(Error::refused(
            format!(
                "deployment {} is not waiting for approval; it is at: {}",
                summary.id, summary.step
            ),
            "approve only continues a deployment stopped at its approval gate \
             (`approval { required = true }`)",
        ));
    }
    let approval = who(ctx, by, comment).await?;
    let id = summary.id.clone();

    if held_by_live(&store, &id).await? {
        store
            .put_request(&id, Request::Approve(approval.clone()))
            .await?;
        ctx.step(format!(
            "approval sent to the waiting deploy of deployment {id}"
        ));
        if confirmed(ctx, &store, &id).await? {
            report(ctx, &id, &approval, true);
            return Ok(());
        }
        // It stopped waiting before it took the request: record the approval ourselves.
        let _ = store.take_request(&id).await;
        ctx.info("the deploy stopped waiting before it took the approval; recording it here");
    }

    let me = Holder::this_process("approve", &id);
    let guard = Guard::take(ctx, &store, me, lock_wait).await?;
    let result = record(&store, &id, &approval, guard.fence().token()).await;
    let result = after_release(result, guard.release().await);
    result?;
    report(ctx, &id, &approval, false);
    Ok(())
}

/// Appends the approval to the deployment's journal, under the lock (the record carries the
/// lock's fencing token, like every record a lock holder writes), if it still waits.
async fn record(
    store: &Arc<Store>,
    id: &str,
    approval: &Approval,
    fence: u64,
) -> Result<(), Error> {
    let records = store.records(id).await?;
    let s = Summary::of(&records);
    if !s
        .as_ref()
        .is_some_and(|s| s.awaiting_approval && s.outcome.is_none())
    {
        return Err(Error::refused(
            format!("deployment {id} no longer waits for approval"),
            "`bluegreen status` shows where it is",
        ));
    }
    let mut w = Writer::continuing(id, &records).fenced(fence);
    w.write(store, Entry::Approved(approval.clone())).await?;
    Ok(())
}

/// Whether a live process (not a stale lock) holds the lock for deployment `id`: the deploy is
/// still waiting at its gate.
async fn held_by_live(store: &Store, id: &str) -> Result<bool, Error> {
    Ok(store
        .lock_info()
        .await?
        .is_some_and(|l| l.holder.deployment == id && l.stale_because(now_ms()).is_none()))
}

/// Waits until the holder journals the approval (a few poll intervals at most).
async fn confirmed(ctx: &Ctx, store: &Arc<Store>, id: &str) -> Result<bool, Error> {
    let limit = (ctx.cfg.health.poll_interval * 3).max(Duration::from_secs(10));
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let records = store.records(id).await?;
        if records
            .iter()
            .any(|r| matches!(r.entry, Entry::Approved(_)))
        {
            return Ok(true);
        }
        if !held_by_live(store, id).await? || tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The approver: `--by`, the STS caller identity, or both.
async fn who(ctx: &Ctx, by: Option<&str>, comment: Option<&str>) -> Result<Approval, Error> {
    let me = Holder::this_process("approve", "");
    let conf = ctx.sdk().await;
    let identity = match crate::aws::SdkIdentity::new(conf).caller_arn().await {
        Ok(arn) => Some(arn),
        Err(e) => match by {
            Some(_) => {
                ctx.out.emit(crate::report::Event::Warning {
                    message: format!(
                        "the caller identity could not be read from STS ({e}); recording --by unverified"
                    ),
                });
                None
            }
            None => {
                return Err(Error::BadInput {
                    message: format!(
                        "cannot tell who approves: the caller identity could not be read from STS ({e})"
                    ),
                    fix: "fix the AWS credentials, or pass `--by NAME` (recorded as unverified)"
                        .into(),
                })
            }
        },
    };
    let by = match (by, &identity) {
        (Some(b), _) => b.to_string(),
        (None, Some(arn)) => arn.clone(),
        (None, None) => unreachable!("no identity without --by returned above"),
    };
    Ok(Approval {
        by,
        identity,
        comment: comment.map(str::to_string),
        user: me.user,
        host: me.host,
    })
}

fn check_text(flag: &str, text: &str, max: usize) -> Result<(), Error> {
    if text.trim().is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(Error::bad_input(
            format!("{flag} must be 1–{max} characters without control characters"),
            format!("pass e.g. {flag} \"…\" on one line"),
        ));
    }
    Ok(())
}

fn report(ctx: &Ctx, id: &str, a: &Approval, continues: bool) {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    let message = if continues {
        format!("deployment {id} approved by {a}; the waiting deploy continues")
    } else {
        format!("deployment {id} approved by {a}; continue it with `bluegreen resume --env {arg}`")
    };
    ctx.out.result(
        &message,
        &ApproveResult {
            outcome: "approved",
            env,
            deployment: id,
            by: &a.by,
            identity: a.identity.as_deref(),
            comment: a.comment.as_deref(),
            continues,
        },
    );
}
