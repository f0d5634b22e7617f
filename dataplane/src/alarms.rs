//! Metric alarm evaluation as CloudWatch does it ("Alarm evaluation" and "Configuring how
//! CloudWatch alarms treat missing data" in the CloudWatch user guide), so an alarm defined in
//! the emulator changes state from the metrics the data plane publishes, with no hand flip.
//!
//! `evaluate` is pure: the alarm's rule, one value per period of the evaluation range (oldest
//! first, `None` = no datapoint), and the current state → the new state and a reason. The
//! loop that reads DescribeAlarms and GetMetricStatistics and calls SetAlarmState on a
//! transition is `run_alarms`.
//!
//! The rules, from the documentation:
//! - a datapoint is breaching when `value <op> threshold`;
//! - `DatapointsToAlarm` (M) of the last `EvaluationPeriods` (N) breaching → ALARM, else OK;
//! - the evaluation range is longer than N (the guide's example: 5 periods for N = 3; here
//!   N + 2). `notBreaching` / `breaching`: the last N periods, a missing one counted good / bad.
//!   `missing` / `ignore`: the real datapoints of the range are used, missing ones as few times
//!   as possible: with at least N real datapoints, the newest N decide; with fewer (but some),
//!   `missing` goes to ALARM when the real ones reach min(M, their count) breaching (the
//!   guide's row `- - X - -` → ALARM) and to OK otherwise, `ignore` keeps the current state
//!   where `missing` would go to ALARM and is OK otherwise; with none at all, `missing` →
//!   INSUFFICIENT_DATA, `ignore` keeps the state, `breaching` → ALARM, `notBreaching` → OK.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treat {
    Missing,
    Ignore,
    Breaching,
    NotBreaching,
}

