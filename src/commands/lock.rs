//! Taking the environment lock for one command: wait for it (`--lock-timeout`) or fail at once
//! with the LOCKED exit code naming the holder, take over a stale lock (and say so), renew the
//! lease in the background while the command works, and release it on every way out.

use super::context::Ctx;
use crate::error::Error;
use crate::report::Event;
use crate::state::journal::FinalOutcome;
use crate::state::{Acquired, Entry, Holder, LockInfo, Store, StoreError, Writer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The lock, held. Call [`Guard::release`] when the command ends, whatever the outcome.
pub struct Guard {
    store: Arc<Store>,
    pub holder: Holder,
    /// The stale lock this command replaced, and why it was stale.
    pub took_over: Option<(LockInfo, String)>,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Guard {
    /// Takes the lock for `holder`, waiting up to `wait` while someone alive holds it.
    pub async fn take(
        ctx: &Ctx,
        store: &Arc<Store>,
        holder: Holder,
        wait: Duration,
    ) -> Result<Guard, Error> {
        let lease = ctx.cfg.journal.lease;
        let deadline = Instant::now() + wait;
        let mut announced = false;
        loop {
            match store.acquire(&holder, lease).await? {
                Acquired::Taken { took_over, .. } => {
                    if let Some((old, why)) = &took_over {
                        ctx.out.emit(Event::Warning {
                            message: format!(
                                "took over the environment lock of {} because {why}",
                                old.holder
                            ),
                        });
                    }
                    let lost = Arc::new(AtomicBool::new(false));
                    let renewer =
                        tokio::spawn(renew(store.clone(), holder.clone(), lease, lost.clone()));
                    return Ok(Guard {
                        store: store.clone(),
                        holder,
                        took_over,
                        lost,
                        renewer,
                    });
                }
                Acquired::Held(lock) => {
                    if Instant::now() >= deadline {
                        return Err(locked(ctx, lock, wait));
                    }
                    if !announced {
                        ctx.step(format!(
                            "waiting up to {} for the environment lock, held by {lock}",
                            humantime::format_duration(wait)
                        ));
                        announced = true;
                    }
                    let pause = Duration::from_millis(500).min(deadline - Instant::now());
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// True once a renewal found the lock taken by someone else: stop acting at once.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and releases the lock (if it is still ours).
    pub async fn release(self) -> Result<(), Error> {
        self.renewer.abort();
        self.store.release(&self.holder).await?;
        Ok(())
    }
}

/// Renews the lease every third of it; on `LockLost` raises the flag and stops. A renewal that
/// fails for another reason (network) is retried at the next tick: the lease still has two
/// thirds left.
async fn renew(store: Arc<Store>, holder: Holder, lease: Duration, lost: Arc<AtomicBool>) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        match store.renew(&holder, lease).await {
            Ok(_) => {}
            Err(StoreError::LockLost { now }) => {
                tracing::warn!(?now, "the environment lock was lost");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => tracing::warn!("renewing the environment lock failed: {e}"),
        }
    }
}

/// The LOCKED error: who holds the lock and what to do.
pub fn locked(ctx: &Ctx, lock: LockInfo, waited: Duration) -> Error {
    let env = &ctx.cfg.name;
    Error::Locked {
        message: format!(
            "environment `{env}` is locked by {lock}{}",
            if waited.is_zero() {
                String::new()
            } else {
                format!(" (waited {})", humantime::format_duration(waited))
            }
        ),
        fix: format!(
            "wait for it (`--lock-timeout 10m` waits), check it with `bluegreen status --env {env}`; \
             if the holder is gone for good, `bluegreen unlock --env {env} --force` (docs/operations.md)"
        ),
        holder: Box::new(lock),
    }
}

/// A locked command's journal: the store, the lock and the record writer of its deployment.
pub struct Session {
    pub store: Arc<Store>,
    pub guard: Guard,
    pub writer: Writer,
}

impl Session {
    pub fn new(store: Arc<Store>, guard: Guard, writer: Writer) -> Session {
        Session {
            store,
            guard,
            writer,
        }
    }

    /// Opens the environment's store and takes its lock for a new deployment run by
    /// `command` (`deploy`, `rebuild`, …), waiting up to `lock_wait`.
    pub async fn begin(ctx: &Ctx, command: &str, lock_wait: Duration) -> Result<Session, Error> {
        let store = ctx.store().await;
        let id = crate::state::new_deployment_id();
        let holder = Holder::this_process(command, &id);
        let guard = Guard::take(ctx, &store, holder, lock_wait).await?;
        Ok(Session::new(store, guard, Writer::new(&id)))
    }

    pub fn deployment(&self) -> &str {
        self.writer.deployment()
    }

    /// Appends `entry` durably. Use before a step acts: if this fails, the step must not.
    pub async fn write(&mut self, entry: Entry) -> Result<(), StoreError> {
        self.writer.write(&self.store, entry).await
    }

    /// Appends an outcome record; a failure is reported and the command goes on (the step has
    /// already happened; after a crash, `resume` re-reads the live state anyway).
    pub async fn record(&mut self, ctx: &Ctx, entry: Entry) {
        if let Err(e) = self.write(entry).await {
            ctx.out.emit(Event::Warning {
                message: format!("could not write the journal: {e}"),
            });
        }
    }

    /// The final record.
    pub async fn finish(
        &mut self,
        ctx: &Ctx,
        outcome: FinalOutcome,
        detail: impl Into<String>,
        failing_signal: Option<String>,
    ) {
        let entry = Entry::Finished {
            outcome,
            detail: detail.into(),
            failing_signal,
        };
        self.record(ctx, entry).await;
    }

    /// Passes `result` through; an error (before production traffic moved) ends the deployment
    /// as `failed` first.
    pub async fn failed_unless_ok<T>(
        &mut self,
        ctx: &Ctx,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        if let Err(e) = &result {
            self.finish(ctx, FinalOutcome::Failed, e.to_string(), None)
                .await;
        }
        result
    }

    /// Records the takeover of a stale lock in this deployment's journal.
    pub async fn record_takeover(&mut self, ctx: &Ctx) {
        if let Some((previous, reason)) = self.guard.took_over.clone() {
            self.record(ctx, Entry::LockTakenOver { previous, reason })
                .await;
        }
    }

    pub async fn release(self) -> Result<(), Error> {
        self.guard.release().await
    }
}

/// The command's result after releasing the lock: the command's own error wins.
pub fn after_release<T>(result: Result<T, Error>, release: Result<(), Error>) -> Result<T, Error> {
    let value = result?;
    release?;
    Ok(value)
}
