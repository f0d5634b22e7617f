//! Putting production routes back on the known-good color: the one write that must get
//! through. Used by a deploy's rollback (the machine's `Restore`) and by `rollback`.
//!
//! - Every write goes through the lock's [`Fence`]: a process that lost the lock writes
//!   nothing, whatever it was doing.
//! - Writes are idempotent (the whole route action), retried with exponential backoff and
//!   jitter until the restore's own deadline ([`restore_timeout`]: at least
//!   `traffic.verify_timeout`, at least a minute), each attempt bounded by [`ATTEMPT_TIMEOUT`]
//!   on top of the SDK's own timeouts: a write that never answers costs one attempt, not the
//!   environment.
//! - A route counts as restored only when it read back as wanted in two consecutive rounds of
//!   reads after bluegreen's own write: one stale or lucky read proves nothing.
//! - SIGINT/SIGTERM during the restore stop it after the current round of writes (the routes
//!   are then read and reported); a second signal exits at once, loudly ([`Interrupts`]).
//! - Each round writes every route that needs it at once and reads every written route back in
//!   one read round (one DescribeListeners, one DescribeRules).

use crate::aws::Traffic;
use crate::domain::{matches, ListenerView, TargetGroups};
use crate::flow::interrupt::Interrupts;
use crate::flow::session::{Fence, Fenced};
use crate::flow::traffic::{join_all, read_views, write_view};
use backon::BackoffBuilder;
use std::time::Duration;
use tokio::time::Instant;

/// The longest one write or one read of a restore may take before it counts as failed and is
/// tried again: the SDK's attempt timeout, applied here too so that it also bounds the SDK's
/// own retries, a fake, or a hung connection pool.
pub use crate::aws::ATTEMPT_TIMEOUT;

/// The restore's own deadline: `traffic.verify_timeout`, but never less than a minute — putting
/// traffic back is worth waiting out a throttling burst or a short control-plane outage.
pub fn restore_timeout(verify_timeout: Duration) -> Duration {
    verify_timeout.max(Duration::from_secs(60))
}

/// Why the routes are not (provably) back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// The lock is no longer ours: nothing more was written.
    Fenced(Fenced),
    /// SIGINT/SIGTERM: stopped after the current write.
    Interrupted { signal: String },
    /// The deadline passed with routes not read back as wanted.
    TimedOut {
        timeout: Duration,
        attempts: u32,
        last_error: Option<String>,
    },
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreError::Fenced(why) => write!(f, "{why}"),
            RestoreError::Interrupted { signal } => {
                write!(f, "stopped by {signal} after the current write")
            }
            RestoreError::TimedOut {
                timeout,
                attempts,
                last_error,
            } => {
                write!(
                    f,
                    "not read back within {} ({attempts} rounds of writes and reads)",
                    humantime::format_duration(*timeout)
                )?;
                if let Some(e) = last_error {
                    write!(f, "; last error: {e}")?;
                }
                Ok(())
            }
        }
    }
}

/// How a restore is paced.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub timeout: Duration,
    /// Between the two confirming read rounds.
    pub verify_interval: Duration,
}

/// Writes every route in `routes` (if `write`) and reads all back until each has read as
/// wanted in two consecutive rounds; re-writes a route that reads otherwise. Returns the number
/// of read rounds.
pub async fn put_back<T: Traffic>(
    traffic: &T,
    fence: &Fence,
    routes: &[(String, ListenerView)],
    tgs: &TargetGroups,
    pace: Pace,
    interrupts: &Interrupts,
    write: bool,
) -> Result<u32, RestoreError> {
    let deadline = Instant::now() + pace.timeout;
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let mut rounds = Rounds::new(routes.len(), write, deadline);
    loop {
        rounds.count += 1;
        rounds
            .write(traffic, fence, routes, tgs, interrupts)
            .await?;
        rounds.read(traffic, routes, tgs).await;
        if rounds.confirmed() {
            return Ok(rounds.count);
        }
        if let Some(signal) = interrupts.received() {
            return Err(RestoreError::Interrupted { signal });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(RestoreError::TimedOut {
                timeout: pace.timeout,
                attempts: rounds.count,
                last_error: rounds.last_error,
            });
        }
        // Confirming a route that read right once is a short wait; anything that failed backs
        // off (with jitter, so that many waiting processes don't hammer the API in step).
        let pause = if rounds.all_read_once() {
            pace.verify_interval
        } else {
            backoff.next().unwrap_or(Duration::from_secs(5))
        };
        tokio::time::sleep(pause.min(deadline - now)).await;
    }
}

