//! Traffic strategies and the schedule of weights they expand to. A strategy is what the user
//! writes (in the environment file or with `deploy --strategy`); a [`Schedule`] is the validated
//! list of steps the deploy state machine walks through.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// How production traffic moves from the live color to the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Strategy {
    /// One change: 100 % to the new color.
    AllAtOnce,
    /// `percent` to the new color, bake for `bake`, then the rest.
    Canary { percent: u16, bake: Duration },
    /// `step` more percent every `interval` until 100 (the last step may be smaller).
    Linear { step: u16, interval: Duration },
    /// An explicit list of steps.
    Steps { steps: Vec<Step> },
}

/// One step of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// Put `percent` % of production traffic on the new color, then watch every signal for
    /// `bake` before the next step.
    Weight {
        percent: u16,
        #[serde(with = "human_duration")]
        bake: Duration,
    },
    /// Hold the current weights (signals still watched) until `bluegreen promote`.
    Pause,
}

/// Why a strategy cannot be run. Messages say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("step {index}: weight {percent} is outside 1–100")]
    OutOfRange { index: usize, percent: u16 },
    #[error("step {index}: weight {percent} does not increase on the previous weight {previous}")]
    NotIncreasing {
        index: usize,
        percent: u16,
        previous: u16,
    },
    #[error("the last step is {last}, not a weight of 100; traffic would never fully move")]
    NotFinishing { last: String },
    #[error("the schedule has no steps")]
    Empty,
    #[error("{0}")]
    Invalid(String),
}

/// A validated schedule: weights in 1..=100, strictly increasing, the last step is 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    steps: Vec<Step>,
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::AllAtOnce => "all-at-once",
            Strategy::Canary { .. } => "canary",
            Strategy::Linear { .. } => "linear",
            Strategy::Steps { .. } => "steps",
        }
    }

    /// Expands the strategy to its steps and checks them.
    pub fn schedule(&self) -> Result<Schedule, ScheduleError> {
        let steps = match self {
            Strategy::AllAtOnce => vec![weight(100, Duration::ZERO)],
            Strategy::Canary { percent, bake } => {
                if !(1..=99).contains(percent) {
                    return Err(ScheduleError::Invalid(format!(
                        "canary percent {percent} must be from 1 to 99 (use all-at-once for 100)"
                    )));
                }
                vec![weight(*percent, *bake), weight(100, Duration::ZERO)]
            }
            Strategy::Linear { step, interval } => {
                if !(1..=100).contains(step) {
                    return Err(ScheduleError::Invalid(format!(
                        "linear step {step} must be from 1 to 100"
                    )));
                }
                let mut steps = Vec::new();
                let mut w = 0u16;
                while w < 100 {
                    w = (w + step).min(100);
                    let bake = if w == 100 { Duration::ZERO } else { *interval };
                    steps.push(weight(w, bake));
                }
                steps
            }
            Strategy::Steps { steps } => steps.clone(),
        };
        Schedule::new(steps)
    }
}

fn weight(percent: u16, bake: Duration) -> Step {
    Step::Weight { percent, bake }
}

impl Schedule {
    /// Checks `steps`: each weight in 1..=100 and above the one before, pauses anywhere but
    /// last, and a final weight of 100.
    pub fn new(steps: Vec<Step>) -> Result<Schedule, ScheduleError> {
        let mut previous = 0u16;
        for (i, step) in steps.iter().enumerate() {
            let index = i + 1;
            if let Step::Weight { percent, .. } = *step {
                if !(1..=100).contains(&percent) {
                    return Err(ScheduleError::OutOfRange { index, percent });
                }
                if percent <= previous {
                    return Err(ScheduleError::NotIncreasing {
                        index,
                        percent,
                        previous,
                    });
                }
                previous = percent;
            }
        }
        match steps.last() {
            None => Err(ScheduleError::Empty),
            Some(Step::Weight { percent: 100, .. }) => Ok(Schedule { steps }),
            Some(last) => Err(ScheduleError::NotFinishing {
                last: last.to_string(),
            }),
        }
    }

    /// One change to 100 %: what a first deploy runs whatever was configured (no old color
    /// to share traffic with).
    pub fn all_at_once() -> Schedule {
        Schedule {
            steps: vec![weight(100, Duration::ZERO)],
        }
    }

    /// The steps a record holds (the journal's `started`, a plan artifact), unchecked: a
    /// record reads whatever it holds, and whoever carries it out checks it first
    /// ([`Schedule::checked`]), so a bad schedule is refused by that command, with its fix,
    /// rather than reported as a damaged record.
    pub fn recorded(steps: Vec<Step>) -> Schedule {
        Schedule { steps }
    }

