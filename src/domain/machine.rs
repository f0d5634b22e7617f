//! The deploy state machine: from "the new color is provisioned and scaled up" to "promoted",
//! "rolled back" or "rollback failed". It is a pure function of (state, event, now) → actions:
//! no tokio, no SDK, time passed in. The async driver in `crate::flow::drive` performs the
//! actions and feeds back what happened. Every path, every failure included, is a unit test.
//!
//! Rules it keeps (property-tested below):
//! - every weight it asks for sums to 100;
//! - it never asks for more weight on the new color after a signal failed;
//! - every failure ends in `RolledBack` (restore verified) or `RollbackFailed` (loud).

use super::color::split;
use super::color::{Color, Weights};
pub use super::outcome::{Failure, Outcome};
use super::spec::{DeploymentSpec, Until};
use super::strategy::{Schedule, Step};
use super::verdict::{verdict, Reading, Stage, Verdict};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The new color has test traffic only; waiting for every signal to pass.
    Settling,
    /// A weight change was asked for; waiting for it to be read back.
    Shifting {
        step: usize,
    },
    Baking {
        step: usize,
        until: Duration,
    },
    Paused {
        step: usize,
    },
    /// Every signal passed with test traffic only; production traffic waits for approval
    /// until `until`.
    AwaitingApproval {
        until: Duration,
    },
    PostBake {
        until: Duration,
    },
    TerminationWait {
        until: Duration,
    },
    ScalingDown,
    RollingBack {
        failure: Failure,
    },
    Done(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Every signal, read once. Also how time advances: the driver polls at the poll interval.
    Signals(Vec<Reading>),
    /// The listeners read back the weights asked for.
    WeightsVerified(Weights),
    /// The listeners did not read back what was asked for before the deadline (or the write
    /// failed). The driver has already tried to put the last verified weights back.
    WeightsFailed(String),
    /// `bluegreen promote`: continue past a pause.
    Promote,
    /// `bluegreen approve`: production traffic may start.
    Approved,
    /// `bluegreen rollback` or Ctrl-C: put traffic back now.
    RollbackRequested(String),
    Restored,
    RestoreFailed(String),
    ScaledDown,
    ScaleDownFailed(String),
    /// The listeners read weights the machine did not ask for.
    ExternalChange(Weights),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these weights to every production route and read them back.
    SetWeights(Weights),
    /// Put every production route back to what it was before the deploy, and read it back.
    Restore,
    ScaleDown(Color),
    /// Something worth telling the user.
    Note(Note),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Settled,
    StepStarted {
        index: usize,
        step: Step,
    },
    Baking {
        index: usize,
        bake: Duration,
    },
    Paused {
        index: usize,
    },
    /// Waiting at the approval gate for at most this long.
    AwaitingApproval(Duration),
    /// `--until` stopped here; `step` is the step whose bake just passed (a weight checkpoint).
    Stopped {
        at: Until,
        step: Option<usize>,
    },
    Promoting,
    Promoted,
    TerminationWait(Duration),
    RollingBack(Failure),
}

/// Where a resumed deployment continues (`bluegreen resume`), read from its journal and
/// confirmed against the live weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// No production weight moved yet: settle again, then the whole schedule.
    Start,
    /// Step `step`'s weights are live and verified: bake it again in full, then go on.
    Baking { step: usize },
    /// Step `step` is a pause and its weights are live: wait for `promote` again.
    Paused { step: usize },
    /// 100 % is live and verified: the post-promotion bake, in full.
    PostBake,
    /// The post-promotion bake passed: the termination wait, in full (or only one passing
    /// poll when the scale-down was already under way).
    TerminationWait { scale_down_started: bool },
}

pub struct Machine {
    spec: DeploymentSpec,
    phase: Phase,
    /// When each signal started to be pending, for the health-timeout rule.
    pending_since: BTreeMap<String, Duration>,
    last_verified: Option<Weights>,
}

impl Machine {
    /// Starts in `Settling`. On a first deploy there is no old color to share traffic
    /// with, so the schedule becomes all-at-once.
    pub fn new(mut spec: DeploymentSpec) -> Machine {
        if spec.old.is_none() {
            spec.schedule = Schedule::all_at_once();
        }
        Machine {
            spec,
            phase: Phase::Settling,
            pending_since: BTreeMap::new(),
            last_verified: None,
        }
    }