/// Where a restore stands after its rounds of writes and reads so far.
struct Rounds {
    /// Whether the restore writes at all (else it only verifies).
    write: bool,
    deadline: Instant,
    count: u32,
    /// Consecutive rounds each route read back as wanted.
    good: Vec<u8>,
    needs_write: Vec<bool>,
    /// Whether no route still needed a write when the last read round began.
    wrote_all: bool,
    last_error: Option<String>,
}

impl Rounds {
    fn new(routes: usize, write: bool, deadline: Instant) -> Rounds {
        Rounds {
            write,
            deadline,
            count: 0,
            good: vec![0; routes],
            needs_write: vec![write; routes],
            wrote_all: false,
            last_error: None,
        }
    }

    /// Every route read back as wanted in the last two rounds.
    fn confirmed(&self) -> bool {
        self.wrote_all && self.good.iter().all(|g| *g >= 2)
    }

    fn all_read_once(&self) -> bool {
        self.wrote_all && self.good.iter().all(|g| *g >= 1)
    }

    /// Writes every route that needs it, all at once, through the fence (checked right
    /// before the writes).
    async fn write<T: Traffic>(
        &mut self,
        traffic: &T,
        fence: &Fence,
        routes: &[(String, ListenerView)],
        tgs: &TargetGroups,
        interrupts: &Interrupts,
    ) -> Result<(), RestoreError> {
        let todo: Vec<usize> = (0..routes.len()).filter(|i| self.needs_write[*i]).collect();
        if todo.is_empty() {
            return Ok(());
        }
        if let Some(signal) = interrupts.received() {
            return Err(RestoreError::Interrupted { signal });
        }
        fence.check().await.map_err(RestoreError::Fenced)?;
        let deadline = self.deadline;
        let writes = todo.iter().map(|i| {
            let (route, view) = &routes[*i];
            bounded(deadline, write_view(traffic, route, tgs, view))
        });
        for (i, written) in todo.iter().zip(join_all(writes).await) {
            match written {
                Ok(()) => self.needs_write[*i] = false,
                Err(e) => self.last_error = Some(format!("writing {}: {e}", routes[*i].0)),
            }
        }
        Ok(())
    }

    /// Reads back every route written; one that reads otherwise is written again next round.
    async fn read<T: Traffic>(
        &mut self,
        traffic: &T,
        routes: &[(String, ListenerView)],
        tgs: &TargetGroups,
    ) {
        self.wrote_all = true;
        let mut written = Vec::new();
        for i in 0..routes.len() {
            if self.needs_write[i] {
                self.wrote_all = false;
                self.good[i] = 0;
            } else {
                written.push(i);
            }
        }
        if written.is_empty() {
            return;
        }
        let arns: Vec<String> = written.iter().map(|i| routes[*i].0.clone()).collect();
        let reads = match bounded(self.deadline, read_views(traffic, &arns, tgs)).await {
            Ok(reads) => reads,
            Err(e) => {
                for i in written {
                    self.good[i] = 0;
                }
                self.last_error = Some(format!("reading {}: {e}", arns.join(", ")));
                return;
            }
        };
        for (i, read) in written.into_iter().zip(reads) {
            let (route, wanted) = &routes[i];
            if matches(&read, wanted) {
                self.good[i] = self.good[i].saturating_add(1);
            } else {
                self.good[i] = 0;
                // It reads otherwise after our write: stale, or someone wrote after us.
                // Writing the same action again is harmless either way. (Told not to write,
                // only verify.)
                self.needs_write[i] = self.write;
                self.last_error = Some(format!("{route} read back {}", read.weights()));
            }
        }
    }
}

