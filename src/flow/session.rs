//! Taking the environment lock for one command: wait for it (`--lock-timeout`) or fail at once
//! with the LOCKED exit code naming the holder, take over a stale lock (and say so), renew the
//! lease in the background while the command works, and release it on every way out.

use crate::error::Error;
use crate::flow::context::Ctx;
use crate::report::Event;
use crate::state::journal::FinalOutcome;
use crate::state::{Acquired, Entry, Holder, LockInfo, Store, StoreError, Writer};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The lock, held. Call [`Guard::release`] when the command ends, whatever the outcome.
pub struct Guard {
    store: Arc<Store>,
    pub holder: Holder,
    /// The stale lock this command replaced, and why it was stale.
    pub took_over: Option<(LockInfo, String)>,
    fence: Fence,
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
            let asked = std::time::Instant::now();
            match store.acquire(&holder, lease).await? {
                Acquired::Taken { lock, took_over } => {
                    if let Some((old, why)) = &took_over {
                        ctx.out.emit(Event::Warning {
                            message: format!(
                                "took over the environment lock of {} because {why}",
                                old.holder
                            ),
                        });
                    }
                    let fence = Fence::new(store.clone(), holder.clone(), lock.fence, lease, asked);
                    let renewer = tokio::spawn(renew(fence.clone()));
                    return Ok(Guard {
                        store: store.clone(),
                        holder,
                        took_over,
                        fence,
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

    /// True once the lock is no longer provably ours (taken by someone else, or our lease ran
    /// out while this process was not running): stop acting at once.
    pub fn lost(&self) -> bool {
        self.fence.lost().is_some()
    }

    /// The fence every AWS write of this command goes through.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// Stops renewing and releases the lock (if it is still ours).
    pub async fn release(self) -> Result<(), Error> {
        self.renewer.abort();
        self.store.release(&self.holder).await?;
        Ok(())
    }
}

/// Proof that the environment lock is still ours, checked before every AWS write.
///
/// The lease is measured on the monotonic clock from the moment the last successful renewal
/// was *sent* (the store set its expiry no earlier than that), minus a safety margin for clock
/// skew between hosts. A check renews the lease with a conditional write (the store must still
/// name this holder with this fencing token) and refuses when:
/// - the store names someone else, or nobody (taken over, `unlock --force`, released);
/// - more than `lease - margin` passed since the last successful renewal (the process was
///   frozen or suspended, or the store was unreachable that long): whoever came meanwhile may
///   hold the lock, so this process never writes again, even if a renewal would still succeed.
///
/// Once refused, always refused. Journal records carry the fencing token too
/// ([`crate::state::Writer::fenced`]), so a stale writer's records are refused by the store.
#[derive(Clone)]
pub struct Fence {
    inner: Arc<FenceState>,
}

struct FenceState {
    store: Arc<Store>,
    holder: Holder,
    token: u64,
    lease: Duration,
    /// The monotonic instant the last successful renewal was sent.
    renewed: std::sync::Mutex<std::time::Instant>,
    /// Why the lock is not ours any more, once known.
    lost: std::sync::Mutex<Option<String>>,
    /// One renewal at a time (the background renewer and a pre-write check).
    renewing: tokio::sync::Mutex<()>,
}

/// Why a write was not made: the lock is not provably ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced(pub String);

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not written: {}", self.0)
    }
}

impl Fence {
    fn new(
        store: Arc<Store>,
        holder: Holder,
        token: u64,
        lease: Duration,
        taken: std::time::Instant,
    ) -> Fence {
        Fence {
            inner: Arc::new(FenceState {
                store,
                holder,
                token,
                lease,
                renewed: std::sync::Mutex::new(taken),
                lost: std::sync::Mutex::new(None),
                renewing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Takes the lock of `store` for `holder` outside a command (tests of fenced writers).
    #[cfg(test)]
    pub async fn take_for_tests(store: Arc<Store>, holder: Holder, lease: Duration) -> Fence {
        let asked = std::time::Instant::now();
        match store.acquire(&holder, lease).await.expect("acquire") {
            Acquired::Taken { lock, .. } => Fence::new(store, holder, lock.fence, lease, asked),
            Acquired::Held(l) => panic!("the lock is held by {l}"),
        }
    }

    /// The lock's fencing token.
    pub fn token(&self) -> u64 {
        self.inner.token
    }

    /// Why the lock is no longer ours, if it is not.
    pub fn lost(&self) -> Option<String> {
        self.inner.lost.lock().expect("fence state").clone()
    }

    /// How long after a renewal was sent the lock still counts as ours.
    fn valid_for(&self) -> Duration {
        lease_validity(self.inner.lease)
    }

    fn give_up(&self, why: String) -> Fenced {
        let mut lost = self.inner.lost.lock().expect("fence state");
        let why = lost.get_or_insert(why).clone();
        Fenced(why)
    }

    /// Before an AWS write: renews the lease (conditionally) and refuses unless the lock is
    /// still provably ours.
    pub async fn check(&self) -> Result<(), Fenced> {
        let _one = self.inner.renewing.lock().await;
        if let Some(why) = self.lost() {
            return Err(Fenced(why));
        }
        let last = *self.inner.renewed.lock().expect("fence state");
        let since = last.elapsed();
        if since > self.valid_for() {
            return Err(self.give_up(frozen(since, self.inner.lease)));
        }
        let sent = std::time::Instant::now();
        match self
            .inner
            .store
            .renew(&self.inner.holder, self.inner.lease)
            .await
        {
            Ok(lock) if lock.fence == self.inner.token => {
                *self.inner.renewed.lock().expect("fence state") = sent;
                Ok(())
            }
            Ok(lock) => Err(self.give_up(format!(
                "the environment lock now carries fencing token {} (this command's is {})",
                lock.fence, self.inner.token
            ))),
            Err(StoreError::LockLost { now }) => Err(self.give_up(match now {
                Some(l) => format!("the environment lock was taken by {}", l.holder),
                None => "the environment lock was removed (`unlock --force`?)".into(),
            })),
            // The store did not answer: the lease from the last renewal still stands, as long
            // as it does.
            Err(e) => {
                let since = last.elapsed();
                if since > self.valid_for() {
                    Err(self.give_up(format!(
                        "the lease could not be renewed for {} ({e})",
                        humantime::format_duration(round_ms(since))
                    )))
                } else {
                    tracing::warn!("renewing the environment lock failed: {e}");
                    Ok(())
                }
            }
        }
    }
}

/// How long a lease counts as ours after its renewal was sent: the lease minus a fifth (the
/// margin for clock skew between hosts and for the write itself).
pub fn lease_validity(lease: Duration) -> Duration {
    lease - lease / 5
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn frozen(since: Duration, lease: Duration) -> String {
    format!(
        "this process did not renew the environment lock for {} (it was stopped, suspended or \
         starved), longer than its {} lease allows; another command may have taken the lock since",
        humantime::format_duration(round_ms(since)),
        humantime::format_duration(lease)
    )
}

/// Renews the lease every third of it through the fence; stops once the lock is lost (a renewal
/// that fails for another reason is retried at the next tick while the lease lasts).
async fn renew(fence: Fence) {
    let every = fence.inner.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        if let Err(Fenced(why)) = fence.check().await {
            tracing::warn!("the environment lock was lost: {why}");
            return;
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
            "wait for it (`--lock-timeout 10m` waits), check it with `bluegreen status --env {arg}`; \
             if the holder is gone for good, `bluegreen unlock --env {arg} --force` (docs/operations.md)",
            arg = ctx.cfg.env_arg
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
    /// The session of `guard`; every record `writer` appends carries the lock's fencing token.
    pub fn new(store: Arc<Store>, guard: Guard, writer: Writer) -> Session {
        let writer = writer.fenced(guard.fence().token());
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

    /// Before an AWS or Terraform write outside the traffic driver: refuses (nothing written)
    /// unless the lock is still provably ours ([`Fence::check`]).
    pub async fn fence_check(&self) -> Result<(), Error> {
        self.guard.fence().check().await.map_err(|Fenced(why)| {
            Error::refused(
                format!("stopped before changing anything more: {why}"),
                "see who holds the lock and where traffic is with `bluegreen status --env ENV`",
            )
        })
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