    /// A machine that continues from `at` (time `now`), for `resume`. Waits restart in full:
    /// a crash must never shorten a bake.
    pub fn resume(spec: DeploymentSpec, at: Checkpoint, now: Duration) -> Machine {
        let mut m = Machine::new(spec);
        let last = m.spec.schedule.steps().len() - 1;
        match at {
            Checkpoint::Start => {}
            Checkpoint::Baking { step } => {
                let step = step.min(last);
                let bake = match m.spec.schedule.steps()[step] {
                    Step::Weight { bake, .. } => bake,
                    Step::Pause => Duration::ZERO,
                };
                m.last_verified = Some(m.weights_at(step));
                m.phase = Phase::Baking {
                    step,
                    until: now + bake,
                };
            }
            Checkpoint::Paused { step } => {
                let step = step.min(last);
                m.last_verified = Some(m.weights_at(step));
                m.phase = Phase::Paused { step };
            }
            Checkpoint::PostBake => {
                m.last_verified = Some(m.weights_at(last));
                m.phase = Phase::PostBake {
                    until: now + m.spec.post_bake,
                };
            }
            Checkpoint::TerminationWait { .. } if m.spec.old.is_none() || !m.spec.scale_down => {
                m.last_verified = Some(m.weights_at(last));
                m.finish(false, None);
            }
            Checkpoint::TerminationWait { scale_down_started } => {
                m.last_verified = Some(m.weights_at(last));
                m.phase = Phase::TerminationWait {
                    until: if scale_down_started {
                        now
                    } else {
                        now + m.spec.termination_wait
                    },
                };
            }
        }
        m
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// What the machine carries out (a first deploy's schedule already all-at-once).
    pub fn spec(&self) -> &DeploymentSpec {
        &self.spec
    }

    /// The weights last read back as asked for (`None` before the first change).
    pub fn last_verified(&self) -> Option<Weights> {
        self.last_verified
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Done(o) => Some(o),
            _ => None,
        }
    }

    /// When the current timed wait (a bake, the approval wait, the post-promotion bake, the
    /// termination wait) ends, as time since the start: the driver polls then, not at the next
    /// poll interval, so a wait ends on its deadline (and a 0 s wait on the next read).
    pub fn wait_ends(&self) -> Option<Duration> {
        match self.phase {
            Phase::Baking { until, .. }
            | Phase::AwaitingApproval { until }
            | Phase::PostBake { until }
            | Phase::TerminationWait { until } => Some(until),
            _ => None,
        }
    }