/// Runs `call` for at most [`ATTEMPT_TIMEOUT`] and never past `deadline`.
async fn bounded<F, T, E>(deadline: Instant, call: F) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let limit = ATTEMPT_TIMEOUT
        .min(deadline.saturating_duration_since(Instant::now()))
        .max(Duration::from_millis(100));
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(limit)
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The restore against a scripted fake of the ALB (virtual time) and a real local state
    //! store behind the fence.
    use super::*;
    use crate::aws::{AwsError, ListenerAction, TargetHealth};
    use crate::domain::color::Weights;
    use crate::state::{Holder, Store};
    use std::sync::{Arc, Mutex};

    /// One route. `script` answers the writes in order (`Ok`, an error, or a hang); reads
    /// return what was last written, except `stale_reads` that replay `stale`.
    struct FakeAlb {
        state: Mutex<Alb>,
    }

    struct Alb {
        current: Vec<(String, u16)>,
        script: Vec<WriteAnswer>,
        writes: u32,
        stale_reads: u32,
        stale: Vec<(String, u16)>,
    }

    #[derive(Clone, Copy)]
    enum WriteAnswer {
        Ok,
        Fail,
        Hang,
    }

    fn fwd(blue: u16, green: u16) -> Vec<(String, u16)> {
        vec![("tg/blue".into(), blue), ("tg/green".into(), green)]
    }

    impl FakeAlb {
        fn new(script: Vec<WriteAnswer>) -> FakeAlb {
            FakeAlb {
                state: Mutex::new(Alb {
                    current: fwd(20, 80),
                    script,
                    writes: 0,
                    stale_reads: 0,
                    stale: fwd(100, 0),
                }),
            }
        }
        fn writes(&self) -> u32 {
            self.state.lock().unwrap().writes
        }
        fn current(&self) -> Vec<(String, u16)> {
            self.state.lock().unwrap().current.clone()
        }
    }

    impl crate::aws::Traffic for FakeAlb {
        async fn read_actions(&self, arns: &[String]) -> Result<Vec<ListenerAction>, AwsError> {
            let mut out = Vec::new();
            for arn in arns {
                out.push(self.read_default_action(arn).await?);
            }
            Ok(out)
        }
        async fn read_default_action(&self, _: &str) -> Result<ListenerAction, AwsError> {
            let mut s = self.state.lock().unwrap();
            let targets = if s.stale_reads > 0 {
                s.stale_reads -= 1;
                s.stale.clone()
            } else {
                s.current.clone()
            };
            Ok(ListenerAction::Forward {
                targets,
                stickiness: None,
            })
        }
        async fn set_forward(
            &self,
            arn: &str,
            targets: &[(String, u16)],
            _: Option<(bool, Option<i32>)>,
        ) -> Result<(), AwsError> {
            let answer = {
                let mut s = self.state.lock().unwrap();
                let i = s.writes as usize;
                s.writes += 1;
                let answer = s.script.get(i).copied().unwrap_or(WriteAnswer::Ok);
                if let WriteAnswer::Ok = answer {
                    s.current = targets.to_vec();
                }
                answer
            };
            match answer {
                WriteAnswer::Ok => Ok(()),
                WriteAnswer::Fail => Err(AwsError::new("ModifyListener", arn, "Throttling")),
                WriteAnswer::Hang => std::future::pending().await,
            }
        }
        async fn set_fixed_response(&self, _: &str, _: &str) -> Result<(), AwsError> {
            unreachable!("the restore writes a forward")
        }
        async fn target_health(&self, _: &str) -> Result<Vec<TargetHealth>, AwsError> {
            Ok(vec![])
        }
    }

    fn tgs() -> TargetGroups {
        TargetGroups {
            blue: "tg/blue".into(),
            green: "tg/green".into(),
        }
    }

    fn back_to_blue() -> Vec<(String, ListenerView)> {
        vec![(
            "listener/prod".into(),
            ListenerView::Forwarding {
                weights: Weights {
                    blue: 100,
                    green: 0,
                },
                stickiness: None,
            },
        )]
    }

    const PACE: Pace = Pace {
        timeout: Duration::from_secs(60),
        verify_interval: Duration::from_millis(200),
    };

    /// Restores `back_to_blue` through `alb` at `pace`.
    async fn restore(
        alb: &FakeAlb,
        fence: &Fence,
        pace: Pace,
        write: bool,
    ) -> Result<u32, RestoreError> {
        let routes = back_to_blue();
        put_back(
            alb,
            fence,
            &routes,
            &tgs(),
            pace,
            &Interrupts::none(),
            write,
        )
        .await
    }

    async fn fence(dir: &std::path::Path) -> (Arc<Store>, Fence) {
        let store = Arc::new(Store::Local(crate::state::local::LocalStore::new(dir)));
        let fence = Fence::take_for_tests(
            store.clone(),
            Holder::this_process("deploy", "d1"),
            Duration::from_secs(3600),
        )
        .await;
        (store, fence)
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_restore_retries_until_it_lands() {
        let dir = tempfile::tempdir().unwrap();
        let (_, fence) = fence(dir.path()).await;
        // Issue 12, item 5: the first five writes are refused; the old code gave up after the
        // first error.
        let alb = FakeAlb::new(vec![WriteAnswer::Fail; 5]);
        let started = Instant::now();
        let r = restore(&alb, &fence, PACE, true).await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(alb.writes(), 6);
        assert_eq!(alb.current(), fwd(100, 0));
        assert!(started.elapsed() < PACE.timeout, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_never_answers_costs_one_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let (_, fence) = fence(dir.path()).await;
        // Issue 12, item 4: ModifyListener accepted and never answered.
        let alb = FakeAlb::new(vec![WriteAnswer::Hang, WriteAnswer::Hang]);
        let started = Instant::now();
        let r = restore(&alb, &fence, PACE, true).await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(alb.writes(), 3);
        let took = started.elapsed();
        assert!(
            took >= ATTEMPT_TIMEOUT * 2 && took < ATTEMPT_TIMEOUT * 3,
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restore_that_never_lands_fails_at_its_deadline_with_the_last_error() {
        let dir = tempfile::tempdir().unwrap();
        let (_, fence) = fence(dir.path()).await;
        let alb = FakeAlb::new(vec![WriteAnswer::Fail; 10_000]);
        let started = Instant::now();
        let r = restore(&alb, &fence, PACE, true).await;
        match r {
            Err(RestoreError::TimedOut { last_error, .. }) => {
                assert!(last_error.unwrap().contains("Throttling"))
            }
            other => panic!("{other:?}"),
        }
        let took = started.elapsed();
        assert!(took >= PACE.timeout && took < PACE.timeout + Duration::from_secs(6));
        // Backoff, not a hot loop: 60 s of retries at most 5 s apart after the ramp.
        assert!(alb.writes() > 10 && alb.writes() < 40, "{}", alb.writes());
    }

    #[tokio::test(start_paused = true)]
    async fn one_read_is_not_proof_two_consecutive_are() {
        let dir = tempfile::tempdir().unwrap();
        let (_, fence) = fence(dir.path()).await;
        // Verify only (nothing written yet): a single stale read showing the wanted weights
        // must not count, and the restore never writes when told not to.
        let alb = FakeAlb::new(vec![]);
        alb.state.lock().unwrap().stale_reads = 1;
        let pace = Pace {
            timeout: Duration::from_secs(2),
            ..PACE
        };
        let r = restore(&alb, &fence, pace, false).await;
        assert!(matches!(r, Err(RestoreError::TimedOut { .. })), "{r:?}");
        assert_eq!(alb.writes(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_writer_that_lost_the_lock_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, fence) = fence(dir.path()).await;
        // Another command takes the lock over (as `unlock --force` + a new deploy would).
        let seen = store.lock_info().await.unwrap().unwrap();
        assert!(store.force_unlock(&seen).await.unwrap());
        let other = Holder::this_process("rollback", "d2");
        store
            .acquire(&other, Duration::from_secs(60))
            .await
            .unwrap();
        let alb = FakeAlb::new(vec![]);
        let r = restore(&alb, &fence, PACE, true).await;
        assert!(matches!(r, Err(RestoreError::Fenced(_))), "{r:?}");
        assert_eq!(alb.writes(), 0);
        assert_eq!(alb.current(), fwd(20, 80));
        // And the journal refuses its records.
        let mut w = crate::state::Writer::new("d1").fenced(fence.token());
        let e = w
            .write(&store, crate::state::Entry::Settled)
            .await
            .unwrap_err();
        assert!(matches!(e, crate::state::StoreError::Fenced { .. }), "{e}");
    }
}