    /// The same steps, checked as [`Schedule::new`] checks them.
    pub fn checked(&self) -> Result<Schedule, ScheduleError> {
        Schedule::new(self.steps.clone())
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The longest the schedule itself can take when every signal stays healthy: every bake
    /// plus, per weight change, the time a listener change may take to verify. Pauses wait for a
    /// human and are counted separately.
    pub fn worst_case(&self, verify_timeout: Duration) -> WorstCase {
        let mut total = Duration::ZERO;
        let mut pauses = 0;
        for step in &self.steps {
            match step {
                Step::Weight { bake, .. } => total += *bake + verify_timeout,
                Step::Pause => pauses += 1,
            }
        }
        WorstCase { total, pauses }
    }
}

/// The worst-case duration of a schedule, not counting the human time of its pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorstCase {
    #[serde(with = "human_duration")]
    pub total: Duration,
    pub pauses: usize,
}

impl fmt::Display for WorstCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.total))?;
        if self.pauses > 0 {
            write!(f, " plus {} pause(s) waiting for `promote`", self.pauses)?;
        }
        Ok(())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Weight { percent, bake } if bake.is_zero() => write!(f, "{percent}%"),
            Step::Weight { percent, bake } => {
                write!(f, "{percent}% for {}", humantime::format_duration(*bake))
            }
            Step::Pause => f.write_str("pause"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.steps.iter().map(Step::to_string).collect();
        f.write_str(&parts.join(" → "))
    }
}

/// Durations in JSON as humantime strings ("5m"), the same spelling as the environment file.
pub(crate) mod human_duration {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn weights(s: &Schedule) -> Vec<u16> {
        s.steps()
            .iter()
            .filter_map(|st| match st {
                Step::Weight { percent, .. } => Some(*percent),
                Step::Pause => None,
            })
            .collect()
    }

    #[test]
    fn expansions() {
        let table: Vec<(Strategy, Vec<u16>)> = vec![
            (Strategy::AllAtOnce, vec![100]),
            (
                Strategy::Canary {
                    percent: 10,
                    bake: secs(60),
                },
                vec![10, 100],
            ),
            (
                Strategy::Linear {
                    step: 25,
                    interval: secs(30),
                },
                vec![25, 50, 75, 100],
            ),
            (
                Strategy::Linear {
                    step: 30,
                    interval: secs(30),
                },
                vec![30, 60, 90, 100],
            ),
            (
                Strategy::Linear {
                    step: 100,
                    interval: secs(30),
                },
                vec![100],
            ),
        ];
        for (strategy, want) in table {
            let s = strategy.schedule().unwrap();
            assert_eq!(weights(&s), want, "{strategy:?}");
        }
    }

    #[test]
    fn linear_bakes_between_steps_but_not_after_the_last() {
        let s = Strategy::Linear {
            step: 50,
            interval: secs(10),
        }
        .schedule()
        .unwrap();
        assert_eq!(
            s.steps(),
            &[weight(50, secs(10)), weight(100, Duration::ZERO)]
        );
        assert_eq!(s.worst_case(secs(5)).total, secs(20));
        assert_eq!(s.to_string(), "50% for 10s → 100%");
    }

    #[test]
    fn impossible_schedules_are_rejected() {
        let bad: Vec<(Vec<Step>, &str)> = vec![
            (vec![], "no steps"),
            (
                vec![weight(0, secs(1)), weight(100, secs(0))],
                "outside 1–100",
            ),
            (vec![weight(101, secs(1))], "outside 1–100"),
            (
                vec![
                    weight(50, secs(1)),
                    weight(40, secs(1)),
                    weight(100, secs(0)),
                ],
                "does not increase",
            ),
            (
                vec![
                    weight(50, secs(1)),
                    weight(50, secs(1)),
                    weight(100, secs(0)),
                ],
                "does not increase",
            ),
            (
                vec![weight(10, secs(1)), weight(90, secs(1))],
                "not a weight of 100",
            ),
            (
                vec![weight(100, secs(1)), Step::Pause],
                "not a weight of 100",
            ),
        ];
        for (steps, want) in bad {
            let err = Schedule::new(steps.clone()).unwrap_err().to_string();
            assert!(err.contains(want), "{steps:?}: {err}");
        }
        for (strategy, want) in [
            (
                Strategy::Canary {
                    percent: 100,
                    bake: secs(1),
                },
                "1 to 99",
            ),
            (
                Strategy::Linear {
                    step: 0,
                    interval: secs(1),
                },
                "1 to 100",
            ),
        ] {
            let err = strategy.schedule().unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn pauses_count_apart_from_the_worst_case() {
        let s = Schedule::new(vec![
            Step::Pause,
            weight(10, secs(60)),
            Step::Pause,
            weight(100, Duration::ZERO),
        ])
        .unwrap();
        let w = s.worst_case(secs(30));
        assert_eq!(w.total, secs(120));
        assert_eq!(w.pauses, 2);
        assert_eq!(w.to_string(), "2m plus 2 pause(s) waiting for `promote`");
    }
}