    /// Whether the driver should keep polling signals.
    pub fn is_watching(&self) -> bool {
        matches!(
            self.phase,
            Phase::Settling
                | Phase::Baking { .. }
                | Phase::Paused { .. }
                | Phase::AwaitingApproval { .. }
                | Phase::PostBake { .. }
                | Phase::TerminationWait { .. }
        )
    }

    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.phase.clone(), event) {
            (Phase::Done(_), _) => {}
            (Phase::RollingBack { failure }, Event::Restored) => {
                self.phase = Phase::Done(Outcome::RolledBack { failure });
            }
            (Phase::RollingBack { failure }, Event::RestoreFailed(error)) => {
                self.phase = Phase::Done(Outcome::RollbackFailed { failure, error });
            }
            (Phase::RollingBack { .. }, _) => {}
            // The old color is already being scaled down: sending traffic back to it now would
            // send it to a service with no tasks. Finish; `bluegreen rollback` checks health.
            (Phase::ScalingDown, Event::RollbackRequested(_)) => {}
            // Someone put everything back on the old color (the driver confirmed the reading
            // over several reads): finish that rollback ourselves — write it and read it back —
            // so that "rolled back" always means bluegreen verified it. Any other foreign
            // weights: stop touching the routes.
            (_, Event::ExternalChange(observed)) => match self.spec.old {
                Some(old) if observed == Weights::all_on(old) => {
                    let failure = Failure {
                        signal: "operator".into(),
                        observed: format!("the listener was moved back to {observed}"),
                        during: self.during(),
                    };
                    self.roll_back(failure, &mut out);
                }
                _ => self.phase = Phase::Done(Outcome::Abandoned { observed }),
            },
            (_, Event::RollbackRequested(why)) => {
                let failure = Failure {
                    signal: "operator".into(),
                    observed: why,
                    during: self.during(),
                };
                self.roll_back(failure, &mut out);
            }
            (Phase::Settling, Event::Signals(readings)) => {
                match self.judge(&readings, Stage::Settling, now) {
                    Judgement::Fail(f) => self.roll_back(f, &mut out),
                    Judgement::Pending => {}
                    Judgement::Pass => {
                        out.push(Action::Note(Note::Settled));
                        self.after_settled(now, &mut out);
                    }
                }
            }
            (Phase::Shifting { step }, Event::WeightsVerified(w)) => {
                if w != self.weights_at(step) {
                    let failure = self.traffic_failure(format!(
                        "read back {w}, asked for {}",
                        self.weights_at(step)
                    ));
                    self.roll_back(failure, &mut out);
                } else {
                    self.last_verified = Some(w);
                    let bake = match self.spec.schedule.steps()[step] {
                        Step::Weight { bake, .. } => bake,
                        Step::Pause => Duration::ZERO,
                    };
                    self.pending_since.clear();
                    if bake.is_zero() {
                        self.after_step(step, now, &mut out);
                    } else {
                        out.push(Action::Note(Note::Baking { index: step, bake }));
                        self.phase = Phase::Baking {
                            step,
                            until: now + bake,
                        };
                    }
                }
            }
            (Phase::Shifting { .. }, Event::WeightsFailed(e)) => {
                let failure = self.traffic_failure(e);
                self.roll_back(failure, &mut out);
            }
            (Phase::Baking { step, until }, Event::Signals(r)) => {
                match self.judge(&r, Stage::Watching, now) {
                    Judgement::Fail(f) => self.roll_back(f, &mut out),
                    Judgement::Pass if now >= until => self.after_step(step, now, &mut out),
                    _ => {}
                }
            }
            (Phase::Paused { .. }, Event::Signals(r)) => {
                if let Judgement::Fail(f) = self.judge(&r, Stage::Watching, now) {
                    self.roll_back(f, &mut out);
                }
            }
            (Phase::Paused { step }, Event::Promote) => self.after_step(step, now, &mut out),
            (Phase::AwaitingApproval { until }, Event::Signals(r)) => {
                // The color passed every signal already: from here a failure is a failure.
                match self.judge(&r, Stage::Watching, now) {
                    Judgement::Fail(f) => self.roll_back(f, &mut out),
                    _ if now >= until => self.phase = Phase::Done(Outcome::AwaitingApproval),
                    _ => {}
                }
            }
            (Phase::AwaitingApproval { .. }, Event::Approved) => {
                self.spec.approval.required = false;
                self.enter_step(0, now, &mut out);
            }
            (Phase::PostBake { until }, Event::Signals(r)) => {
                match self.judge(&r, Stage::Watching, now) {
                    Judgement::Fail(f) => self.roll_back(f, &mut out),
                    Judgement::Pass if now >= until => self.promoted(now, &mut out),
                    _ => {}
                }
            }
            (Phase::TerminationWait { until }, Event::Signals(r)) => {
                match self.judge(&r, Stage::Watching, now) {
                    Judgement::Fail(f) => self.roll_back(f, &mut out),
                    Judgement::Pass if now >= until => match self.spec.old {
                        Some(old) => {
                            out.push(Action::ScaleDown(old));
                            self.phase = Phase::ScalingDown;
                        }
                        None => self.finish(false, None),
                    },
                    _ => {}
                }
            }
            (Phase::ScalingDown, Event::ScaledDown) => self.finish(true, None),
            (Phase::ScalingDown, Event::ScaleDownFailed(e)) => self.finish(false, Some(e)),
            // Anything else is out of order for the phase (a stale answer, a promote with
            // nothing paused): ignoring it is always safe because no weight moves without a
            // phase asking for it.
            _ => {}
        }
        out
    }

    /// New-color weight `step` asks for (a pause holds the weight before it).
    fn weights_at(&self, step: usize) -> Weights {
        let percent = self.spec.schedule.steps()[..=step]
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Weight { percent, .. } => Some(*percent),
                Step::Pause => None,
            })
            .unwrap_or(0);
        split(self.spec.old, self.spec.new, percent)
    }

    fn enter_step(&mut self, step: usize, now: Duration, out: &mut Vec<Action>) {
        let Some(&s) = self.spec.schedule.steps().get(step) else {
            // Past the last step: the schedule ends with a verified 100 %.
            self.phase = Phase::PostBake {
                until: now + self.spec.post_bake,
            };
            self.pending_since.clear();
            out.push(Action::Note(Note::Promoting));
            return;
        };
        out.push(Action::Note(Note::StepStarted {
            index: step,
            step: s,
        }));
        match s {
            Step::Weight { .. } => {
                out.push(Action::SetWeights(self.weights_at(step)));
                self.phase = Phase::Shifting { step };
            }
            Step::Pause => {
                out.push(Action::Note(Note::Paused { index: step }));
                self.phase = Phase::Paused { step };
            }
        }
    }

    /// Every signal passed with test traffic only: stop (`--until test-traffic`), wait at the
    /// approval gate, or start the schedule.
    fn after_settled(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.spec.until == Some(Until::TestTraffic) {
            self.stop(Until::TestTraffic, None, out);
            return;
        }
        if let Some(wait) = self.spec.approval.pending() {
            out.push(Action::Note(Note::AwaitingApproval(wait)));
            self.phase = if wait.is_zero() {
                Phase::Done(Outcome::AwaitingApproval)
            } else {
                Phase::AwaitingApproval { until: now + wait }
            };
            return;
        }
        self.enter_step(0, now, out);
    }

    fn after_step(&mut self, step: usize, now: Duration, out: &mut Vec<Action>) {
        if let (Some(Until::Weight(p)), Some(Step::Weight { percent, .. })) =
            (self.spec.until, self.spec.schedule.steps().get(step))
        {
            if *percent == p {
                self.stop(Until::Weight(p), Some(step), out);
                return;
            }
        }
        self.enter_step(step + 1, now, out);
    }

    fn stop(&mut self, at: Until, step: Option<usize>, out: &mut Vec<Action>) {
        out.push(Action::Note(Note::Stopped { at, step }));
        self.phase = Phase::Done(Outcome::Stopped { at });
    }

    fn promoted(&mut self, now: Duration, out: &mut Vec<Action>) {
        out.push(Action::Note(Note::Promoted));
        match (self.spec.old, self.spec.scale_down) {
            (Some(_), true) => {
                out.push(Action::Note(Note::TerminationWait(
                    self.spec.termination_wait,
                )));
                self.pending_since.clear();
                self.phase = Phase::TerminationWait {
                    until: now + self.spec.termination_wait,
                };
            }
            _ => self.finish(false, None),
        }
    }

    fn finish(&mut self, scaled_down: bool, scale_down_error: Option<String>) {
        self.phase = Phase::Done(Outcome::Promoted {
            scaled_down,
            scale_down_error,
        });
    }

    fn roll_back(&mut self, failure: Failure, out: &mut Vec<Action>) {
        out.push(Action::Note(Note::RollingBack(failure.clone())));
        out.push(Action::Restore);
        self.phase = Phase::RollingBack { failure };
    }

    fn traffic_failure(&self, observed: String) -> Failure {
        Failure {
            signal: "traffic".into(),
            observed,
            during: self.during(),
        }
    }

    /// Where the deployment is, in words, for failure messages.
    pub fn during(&self) -> String {
        let step = |i: usize| {
            format!(
                "step {} of {} ({})",
                i + 1,
                self.spec.schedule.steps().len(),
                self.spec.schedule.steps()[i]
            )
        };
        match &self.phase {
            Phase::Settling => "the checks before any production traffic".into(),
            Phase::Shifting { step: i } | Phase::Baking { step: i, .. } => step(*i),
            Phase::Paused { step: i } => format!("the pause at {}", step(*i)),
            Phase::AwaitingApproval { .. } => "the approval gate".into(),
            Phase::PostBake { .. } => "the post-promotion bake".into(),
            Phase::TerminationWait { .. } => "the termination wait".into(),
            Phase::ScalingDown => "scale-down".into(),
            Phase::RollingBack { .. } => "rollback".into(),
            Phase::Done(_) => "after the end".into(),
        }
    }

    /// Applies every reading's verdict and the pending-too-long rule.
    fn judge(&mut self, readings: &[Reading], stage: Stage, now: Duration) -> Judgement {
        let mut all_pass = true;
        for r in readings {
            match verdict(r, stage) {
                Verdict::Pass => {
                    self.pending_since.remove(&r.signal);
                }
                Verdict::Fail => {
                    return Judgement::Fail(Failure {
                        signal: r.signal.clone(),
                        observed: r.observed.clone(),
                        during: self.during(),
                    })
                }
                Verdict::Pending => {
                    all_pass = false;
                    let since = *self.pending_since.entry(r.signal.clone()).or_insert(now);
                    if now.saturating_sub(since) >= self.spec.health_timeout {
                        return Judgement::Fail(Failure {
                            signal: r.signal.clone(),
                            observed: format!(
                                "{} (still not healthy after {})",
                                r.observed,
                                humantime::format_duration(self.spec.health_timeout)
                            ),
                            during: self.during(),
                        });
                    }
                }
            }
        }
        if all_pass {
            Judgement::Pass
        } else {
            Judgement::Pending
        }
    }
}

enum Judgement {
    Pass,
    Pending,
    Fail(Failure),
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
