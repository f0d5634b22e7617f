//! The async driver of the deploy state machine: it performs the machine's actions (weight
//! changes on every production route in lockstep, the restore, the scale-down), polls the
//! signals at the poll interval, and feeds everything back as events. Decisions stay in
//! `crate::deploy::Machine`.

use super::context::{Aws, Ctx};
use super::control::{Control, InFlight};
use super::signals::SignalReader;
use crate::aws::Services;
use crate::color::{Color, Weights};
use crate::deploy::{
    read_view, set_all_and_verify, verify_all, Action, Event, ListenerView, Machine, Note, Outcome,
    Phase, Reading, Status, TargetGroups, TrafficError,
};
use crate::report::Event as Report;
use std::collections::VecDeque;
use tokio::time::Instant;

/// The production routes (listeners and rules) and what each held before the deploy.
pub struct Routes<'a> {
    pub tgs: &'a TargetGroups,
    pub before: Vec<(String, ListenerView)>,
    /// Whether any write was attempted: a restore with nothing written only verifies.
    touched: bool,
}

impl<'a> Routes<'a> {
    /// Reads every route; all of them must be in one of the states bluegreen understands.
    pub async fn read(
        aws: &Aws,
        tgs: &'a TargetGroups,
        arns: &[String],
    ) -> Result<Routes<'a>, TrafficError> {
        let mut before = Vec::new();
        for arn in arns {
            before.push((arn.clone(), read_view(&aws.traffic, arn, tgs).await?));
        }
        Ok(Routes {
            tgs,
            before,
            touched: false,
        })
    }

    /// The production listener's view (the first route), which decides the live color.
    pub fn primary(&self) -> &ListenerView {
        &self.before[0].1
    }

    /// Routes that disagree with the production listener: shifting them in lockstep from
    /// different starting points would be guesswork.
    pub fn disagreeing(&self) -> Vec<String> {
        let w = self.primary().weights();
        self.before
            .iter()
            .filter(|(_, v)| v.weights() != w)
            .map(|(arn, v)| format!("{arn} reads {}", v.weights()))
            .collect()
    }

    /// Writes `wanted` to every route (keeping each route's stickiness) and reads all back.
    pub async fn set(&mut self, ctx: &Ctx, aws: &Aws, wanted: Weights) -> Result<u32, String> {
        self.touched = true;
        let views: Vec<(String, ListenerView)> = self
            .before
            .iter()
            .map(|(arn, v)| {
                let view = ListenerView::Forwarding {
                    weights: wanted,
                    stickiness: v.stickiness(),
                };
                (arn.clone(), view)
            })
            .collect();
        let reads = set_all_and_verify(
            &aws.traffic,
            &views,
            self.tgs,
            ctx.cfg.traffic.verify_timeout,
            ctx.verify_interval(),
        )
        .await;
        let reads = match reads {
            Ok(r) => r,
            Err(e) => {
                let now = self.describe_now(aws).await;
                return Err(format!("{e}; production routes now read: {now}"));
            }
        };
        for (arn, _) in &views {
            ctx.out.emit(Report::WeightsVerified {
                listener: arn.clone(),
                weights: wanted,
                reads,
            });
        }
        Ok(reads)
    }

    /// Puts every route back to what it held before the deploy and reads all back.
    pub async fn restore(&self, ctx: &Ctx, aws: &Aws) -> Result<(), String> {
        let (timeout, interval) = (ctx.cfg.traffic.verify_timeout, ctx.verify_interval());
        let result = if self.touched {
            set_all_and_verify(&aws.traffic, &self.before, self.tgs, timeout, interval).await
        } else {
            verify_all(&aws.traffic, &self.before, self.tgs, timeout, interval).await
        };
        match result {
            Ok(reads) => {
                for (arn, v) in &self.before {
                    ctx.out.emit(Report::WeightsVerified {
                        listener: arn.clone(),
                        weights: v.weights(),
                        reads,
                    });
                }
                Ok(())
            }
            Err(e) => {
                let now = self.describe_now(aws).await;
                Err(format!("{e}; production routes now read: {now}"))
            }
        }
    }

    /// Every route's weights now, for the loud message of a failed restore.
    async fn describe_now(&self, aws: &Aws) -> String {
        let mut parts = Vec::new();
        for (arn, _) in &self.before {
            parts.push(match read_view(&aws.traffic, arn, self.tgs).await {
                Ok(v) => format!("{arn}: {}", v.weights()),
                Err(e) => format!("{arn}: unreadable ({e})"),
            });
        }
        parts.join(", ")
    }

    /// The first route whose weights differ from `expected`, if any.
    async fn foreign_change(&self, aws: &Aws, expected: Weights) -> Option<Weights> {
        for (arn, _) in &self.before {
            if let Ok(v) = read_view(&aws.traffic, arn, self.tgs).await {
                if v.weights() != expected {
                    return Some(v.weights());
                }
            }
        }
        None
    }
}