impl Treat {
    pub fn parse(s: Option<&str>) -> Treat {
        match s {
            Some("ignore") => Treat::Ignore,
            Some("breaching") => Treat::Breaching,
            Some("notBreaching") => Treat::NotBreaching,
            _ => Treat::Missing, // the default, and "missing"
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterOrEqual,
    Greater,
    Less,
    LessOrEqual,
}

impl Comparison {
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            "GreaterThanOrEqualToThreshold" => Comparison::GreaterOrEqual,
            "GreaterThanThreshold" => Comparison::Greater,
            "LessThanThreshold" => Comparison::Less,
            "LessThanOrEqualToThreshold" => Comparison::LessOrEqual,
            _ => return None, // anomaly-detection bands: not evaluated here
        })
    }

    fn words(self) -> &'static str {
        match self {
            Comparison::GreaterOrEqual => "greater than or equal to",
            Comparison::Greater => "greater than",
            Comparison::Less => "less than",
            Comparison::LessOrEqual => "less than or equal to",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn parse(s: &str) -> AlarmState {
        match s {
            "ALARM" => AlarmState::Alarm,
            "OK" => AlarmState::Ok,
            _ => AlarmState::InsufficientData,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub threshold: f64,
    pub comparison: Comparison,
    /// N.
    pub evaluation_periods: usize,
    /// M (DatapointsToAlarm; N when not set).
    pub datapoints_to_alarm: usize,
    pub treat_missing: Treat,
}

impl Rule {
    /// How many periods are read: N + 2 (module docs).
    pub fn range(&self) -> usize {
        self.evaluation_periods + 2
    }

    fn breaches(&self, v: f64) -> bool {
        match self.comparison {
            Comparison::GreaterOrEqual => v >= self.threshold,
            Comparison::Greater => v > self.threshold,
            Comparison::Less => v < self.threshold,
            Comparison::LessOrEqual => v <= self.threshold,
        }
    }
}

/// The state the alarm should be in, and why. `values`: one per period of the evaluation range,
/// oldest first (`None`: no datapoint in that period).
pub fn evaluate(rule: &Rule, values: &[Option<f64>], current: AlarmState) -> (AlarmState, String) {
    let n = rule.evaluation_periods.max(1);
    let m = rule.datapoints_to_alarm.clamp(1, n);
    let real: Vec<f64> = values.iter().flatten().copied().collect();
    let describe = |used: &[f64], breaching: usize| {
        format!(
            "{breaching} out of the last {} datapoints {:?} {} {} the threshold ({}) (minimum {m} datapoint{} for OK -> ALARM transition).",
            used.len(),
            used,
            if breaching == 1 { "was" } else { "were" },
            rule.comparison.words(),
            rule.threshold,
            if m == 1 { "" } else { "s" },
        )
    };
    if real.is_empty() {
        let why = "no datapoints in the evaluation range".to_owned();
        return match rule.treat_missing {
            Treat::Missing => (AlarmState::InsufficientData, why),
            Treat::Ignore => (current, format!("{why}; missing data ignored")),
            Treat::Breaching => (AlarmState::Alarm, format!("{why}, treated as breaching")),
            Treat::NotBreaching => (AlarmState::Ok, format!("{why}, treated as not breaching")),
        };
    }
    match rule.treat_missing {
        Treat::Breaching | Treat::NotBreaching => {
            let fill = rule.treat_missing == Treat::Breaching;
            let last = &values[values.len().saturating_sub(n)..];
            let breaching = last
                .iter()
                .filter(|v| v.map_or(fill, |v| rule.breaches(v)))
                .count();
            let used: Vec<f64> = last.iter().flatten().copied().collect();
            let state = if breaching >= m {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
            (state, describe(&used, breaching))
        }
        Treat::Missing | Treat::Ignore => {
            let used = &real[real.len().saturating_sub(n)..];
            let breaching = used.iter().filter(|v| rule.breaches(**v)).count();
            let alarm = if used.len() >= n {
                breaching >= m
            } else {
                breaching >= m.min(used.len())
            };
            let state = match (alarm, rule.treat_missing, used.len() >= n) {
                (false, ..) => AlarmState::Ok,
                (true, Treat::Ignore, false) => current,
                (true, ..) => AlarmState::Alarm,
            };
            (state, describe(used, breaching))
        }
    }
}

/// The start of each period of the evaluation range, oldest first: `range` periods of
/// `period`, aligned to multiples of the period since the epoch, the newest ending at or
/// before `now - settle` (a period counts once the data plane has published all of it).
pub fn windows(
    now: SystemTime,
    period: Duration,
    range: usize,
    settle: Duration,
) -> Vec<SystemTime> {
    let p = period.as_secs().max(1);
    let t = now
        .checked_sub(settle)
        .unwrap_or(now)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let end = t / p * p;
    (1..=range as u64)
        .rev()
        .map(|i| SystemTime::UNIX_EPOCH + Duration::from_secs(end.saturating_sub(i * p)))
        .collect()
}

/// Every `every`: each metric alarm of the emulator (DescribeAlarms) is evaluated against the
/// emulator's CloudWatch (one GetMetricStatistics per period of its range, so periods are
/// aligned as CloudWatch aligns them, which moto's own bucketing does not), and SetAlarmState
/// is called on a transition. Alarms on metric math or percentiles, and anomaly-detection
/// comparisons, are left alone (logged once).
pub async fn run_alarms(cw: aws_sdk_cloudwatch::Client, every: Duration, settle: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut skipped = std::collections::BTreeSet::new();
    loop {
        tick.tick().await;
        if let Err(e) = evaluate_all(&cw, settle, &mut skipped).await {
            crate::run::say(&format!("alarm evaluation failed: {e}"));
        }
    }
}

async fn evaluate_all(
    cw: &aws_sdk_cloudwatch::Client,
    settle: Duration,
    skipped: &mut std::collections::BTreeSet<String>,
) -> Result<(), crate::emulator::Error> {
    use aws_sdk_cloudwatch::types::{StateValue, Statistic};
    let mut alarms = Vec::new();
    let mut token = None;
    loop {
        let out = cw
            .describe_alarms()
            .set_next_token(token)
            .max_records(100)
            .send()
            .await?;
        alarms.extend(out.metric_alarms().iter().cloned());
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for a in alarms {
        let name = a.alarm_name().unwrap_or_default().to_owned();
        let comparison = a
            .comparison_operator()
            .and_then(|c| Comparison::parse(c.as_str()));
        let (Some(metric), Some(namespace), Some(statistic), Some(comparison), Some(period)) = (
            a.metric_name(),
            a.namespace(),
            a.statistic().cloned(),
            comparison,
            a.period().filter(|p| *p > 0),
        ) else {
            if skipped.insert(name.clone()) {
                crate::run::say(&format!(
                    "alarm {name}: not evaluated here (metric math, a percentile or an anomaly band)"
                ));
            }
            continue;
        };
        let n = usize::try_from(a.evaluation_periods().unwrap_or(1)).unwrap_or(1);
        let rule = Rule {
            threshold: a.threshold().unwrap_or(0.0),
            comparison,
            evaluation_periods: n,
            datapoints_to_alarm: a
                .datapoints_to_alarm()
                .and_then(|m| usize::try_from(m).ok())
                .unwrap_or(n),
            treat_missing: Treat::parse(a.treat_missing_data()),
        };
        let period_d = Duration::from_secs(u64::try_from(period).unwrap_or(60));
        let starts = windows(SystemTime::now(), period_d, rule.range(), settle);
        let mut values = Vec::new();
        for start in starts {
            let out = cw
                .get_metric_statistics()
                .namespace(namespace)
                .metric_name(metric)
                .set_dimensions(Some(a.dimensions().to_vec()))
                .start_time(start.into())
                .end_time((start + period_d).into())
                .period(period)
                .statistics(statistic.clone())
                .send()
                .await?;
            let value = out.datapoints().first().and_then(|d| match statistic {
                Statistic::Sum => d.sum(),
                Statistic::Average => d.average(),
                Statistic::Maximum => d.maximum(),
                Statistic::Minimum => d.minimum(),
                Statistic::SampleCount => d.sample_count(),
                _ => None,
            });
            values.push(value);
        }
        let current = AlarmState::parse(a.state_value().map_or("", |s| s.as_str()));
        let (next, why) = evaluate(&rule, &values, current);
        if next == current {
            continue;
        }
        let reason = format!("Threshold Crossed: {why}");
        crate::run::say(&format!(
            "alarm {name}: {} -> {} ({reason})",
            current.as_str(),
            next.as_str()
        ));
        cw.set_alarm_state()
            .alarm_name(&name)
            .state_value(StateValue::from(next.as_str()))
            .state_reason(reason)
            .send()
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlarmState::*;

    /// The user guide's example: 3 of 3, threshold "X" = breaching. Values: 0 good, 1 bad.
    fn three_of_three(treat: Treat) -> Rule {
        Rule {
            threshold: 0.5,
            comparison: Comparison::Greater,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            treat_missing: treat,
        }
    }

    /// Parses the guide's notation: `0` good, `X` breaching, `-` missing (oldest first).
    fn points(s: &str) -> Vec<Option<f64>> {
        s.split_whitespace()
            .map(|p| match p {
                "0" => Some(0.0),
                "X" => Some(1.0),
                _ => None,
            })
            .collect()
    }

    /// The table "How alarm state is evaluated when data is missing" of the CloudWatch user
    /// guide (3 of 3, evaluation range 5): rows of (data points, MISSING, IGNORE, BREACHING,
    /// NOT BREACHING). `None` in the IGNORE column: "retain current state".
    #[test]
    fn the_guides_missing_data_table() {
        let rows: [(&str, AlarmState, Option<AlarmState>, AlarmState, AlarmState); 5] = [
            ("0 - X - X", Ok, Some(Ok), Alarm, Ok),
            ("- - - - 0", Ok, Some(Ok), Ok, Ok),
            ("- - - - -", InsufficientData, None, Alarm, Ok),
            ("0 X X - X", Alarm, Some(Alarm), Alarm, Ok),
            ("- - X - -", Alarm, None, Alarm, Ok),
        ];
        for (data, missing, ignore, breaching, not_breaching) in rows {
            let v = points(data);
            let got = |t: Treat, current: AlarmState| evaluate(&three_of_three(t), &v, current).0;
            assert_eq!(got(Treat::Missing, Ok), missing, "{data}: missing");
            assert_eq!(got(Treat::Breaching, Ok), breaching, "{data}: breaching");
            assert_eq!(
                got(Treat::NotBreaching, Alarm),
                not_breaching,
                "{data}: notBreaching"
            );
            for current in [Ok, Alarm, InsufficientData] {
                assert_eq!(
                    got(Treat::Ignore, current),
                    ignore.unwrap_or(current),
                    "{data}: ignore from {current:?}"
                );
            }
        }
    }

    #[test]
    fn m_of_n_needs_m_breaching_datapoints_not_consecutive() {
        let rule = Rule {
            threshold: 10.0,
            comparison: Comparison::GreaterOrEqual,
            evaluation_periods: 5,
            datapoints_to_alarm: 2,
            treat_missing: Treat::Missing,
        };
        let v = |xs: &[f64]| xs.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        assert_eq!(
            evaluate(&rule, &v(&[0., 0., 10., 0., 0., 0., 9.]), Ok).0,
            Ok
        );
        assert_eq!(
            evaluate(&rule, &v(&[0., 0., 10., 0., 0., 12., 9.]), Ok).0,
            Alarm
        );
        // The older breach left the last 5.
        assert_eq!(
            evaluate(&rule, &v(&[12., 10., 0., 0., 0., 0., 0.]), Alarm).0,
            Ok
        );
    }

    #[test]
    fn comparisons_and_the_reason() {
        let mut rule = Rule {
            threshold: 5.0,
            comparison: Comparison::Greater,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            treat_missing: Treat::NotBreaching,
        };
        let (s, why) = evaluate(&rule, &[None, None, Some(12.0)], Ok);
        assert_eq!(s, Alarm);
        assert!(
            why.contains(
                "1 out of the last 1 datapoints [12.0] was greater than the threshold (5)"
            ),
            "{why}"
        );
        assert_eq!(evaluate(&rule, &[None, None, Some(5.0)], Alarm).0, Ok);
        rule.comparison = Comparison::GreaterOrEqual;
        assert_eq!(evaluate(&rule, &[None, None, Some(5.0)], Ok).0, Alarm);
        rule.comparison = Comparison::Less;
        assert_eq!(evaluate(&rule, &[Some(4.0)], Ok).0, Alarm);
        rule.comparison = Comparison::LessOrEqual;
        assert_eq!(evaluate(&rule, &[Some(5.5)], Alarm).0, Ok);
        assert_eq!(
            Comparison::parse("LessThanLowerOrGreaterThanUpperThreshold"),
            None
        );
        assert_eq!(Treat::parse(None), Treat::Missing);
        assert_eq!(Treat::parse(Some("notBreaching")), Treat::NotBreaching);
    }

    #[test]
    fn windows_are_aligned_complete_periods() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_025_500);
        let w = windows(now, Duration::from_secs(10), 3, Duration::from_secs(1));
        let secs: Vec<u64> = w
            .iter()
            .map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
            .collect();
        // now - 1 s = 1_000_024.5 → the newest complete period is [1_000_010, 1_000_020).
        assert_eq!(secs, vec![999_990, 1_000_000, 1_000_010]);
    }
}
