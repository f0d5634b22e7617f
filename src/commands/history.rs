//! `history`, `unlock --force` and `journal repair`: reading and looking after the journal and
//! the lock.

use super::context::Ctx;
use crate::error::Error;
use crate::state::{now_ms, rfc3339, Entry, LockInfo, Summary, Writer};
use serde::Serialize;

#[derive(Serialize)]
struct History<'a> {
    env: &'a str,
    backend: String,
    /// Newest first.
    deployments: Vec<Summary>,
}

pub async fn history(ctx: &Ctx, limit: usize) -> Result<(), Error> {
    let store = ctx.store().await;
    let mut all = store.history().await?;
    all.reverse();
    all.truncate(limit);
    let h = History {
        env: &ctx.cfg.name,
        backend: store.describe(),
        deployments: all,
    };
    ctx.out.result(&human(&h), &h);
    Ok(())
}

fn human(h: &History) -> String {
    if h.deployments.is_empty() {
        return format!("no deployments recorded for `{}` ({})", h.env, h.backend);
    }
    let mut out = String::new();
    for s in &h.deployments {
        let colors = match (s.from_color, s.to_color) {
            (Some(f), Some(t)) => format!("{f} → {t}"),
            (None, Some(t)) => format!("→ {t}"),
            _ => "-".into(),
        };
        let outcome = s
            .outcome
            .map(|o| o.as_str().to_string())
            .unwrap_or_else(|| format!("UNFINISHED (at: {})", s.step));
        let took = s
            .duration_ms
            .map(|ms| {
                humantime::format_duration(std::time::Duration::from_secs(ms / 1000)).to_string()
            })
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{}  {:<8} {}  by {}@{}  {}  {}  {}  took {}\n",
            s.id,
            s.command,
            s.started,
            s.user,
            s.host,
            s.image.as_deref().unwrap_or("-"),
            colors,
            outcome,
            took
        ));
        if let Some(sig) = &s.failing_signal {
            out.push_str(&format!("    failing signal: {sig}\n"));
        }
        if let (Some(d), Some(o)) = (&s.detail, s.outcome) {
            if o.as_str() != "deployed" {
                out.push_str(&format!("    {d}\n"));
            }
        }
        for a in &s.approvals {
            out.push_str(&format!("    {}: approved by {}\n", a.at, a.approval));
        }
        for e in &s.events {
            out.push_str(&format!("    {e}\n"));
        }
    }
    out.trim_end().to_string()
}

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
                "make sure the holder is really gone, then `bluegreen unlock --env {env} --force` (docs/operations.md)"
            ),
        ));
    }
    let Some(lock) = lock else {
        // Nothing parsable: a damaged lock document is removed as such.
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
        return Ok(());
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
            format!("look again with `bluegreen status --env {env}`"),
        ));
    }
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
            if let Err(err) = w.write(&store, e).await {
                ctx.out.emit(crate::report::Event::Warning {
                    message: format!("the lock is removed, but recording it failed: {err}"),
                });
            }
        }
    }
    let msg = format!(
        "removed the lock of `{env}` held by {lock}. Next: `bluegreen status --env {env}`, then `resume` or `rollback` if a deployment was interrupted"
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

#[derive(Serialize)]
struct RepairResult<'a> {
    outcome: &'a str,
    env: &'a str,
    deployment: &'a str,
    kept: usize,
    backup: String,
    problem: String,
}

pub async fn repair(ctx: &Ctx, deployment: &str) -> Result<(), Error> {
    if !crate::state::valid_deployment_id(deployment) {
        return Err(Error::bad_input(
            format!("--deployment `{deployment}` is not a deployment id"),
            "copy the id from the error message or `bluegreen history`",
        ));
    }
    let store = ctx.store().await;
    let r = store.repair(deployment).await?;
    ctx.out.result(
        &format!(
            "repaired deployment {deployment}: kept {} records; the damaged original is saved as {} (problem was: {})",
            r.kept, r.backup, r.problem
        ),
        &RepairResult {
            outcome: "repaired",
            env: &ctx.cfg.name,
            deployment,
            kept: r.kept,
            backup: r.backup,
            problem: r.problem,
        },
    );
    Ok(())
}
