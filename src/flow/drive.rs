//! The async driver of the deploy state machine: it performs the machine's actions (weight
//! changes on every production route in lockstep, the restore, the scale-down), polls the
//! signals at the poll interval, and feeds everything back as events. Decisions stay in
//! `crate::domain::Machine`; the routes move in `crate::flow::routes`. Generic over the
//! [`Ports`] and told of Ctrl-C/SIGTERM by a [`StopSource`], so it is unit-tested against a
//! scripted fake in virtual time (`drive_tests.rs`).

use crate::domain::color::{Color, Weights};
use crate::domain::ports::{Ports, Services};
use crate::domain::{Action, Event, Machine, Note, Outcome, Phase, Reading, Status, Step};
use crate::flow::context::{Aws, Ctx};
use crate::flow::interrupt::{OsSignals, StopSource};
use crate::flow::readings::SignalReader;
use crate::flow::session::Session;
use crate::report::Event as Report;
use crate::state::{Entry, Request};
use std::collections::VecDeque;
use tokio::time::Instant;

/// Where commands have always found the routes; they live in [`crate::flow::routes`] now.
pub use crate::flow::routes::Routes;

/// The durations of the last few signal polls.
#[derive(Debug, Default)]
struct PollTimes {
    recent: [std::time::Duration; 3],
    next: usize,
}

impl PollTimes {
    /// How long before a timed wait's deadline its read starts: twice the slowest of the last
    /// three polls plus 10 ms (so that the read is done by the deadline even when this poll is
    /// slower than the last ones, as on a loaded machine), never more than half a poll
    /// interval (so that the readings the wait ends on are fresh).
    const MARGIN: std::time::Duration = std::time::Duration::from_millis(10);

    fn push(&mut self, took: std::time::Duration) {
        self.recent[self.next] = took;
        self.next = (self.next + 1) % self.recent.len();
    }

    fn lead(&self, poll: std::time::Duration) -> std::time::Duration {
        let slowest = self.recent.iter().max().copied().unwrap_or_default();
        (slowest * 2 + Self::MARGIN).min(poll / 2)
    }
}

/// The old color's service, for the scale-down after the termination wait.
pub struct OldService {
    pub cluster: String,
    pub service: String,
}

/// Runs the machine to its outcome, journaling every intent before it acts and every outcome
/// after it is verified.
pub struct Driver<'a, P: Ports = Aws> {
    pub ctx: &'a Ctx,
    pub aws: &'a P,
    pub routes: Routes<'a>,
    pub signals: SignalReader<'a>,
    pub old_service: Option<OldService>,
    pub session: &'a mut Session,
    /// The schedule in words, for progress lines.
    pub schedule: String,
}

/// How the driver ended: the machine's outcome, or a lost lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Machine(Outcome),
    /// Someone took the environment lock: the driver stopped acting at once.
    LockLost {
        /// The weights last verified by this process.
        weights: Weights,
        /// Why the lock is not ours any more.
        why: String,
    },
}

/// When the driver polls next: the regular poll, or a timed wait's early read.
struct PollClock {
    start: Instant,
    poll: std::time::Duration,
    next_poll: Instant,
    /// The timed wait (its phase and end) the last early read was for: one per wait.
    polled_for: Option<(std::mem::Discriminant<Phase>, std::time::Duration)>,
    /// How long the last few polls took: a timed wait's read starts early by about that much,
    /// so that it is done by the deadline (see [`PollTimes::lead`]).
    poll_took: PollTimes,
}

impl PollClock {
    fn new(poll: std::time::Duration) -> PollClock {
        let start = Instant::now();
        PollClock {
            start,
            poll,
            next_poll: start,
            polled_for: None,
            poll_took: PollTimes::default(),
        }
    }

