//! `unlock --force`: remove a stale environment lock, journaled in the deployment it interrupted.

use crate::error::Error;
use crate::flow::context::Ctx;
use crate::state::{now_ms, rfc3339, Entry, LockInfo, Store, Summary, Writer};
use serde::Serialize;

#[derive(Serialize)]
struct UnlockResult<'a> {
    outcome: &'a str,
    env: &'a str,
    removed: Option<LockInfo>,
}

/// Removes the lock by hand. Refuses without `--force`; records who removed whose lock in the
/// holder's journal (when that deployment is unfinished, so its history shows it).
pub async fn unlock(ctx: &Ctx, force: bool) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    let store = ctx.store().await;
    let lock = match store.lock_info().await {
        Ok(l) => l,
        Err(crate::state::StoreError::Corrupt { .. }) if force => None,
        Err(e) => return Err(e.into()),
    };
    if !force {
        return Err(Error::bad_input(
            match &lock {
                Some(l) => format!("`unlock` needs --force; the lock is held by {l}"),
                None => format!("`unlock` needs --force (and `{env}` is not locked)"),
            },
            format!(
                "make sure the holder is really gone, then `bluegreen unlock --env {arg} --force` (docs/operations.md)"
            ),
        ));
    }
    let Some(lock) = lock else {
        // Nothing parsable: a damaged lock document is removed as such.
        return remove_damaged(ctx, &store).await;
    };
    if lock.stale_because(now_ms()).is_none() {
        ctx.out.emit(crate::report::Event::Warning {
            message: format!(
                "the holder looks alive ({}); if it is, two commands may now move traffic at once",
                lock.holder
            ),
        });
    }
    if !store.force_unlock(&lock).await? {
        return Err(Error::refused(
            "the lock changed while it was being removed; nothing was removed",
            format!("look again with `bluegreen status --env {arg}`"),
        ));
    }
    journal_forced(ctx, &store, &lock).await;
    let msg = format!(
        "removed the lock of `{env}` held by {lock}. Next: `bluegreen status --env {arg}`, then `resume` or `rollback` if a deployment was interrupted"
    );
    ctx.out.result(
        &msg,
        &UnlockResult {
            outcome: "unlocked",
            env,
            removed: Some(lock),
        },
    );
    Ok(())
}

/// No parsable lock: a damaged lock document is removed as such.
async fn remove_damaged(ctx: &Ctx, store: &Store) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    let removed = store.force_unlock_damaged().await?;
    let r = UnlockResult {
        outcome: if removed {
            "removed_damaged"
        } else {
            "not_locked"
        },
        env,
        removed: None,
    };
    let msg = if removed {
        format!("removed a damaged lock document of `{env}`")
    } else {
        format!("`{env}` is not locked; nothing to do")
    };
    ctx.out.result(&msg, &r);
    Ok(())
}

/// Records the forced unlock in the journal of the deployment that held the lock, when that
/// deployment is unfinished (a failure to record is a warning: the lock is gone already).
async fn journal_forced(ctx: &Ctx, store: &Store, lock: &LockInfo) {
    let me = crate::state::Holder::this_process("unlock", "");
    let by = format!(
        "{}@{} (pid {}) at {}",
        me.user,
        me.host,
        me.pid,
        rfc3339(now_ms())
    );
    let id = &lock.holder.deployment;
    if let Ok(records) = store.records(id).await {
        if Summary::of(&records).is_some_and(|s| s.outcome.is_none()) {
            let mut w = Writer::continuing(id, &records);
            let e = Entry::LockForced {
                by,
                lock: lock.clone(),
            };
            if let Err(err) = w.write(store, e).await {
                ctx.out.emit(crate::report::Event::Warning {
                    message: format!("the lock is removed, but recording it failed: {err}"),
                });
            }
        }
    }
}
