//! The deploy state machine: from "the new color is provisioned and scaled up" to "promoted",
//! "rolled back" or "rollback failed". It is a pure function of (state, event, now) → actions:
//! no tokio, no SDK, time passed in. The async driver in `crate::flow::drive` performs the
//! actions and feeds back what happened. Every path, every failure included, is a unit test.
//!
//! Rules it keeps (property-tested below):
//! - every weight it asks for sums to 100;
//! - it never asks for more weight on the new color after a signal failed;
//! - every failure ends in `RolledBack` (restore verified) or `RollbackFailed` (loud).

use super::color::{Color, Weights};
use super::strategy::{Schedule, Step};
use super::verdict::{verdict, Reading, Stage, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Everything the machine needs to know up front.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The color production traffic is on now; `None` on a first deploy (nothing to roll back
    /// to but the listener's fixed response, and nothing to scale down).
    pub old: Option<Color>,
    pub new: Color,
    pub schedule: Schedule,
    /// The longest a signal may stay pending (not yet healthy, or no data with the `wait`
    /// policy) before it counts as failed.
    pub health_timeout: Duration,
    /// Watch every signal this long at 100 % before the deploy counts as promoted.
    pub post_bake: Duration,
    /// After promotion, how long the old color stays at full size.
    pub termination_wait: Duration,
    /// Scale the old color to zero after the termination wait (else keep it warm).
    pub scale_down: bool,
    /// The approval gate, when production traffic must wait for `bluegreen approve` (and no
    /// approval is recorded yet): how long to wait for it in this process.
    pub approval: Option<Duration>,
    /// Stop at this checkpoint, unfinished, for a later `resume` (`--until`).
    pub until: Option<Until>,
}

/// A checkpoint `deploy --until` / `resume --until` stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Until {
    /// The new color passed every signal with test traffic only; no production traffic yet.
    TestTraffic,
    /// The schedule's step with this new-color weight was verified and its bake passed.
    Weight(u16),
}

impl Until {
    /// `test-traffic` or `weight:N` (`N%` is accepted too).
    pub fn parse(s: &str) -> Result<Until, String> {
        let s = s.trim();
        if s == "test-traffic" {
            return Ok(Until::TestTraffic);
        }
        let n = s
            .strip_prefix("weight:")
            .or_else(|| s.strip_suffix('%'))
            .ok_or_else(|| {
                format!("`{s}` is not a checkpoint; use `test-traffic` or `weight:N`")
            })?;
        match n.parse::<u16>() {
            Ok(p) if (1..=100).contains(&p) => Ok(Until::Weight(p)),
            _ => Err(format!(
                "`{s}`: the weight must be a whole percentage from 1 to 100, e.g. `weight:25`"
            )),
        }
    }