    /// When to read next, and the deadline the read is judged at when it is a timed wait's.
    /// The wait's read replaces the regular poll whenever it would start first: a regular poll
    /// just before the deadline would leave the deadline a second read, started late.
    fn next_wake(&mut self, machine: &Machine) -> (Instant, Option<Instant>) {
        let wait = machine
            .wait_ends()
            .map(|end| (std::mem::discriminant(machine.phase()), end));
        let early = wait.filter(|_| self.polled_for != wait).map(|(_, end)| {
            let deadline = self.start + end;
            let lead = self.poll_took.lead(self.poll);
            (deadline.checked_sub(lead).unwrap_or(deadline), deadline)
        });
        match early {
            Some((read_at, deadline)) if read_at < self.next_poll => {
                self.polled_for = wait;
                (read_at, Some(deadline))
            }
            _ => (self.next_poll, None),
        }
    }
}

impl<P: Ports> Driver<'_, P> {
    /// Runs `machine` to its end; SIGINT and SIGTERM put traffic back.
    pub async fn run(self, machine: Machine) -> Ended {
        self.run_until(machine, OsSignals::watch()).await
    }

    /// Runs `machine` to its end; a stop from `stops` (heard while waiting for the next poll)
    /// puts traffic back.
    pub async fn run_until<S: StopSource>(mut self, mut machine: Machine, mut stops: S) -> Ended {
        let mut clock = PollClock::new(self.ctx.cfg.health.poll_interval);
        let start = clock.start;
        let mut queue: VecDeque<Event> = VecDeque::new();
        let mut last_readings: Vec<Reading> = Vec::new();
        // When the last weight change read back as written.
        let mut verified_at = None;
        loop {
            // A lost lock ends the run before anything else: whatever the machine concluded,
            // this process may not act on it (every write is fenced anyway).
            if let Some(why) = self.session.guard.fence().lost() {
                let weights = machine
                    .last_verified()
                    .unwrap_or_else(|| self.routes.primary().weights());
                return Ended::LockLost { weights, why };
            }
            if let Some(outcome) = machine.outcome() {
                return Ended::Machine(outcome.clone());
            }
            let event = match queue.pop_front() {
                Some(e) => e,
                None if machine.is_watching() => {
                    match self
                        .watch(&machine, &mut clock, &mut last_readings, &mut stops)
                        .await
                    {
                        Ok(event) => event,
                        Err(stop) => {
                            queue.push_back(stop);
                            continue;
                        }
                    }
                }
                None => {
                    // The machine is waiting for an effect that was never queued: a bug, and
                    // the only safe thing left is to put traffic back.
                    Event::RollbackRequested(format!(
                        "internal: no event pending in {:?}",
                        machine.phase()
                    ))
                }
            };
            // Weights count as verified from their read-back, not from when the journal
            // finished recording it: a bake is timed from there.
            let now = match (&event, verified_at.take()) {
                (Event::WeightsVerified(_), Some(at)) => at - start,
                _ => start.elapsed(),
            };
            let actions = machine.handle(event, now);
            for action in actions {
                if let Some(e) = self
                    .perform(&machine, action, &stops, &mut verified_at)
                    .await
                {
                    queue.push_back(e);
                }
            }
        }
    }

    /// Sleeps until the next poll — or until a timed wait ends, if that is sooner (once per
    /// wait: a 0 s wait ends on an immediate read) — then polls. The wait's read starts early
    /// by what recent polls took and is judged at the deadline itself, so the wait ends on
    /// time, not a poll's duration after it. `Err` is the rollback a stop from `stops` asks
    /// for, heard while sleeping.
    async fn watch<S: StopSource>(
        &mut self,
        machine: &Machine,
        clock: &mut PollClock,
        last_readings: &mut Vec<Reading>,
        stops: &mut S,
    ) -> Result<Event, Event> {
        let (wake, deadline) = clock.next_wake(machine);
        let slept = Instant::now();
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            stop = stops.next() => return Err(Event::RollbackRequested(stop.reason().into())),
        }
        // What the performance measurements add up (docs/performance.md).
        tracing::debug!(
            waited_us = slept.elapsed().as_micros() as u64,
            "waited for the next poll"
        );
        let polled_at = Instant::now();
        clock.next_poll = polled_at + clock.poll;
        let event = self.poll(machine, last_readings).await;
        clock.poll_took.push(polled_at.elapsed());
        tracing::debug!(took_us = polled_at.elapsed().as_micros() as u64, "polled");
        if let Some(deadline) = deadline.filter(|d| Instant::now() < *d) {
            // Read early: the readings are judged when the wait ends.
            tracing::debug!(
                waited_us = (deadline - Instant::now()).as_micros() as u64,
                "read early: waiting for the deadline"
            );
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                stop = stops.next() => return Err(Event::RollbackRequested(stop.reason().into())),
            }
        }
        Ok(event)
    }

    /// One poll: a request from `promote`/`rollback`, then a foreign change of the weights,
    /// then the signals.
    async fn poll(&mut self, machine: &Machine, last: &mut Vec<Reading>) -> Event {
        let id = self.session.deployment().to_string();
        match self.session.store.take_request(&id).await {
            Ok(Some(Request::Rollback)) => {
                self.ctx.step("rollback requested (`bluegreen rollback`)");
                return Event::RollbackRequested("`bluegreen rollback` asked for it".into());
            }
            Ok(Some(Request::Approve(approval))) => {
                if let Phase::AwaitingApproval { .. } = machine.phase() {
                    self.ctx.step(format!(
                        "approved by {approval}: production traffic may start"
                    ));
                    let entry = Entry::Approved(approval);
                    if let Err(e) = self.session.write(entry).await {
                        // Without the approval in the permanent record, traffic does not move.
                        self.ctx.out.emit(Report::Warning {
                            message: format!(
                                "the approval could not be journaled ({e}); still waiting"
                            ),
                        });
                    } else {
                        return Event::Approved;
                    }
                } else {
                    self.ctx.out.emit(Report::Warning {
                        message: "an approval arrived while nothing waited for one; ignored".into(),
                    });
                }
            }
            Ok(Some(Request::Promote)) => {
                if let Phase::Paused { step } = machine.phase() {
                    self.ctx.step("promote requested: continuing");
                    self.session
                        .record(self.ctx, Entry::Continued { step: *step })
                        .await;
                    return Event::Promote;
                }
                self.ctx.out.emit(Report::Warning {
                    message: "a promote request arrived while nothing was paused; ignored".into(),
                });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("reading requests failed: {e}"),
        }
        if let Some(expected) = machine.last_verified() {
            if let Some(seen) = self
                .routes
                .foreign_change(self.ctx, self.aws, expected)
                .await
            {
                return Event::ExternalChange(seen);
            }
        }
        let readings = self.signals.read(self.aws).await;
        for r in &readings {
            // Report a signal when what it says changes, not on every poll.
            if !last.contains(r) {
                self.ctx.out.emit(Report::Health {
                    color: self.signals.color(),
                    signal: r.signal.clone(),
                    ok: r.status == Status::Ok,
                    observed: match r.status {
                        Status::NoData => format!("no data ({}): {}", policy(r), r.observed),
                        _ => r.observed.clone(),
                    },
                });
            }
        }
        *last = readings.clone();
        Event::Signals(readings)
    }

    async fn perform<S: StopSource>(
        &mut self,
        machine: &Machine,
        action: Action,
        stops: &S,
        verified_at: &mut Option<Instant>,
    ) -> Option<Event> {
        match action {
            Action::SetWeights(w) => Some(self.set_weights(machine, w, verified_at).await),
            Action::Restore => Some(self.restore(machine, stops).await),
            Action::ScaleDown(color) => Some(self.scale_down(color).await),
            Action::Note(note) => {
                self.journal_note(machine, &note).await;
                self.note(note);
                None
            }
        }
    }

    /// One weight change: the intent journaled first, then every route, read back.
    async fn set_weights(
        &mut self,
        machine: &Machine,
        w: Weights,
        verified_at: &mut Option<Instant>,
    ) -> Event {
        let (ctx, aws) = (self.ctx, self.aws);
        let fence = self.session.guard.fence().clone();
        let step = match machine.phase() {
            Phase::Shifting { step } => Some(*step),
            _ => None,
        };
        // The intent is durable before any route changes; if it cannot be written,
        // nothing is written to the routes either.
        let intent = Entry::WeightsIntent { weights: w, step };
        if let Err(e) = self.session.write(intent).await {
            return Event::WeightsFailed(format!(
                "not written: the journal could not record the change first ({e})"
            ));
        }
        ctx.step(format!("shifting production traffic to {w}"));
        match self.routes.set(ctx, aws, &fence, w).await {
            Ok(_) => {
                *verified_at = Some(Instant::now());
                let done = Entry::WeightsVerified { weights: w, step };
                self.session.record(ctx, done).await;
                Event::WeightsVerified(w)
            }
            Err(e) => {
                let failed = Entry::WeightsFailed {
                    weights: w,
                    error: e.clone(),
                };
                self.session.record(ctx, failed).await;
                Event::WeightsFailed(e)
            }
        }
    }

    /// Puts production traffic back on the weights the routes had before this run.
    async fn restore<S: StopSource>(&mut self, machine: &Machine, stops: &S) -> Event {
        let (ctx, aws) = (self.ctx, self.aws);
        let fence = self.session.guard.fence().clone();
        let before = self.routes.primary().weights();
        let Phase::RollingBack { failure } = machine.phase() else {
            unreachable!("the machine restores only while rolling back")
        };
        // Putting traffic back is always the safe direction: it goes ahead even if
        // the journal cannot record the intent (the failure is reported).
        let intent = Entry::RollbackIntent {
            to: before,
            signal: failure.signal.clone(),
            observed: failure.observed.clone(),
            during: failure.during.clone(),
        };
        self.session.record(ctx, intent).await;
        ctx.step(format!(
            "rolling back: restoring production traffic to {before}"
        ));
        let interrupts = stops.during_restore();
        let restore = self.routes.restore_watching(ctx, aws, &fence, &interrupts);
        match restore.await {
            Ok(()) => {
                let done = Entry::Restored { weights: before };
                self.session.record(ctx, done).await;
                Event::Restored
            }
            Err(e) => {
                let failed = Entry::RestoreFailed { error: e.clone() };
                self.session.record(ctx, failed).await;
                Event::RestoreFailed(e)
            }
        }
    }

    /// The journal records that follow the machine's notes.
    async fn journal_note(&mut self, machine: &Machine, note: &Note) {
        let steps = machine.spec().schedule.steps();
        let bake_passed = |i: usize| matches!(steps.get(i), Some(Step::Weight { .. }));
        let entries = match note {
            Note::Settled => vec![Entry::Settled],
            Note::StepStarted { index, .. } if *index > 0 && bake_passed(index - 1) => {
                vec![Entry::BakePassed { step: index - 1 }]
            }
            Note::Paused { index } => vec![Entry::Paused { step: *index }],
            Note::Promoting if bake_passed(steps.len() - 1) => vec![
                Entry::BakePassed {
                    step: steps.len() - 1,
                },
                Entry::PostBake,
            ],
            Note::Promoting => vec![Entry::PostBake],
            Note::TerminationWait(_) => vec![Entry::TerminationWait],
            Note::AwaitingApproval(wait) => vec![Entry::AwaitingApproval {
                wait_ms: wait.as_millis() as u64,
            }],
            Note::Stopped { at, step } => {
                // A weight checkpoint stops right after its step's bake passed.
                let mut v = Vec::new();
                if let Some(i) = step.filter(|i| bake_passed(*i)) {
                    v.push(Entry::BakePassed { step: i });
                }
                v.push(Entry::Stopped { at: at.to_string() });
                v
            }
            _ => vec![],
        };
        for e in entries {
            self.session.record(self.ctx, e).await;
        }
    }

    async fn scale_down(&mut self, color: Color) -> Event {
        let Some(old) = &self.old_service else {
            return Event::ScaleDownFailed(format!("the {color} service is unknown"));
        };
        if let Err(e) = self.session.write(Entry::ScaleDownIntent { color }).await {
            return Event::ScaleDownFailed(format!(
                "not scaled: the journal could not record it first ({e})"
            ));
        }
        if let Err(fenced) = self.session.guard.fence().check().await {
            return Event::ScaleDownFailed(fenced.to_string());
        }
        self.ctx.step(format!(
            "termination wait over: scaling {color} service {} to 0",
            old.service
        ));
        match self
            .aws
            .services()
            .set_desired(&old.cluster, &old.service, 0)
            .await
        {
            Ok(()) => {
                self.session
                    .record(self.ctx, Entry::ScaledDown { color })
                    .await;
                Event::ScaledDown
            }
            Err(e) => {
                let error = e.to_string();
                let failed = Entry::ScaleDownFailed {
                    color,
                    error: error.clone(),
                };
                self.session.record(self.ctx, failed).await;
                Event::ScaleDownFailed(error)
            }
        }
    }

    fn note(&self, note: Note) {
        let ctx = self.ctx;
        let steps = self.schedule.as_str();
        match note {
            Note::Settled => ctx.info(format!(
                "{} passed every signal with test traffic only",
                self.signals.color()
            )),
            Note::StepStarted { index, step } => {
                ctx.info(format!("step {}: {step} (schedule: {steps})", index + 1))
            }
            Note::Baking { bake, .. } => ctx.info(format!(
                "baking for {}, watching every signal",
                humantime::format_duration(bake)
            )),
            Note::Paused { index } => ctx.step(format!(
                "paused at step {}: run `bluegreen promote --env {}` to continue \
                 (signals are still watched; `bluegreen rollback` puts traffic back)",
                index + 1,
                ctx.cfg.env_arg
            )),
            Note::Promoting => ctx.step(format!(
                "100% on {}: post-promotion bake for {}",
                self.signals.color(),
                humantime::format_duration(ctx.cfg.promotion.bake)
            )),
            Note::Promoted => ctx.info("post-promotion bake passed"),
            Note::TerminationWait(d) => ctx.step(format!(
                "termination wait: the old color stays at full size for {}",
                humantime::format_duration(d)
            )),
            Note::AwaitingApproval(wait) => ctx.step(if wait.is_zero() {
                format!(
                    "production traffic needs approval: `bluegreen approve --env {env}`, then \
                     `bluegreen resume --env {env}` (this command exits with AWAITING_APPROVAL)",
                    env = ctx.cfg.env_arg
                )
            } else {
                format!(
                    "production traffic needs approval: waiting up to {} for `bluegreen approve \
                     --env {}` (signals are still watched)",
                    humantime::format_duration(wait),
                    ctx.cfg.env_arg
                )
            }),
            Note::Stopped { at, .. } => ctx.step(format!(
                "stopping at {at} (--until); `bluegreen resume --env {}` continues",
                ctx.cfg.env_arg
            )),
            Note::RollingBack(f) => ctx.out.emit(Report::Warning {
                message: format!("{f} — rolling back"),
            }),
        }
    }
}

fn policy(r: &Reading) -> &'static str {
    match r.no_data {
        crate::config::NoData::Fail => "counts as failing",
        crate::config::NoData::Pass => "counts as passing",
        crate::config::NoData::Wait => "waiting",
    }
}

#[cfg(test)]
#[path = "drive_tests.rs"]
mod tests;