/// The old color's service, for the scale-down after the termination wait.
pub struct OldService {
    pub cluster: String,
    pub service: String,
}

/// Runs the machine to its outcome.
pub struct Driver<'a> {
    pub ctx: &'a Ctx,
    pub aws: &'a Aws,
    pub routes: Routes<'a>,
    pub signals: SignalReader<'a>,
    pub old_service: Option<OldService>,
    pub control: Control,
    pub inflight: InFlight,
}

impl Driver<'_> {
    pub async fn run(mut self, mut machine: Machine) -> Outcome {
        let start = Instant::now();
        let poll = self.ctx.cfg.health.poll_interval;
        let mut queue: VecDeque<Event> = VecDeque::new();
        let mut last_readings: Vec<Reading> = Vec::new();
        let mut next_poll = start;
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        self.sync(&machine);
        self.write_record();
        loop {
            if let Some(outcome) = machine.outcome() {
                // The deploy is over: nothing is in flight any more.
                self.control.clear();
                return outcome.clone();
            }
            let event = match queue.pop_front() {
                Some(e) => e,
                None if machine.is_watching() => {
                    // Sleep until the next poll, unless the user interrupts.
                    tokio::select! {
                        _ = tokio::time::sleep_until(next_poll) => {}
                        _ = &mut interrupt => {
                            queue.push_back(Event::RollbackRequested(
                                "interrupted (SIGINT): putting traffic back".into(),
                            ));
                            continue;
                        }
                    }
                    next_poll = Instant::now() + poll;
                    self.poll(&machine, &mut last_readings).await
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
            let actions = machine.handle(event, start.elapsed());
            for action in actions {
                if let Some(e) = self.perform(action).await {
                    queue.push_back(e);
                }
            }
            if self.sync(&machine) {
                self.write_record();
            }
        }
    }

    /// One poll: a promote request, then a foreign change of the weights, then the signals.
    async fn poll(&mut self, machine: &Machine, last: &mut Vec<Reading>) -> Event {
        if matches!(machine.phase(), Phase::Paused { .. }) && self.control.take_promote() {
            self.ctx.step("promote requested: continuing");
            return Event::Promote;
        }
        if let Some(expected) = machine.last_verified() {
            if let Some(seen) = self.routes.foreign_change(self.aws, expected).await {
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

    async fn perform(&mut self, action: Action) -> Option<Event> {
        let (ctx, aws) = (self.ctx, self.aws);
        match action {
            Action::SetWeights(w) => {
                ctx.step(format!("shifting production traffic to {w}"));
                Some(match self.routes.set(ctx, aws, w).await {
                    Ok(_) => Event::WeightsVerified(w),
                    Err(e) => Event::WeightsFailed(e),
                })
            }
            Action::Restore => {
                let before = self.routes.primary().weights();
                ctx.step(format!(
                    "rolling back: restoring production traffic to {before}"
                ));
                Some(match self.routes.restore(ctx, aws).await {
                    Ok(()) => Event::Restored,
                    Err(e) => Event::RestoreFailed(e),
                })
            }
            Action::ScaleDown(color) => Some(self.scale_down(color).await),
            Action::Note(note) => {
                self.note(note);
                None
            }
        }
    }

    async fn scale_down(&self, color: Color) -> Event {
        let Some(old) = &self.old_service else {
            return Event::ScaleDownFailed(format!("the {color} service is unknown"));
        };
        self.ctx.step(format!(
            "termination wait over: scaling {color} service {} to 0",
            old.service
        ));
        match self
            .aws
            .services
            .set_desired(&old.cluster, &old.service, 0)
            .await
        {
            Ok(()) => Event::ScaledDown,
            Err(e) => Event::ScaleDownFailed(e.to_string()),
        }
    }

    fn note(&self, note: Note) {
        let ctx = self.ctx;
        let steps = self.inflight.schedule.as_str();
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
                ctx.cfg.name
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
            Note::RollingBack(f) => ctx.out.emit(Report::Warning {
                message: format!("{f} — rolling back"),
            }),
        }
    }

    /// Brings the in-flight record in step with the machine; true when it changed.
    fn sync(&mut self, machine: &Machine) -> bool {
        let before = self.inflight.clone();
        self.inflight.phase = machine.during();
        self.inflight.paused = matches!(machine.phase(), Phase::Paused { .. });
        self.inflight.weights = machine.last_verified();
        self.inflight != before
    }

    /// Writes the in-flight record, for `status`, `promote` and `rollback`.
    fn write_record(&self) {
        if let Err(e) = self.control.write(&self.inflight) {
            self.ctx.out.emit(Report::Warning {
                message: format!("{e} (status/promote cannot see this deploy)"),
            });
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