    /// Whether `schedule` ever reaches this checkpoint (a weight must be one of its steps).
    pub fn check(self, schedule: &Schedule) -> Result<(), String> {
        match self {
            Until::TestTraffic => Ok(()),
            Until::Weight(p) => {
                let weights: Vec<u16> = schedule
                    .steps()
                    .iter()
                    .filter_map(|s| match s {
                        Step::Weight { percent, .. } => Some(*percent),
                        Step::Pause => None,
                    })
                    .collect();
                if weights.contains(&p) {
                    Ok(())
                } else {
                    Err(format!(
                        "the schedule ({schedule}) never stops at {p}%; its weights are {}",
                        weights
                            .iter()
                            .map(|w| format!("{w}%"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
    }
}

impl std::fmt::Display for Until {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Until::TestTraffic => f.write_str("test-traffic"),
            Until::Weight(p) => write!(f, "weight:{p}"),
        }
    }
}

/// Why a deployment is being rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The failing signal (`ecs-service`, `alarm:NAME`, …), or `traffic` / `operator`.
    pub signal: String,
    /// What it saw.
    pub observed: String,
    /// Where the deployment was ("step 2 (50%)", "post-promotion bake", …).
    pub during: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed during {}: {}",
            self.signal, self.during, self.observed
        )
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// 100 % on the new color, verified, and every bake passed.
    Promoted {
        scaled_down: bool,
        /// Set when scaling the old color down failed (traffic is fine; the old color is still
        /// running and costs money).
        scale_down_error: Option<String>,
    },
    /// Traffic is back where it was before the deploy, verified.
    RolledBack { failure: Failure },
    /// The restore could not be verified: traffic may be on a bad stack.
    RollbackFailed { failure: Failure, error: String },
    /// Someone else changed the listener while the deploy ran; the machine stopped acting.
    Abandoned { observed: Weights },
    /// Not an end: production traffic waits for `bluegreen approve` and this process stopped
    /// waiting. The deployment stays unfinished; `resume` continues it once approved.
    AwaitingApproval,
    /// Not an end: `--until` stopped here; `resume` continues.
    Stopped { at: Until },
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
    plan: Plan,
    phase: Phase,
    /// When each signal started to be pending, for the health-timeout rule.
    pending_since: BTreeMap<String, Duration>,
    last_verified: Option<Weights>,
}

impl Machine {
    /// Starts in `Settling`. On a first deploy there is no old color to share traffic
    /// with, so the schedule becomes all-at-once.
    pub fn new(mut plan: Plan) -> Machine {
        if plan.old.is_none() {
            plan.schedule = Schedule::new(vec![Step::Weight {
                percent: 100,
                bake: Duration::ZERO,
            }])
            .expect("a single 100% step is a valid schedule");
        }
        Machine {
            plan,
            phase: Phase::Settling,
            pending_since: BTreeMap::new(),
            last_verified: None,
        }
    }

    /// A machine that continues from `at` (time `now`), for `resume`. Waits restart in full:
    /// a crash must never shorten a bake.
    pub fn resume(plan: Plan, at: Checkpoint, now: Duration) -> Machine {
        let mut m = Machine::new(plan);
        let last = m.plan.schedule.steps().len() - 1;
        match at {
            Checkpoint::Start => {}
            Checkpoint::Baking { step } => {
                let step = step.min(last);
                let bake = match m.plan.schedule.steps()[step] {
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
                    until: now + m.plan.post_bake,
                };
            }
            Checkpoint::TerminationWait { .. } if m.plan.old.is_none() || !m.plan.scale_down => {
                m.last_verified = Some(m.weights_at(last));
                m.finish(false, None);
            }
            Checkpoint::TerminationWait { scale_down_started } => {
                m.last_verified = Some(m.weights_at(last));
                m.phase = Phase::TerminationWait {
                    until: if scale_down_started {
                        now
                    } else {
                        now + m.plan.termination_wait
                    },
                };
            }
        }
        m
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
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
            (_, Event::ExternalChange(observed)) => match self.plan.old {
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
                    let bake = match self.plan.schedule.steps()[step] {
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
                self.plan.approval = None;
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
                    Judgement::Pass if now >= until => match self.plan.old {
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
        let percent = self.plan.schedule.steps()[..=step]
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Weight { percent, .. } => Some(*percent),
                Step::Pause => None,
            })
            .unwrap_or(0);
        split(self.plan.old, self.plan.new, percent)
    }

    fn enter_step(&mut self, step: usize, now: Duration, out: &mut Vec<Action>) {
        let Some(&s) = self.plan.schedule.steps().get(step) else {
            // Past the last step: the schedule ends with a verified 100 %.
            self.phase = Phase::PostBake {
                until: now + self.plan.post_bake,
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
        if self.plan.until == Some(Until::TestTraffic) {
            self.stop(Until::TestTraffic, None, out);
            return;
        }
        if let Some(wait) = self.plan.approval {
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
            (self.plan.until, self.plan.schedule.steps().get(step))
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
        match (self.plan.old, self.plan.scale_down) {
            (Some(_), true) => {
                out.push(Action::Note(Note::TerminationWait(
                    self.plan.termination_wait,
                )));
                self.pending_since.clear();
                self.phase = Phase::TerminationWait {
                    until: now + self.plan.termination_wait,
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
                self.plan.schedule.steps().len(),
                self.plan.schedule.steps()[i]
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
                    if now.saturating_sub(since) >= self.plan.health_timeout {
                        return Judgement::Fail(Failure {
                            signal: r.signal.clone(),
                            observed: format!(
                                "{} (still not healthy after {})",
                                r.observed,
                                humantime::format_duration(self.plan.health_timeout)
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

/// `percent` % on `new`, the rest on `old` (on a first deploy there is no old color, so the
/// new one takes everything it is given and the schedule is all-at-once).
pub fn split(old: Option<Color>, new: Color, percent: u16) -> Weights {
    let mut w = Weights::default();
    match new {
        Color::Blue => w.blue = percent,
        Color::Green => w.green = percent,
    }
    if let Some(old) = old {
        match old {
            Color::Blue => w.blue = 100 - percent,
            Color::Green => w.green = 100 - percent,
        }
    }
    w
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
