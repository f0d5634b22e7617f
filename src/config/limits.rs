//! The longest value each duration may take. A duration past its limit is almost always a typo
//! (`"100000000000d"`, `"5h"` for `"5m"`) and some are harmful: a lease that never runs out
//! keeps a dead holder's lock forever. The table is documented in docs/configuration.md
//! ("Limits"), and tests/docs.rs keeps the two in step.

use std::time::Duration;

const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest value of one duration field (or flag).
#[derive(Debug, Clone, Copy)]
pub struct DurationLimit {
    /// The field as messages name it; `*` stands for an `http` check's name and `[*]` for a
    /// step's index.
    pub field: &'static str,
    pub max: Duration,
    /// Why this limit, for the docs and the error.
    pub why: &'static str,
}

const fn limit(field: &'static str, max: Duration, why: &'static str) -> DurationLimit {
    DurationLimit { field, max, why }
}

/// Every duration of the environment file and the command line, with its limit.
pub const DURATION_LIMITS: [DurationLimit; 14] = [
    limit(
        "iac.lock_timeout",
        HOUR,
        "a Terraform state lock held longer belongs to a run that is stuck, which needs a person",
    ),
    limit(
        "health.timeout",
        Duration::from_secs(6 * 60 * 60),
        "an ECS service that is not stable after hours is stuck, not slow",
    ),
    limit(
        "health.poll_interval",
        Duration::from_secs(10 * 60),
        "a failing signal is noticed (and rolled back) within one poll interval",
    ),
    limit(
        "health.http.*.max_latency",
        Duration::from_secs(5 * 60),
        "it is also the request timeout of one probe",
    ),
    limit(
        "traffic.verify_timeout",
        Duration::from_secs(30 * 60),
        "a listener change shows within seconds; a rollback waits this long at most",
    ),
    limit(
        "strategy.bake",
        DAY,
        "one step of a deploy, watched while holding the environment's lock",
    ),
    limit(
        "strategy.interval",
        DAY,
        "one step of a deploy, watched while holding the environment's lock",
    ),
    limit(
        "strategy.steps[*].bake",
        DAY,
        "one step of a deploy, watched while holding the environment's lock",
    ),
    limit(
        "promotion.bake",
        DAY,
        "watched at 100 % while holding the environment's lock",
    ),
    limit(
        "promotion.termination_wait",
        DAY,
        "the old color waits at full size while the deploy holds the lock",
    ),
    limit(
        "journal.lease",
        HOUR,
        "a holder that died on another machine blocks the environment until its lease runs out",
    ),
    limit(
        "approval.wait",
        DAY,
        "the deploy waits holding the lock; past it, exit 10 and approve later",
    ),
    limit(
        "--lock-timeout",
        DAY,
        "a command waiting longer for the lock is better retried by its pipeline",
    ),
    limit(
        "--strategy",
        DAY,
        "each bake or interval, as for the `strategy` block",
    ),
];

/// The limit of `field` as messages name it (`health.http.smoke.max_latency`,
/// `strategy.steps[2].bake`), if it is a duration with one.
pub(crate) fn duration_limit(field: &str) -> Option<&'static DurationLimit> {
    let pattern = pattern_of(field);
    DURATION_LIMITS.iter().find(|l| l.field == pattern)
}

/// `health.http.<name>.x` → `health.http.*.x`; `[<index>]` → `[*]`.
fn pattern_of(field: &str) -> String {
    let field = match field.strip_prefix("health.http.") {
        Some(rest) => match rest.rsplit_once('.') {
            Some((_, attr)) => format!("health.http.*.{attr}"),
            None => field.to_owned(),
        },
        None => field.to_owned(),
    };
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// "1h", "24h", "10m": the limit as the docs and messages write it.
pub(crate) fn human_limit(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60 * 60) {
        format!("{}h", secs / (60 * 60))
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// "`journal.lease` is "2h", longer than its limit of 1h (why)".
pub(crate) fn too_long(field: &str, written: &str, limit: &DurationLimit) -> String {
    format!(
        "`{field}` is \"{written}\", longer than its limit of {} ({})",
        human_limit(limit.max),
        limit.why
    )
}

/// `Err(message)` when a flag's duration (`--lock-timeout 2d`) is longer than its limit.
pub fn check_flag_duration(flag: &str, written: &str, d: Duration) -> Result<(), String> {
    match duration_limit(flag) {
        Some(l) if d > l.max => Err(format!(
            "{flag} \"{written}\" is longer than its limit of {} ({}); write at most {}",
            human_limit(l.max),
            l.why,
            human_limit(l.max)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_find_their_pattern() {
        assert_eq!(
            pattern_of("health.http.smoke.max_latency"),
            "health.http.*.max_latency"
        );
        assert_eq!(
            pattern_of("strategy.steps[12].bake"),
            "strategy.steps[*].bake"
        );
        assert_eq!(pattern_of("journal.lease"), "journal.lease");
        assert_eq!(
            duration_limit("health.http.a-b_c.max_latency").map(|l| l.max),
            Some(Duration::from_secs(300))
        );
        assert!(duration_limit("health.http.smoke.url").is_none());
    }

    #[test]
    fn limits_are_whole_and_the_table_has_no_repeats() {
        let mut seen = std::collections::BTreeSet::new();
        for l in DURATION_LIMITS {
            assert!(seen.insert(l.field), "{} twice", l.field);
            assert_eq!(l.max.subsec_nanos(), 0, "{}", l.field);
            assert!(l.max >= Duration::from_secs(60), "{}", l.field);
        }
        assert_eq!(human_limit(HOUR), "1h");
        assert_eq!(human_limit(DAY), "24h");
        assert_eq!(human_limit(Duration::from_secs(600)), "10m");
        assert_eq!(human_limit(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn a_duration_past_its_limit_names_field_value_and_limit() {
        let lease = duration_limit("journal.lease").unwrap();
        let err = too_long("journal.lease", "100000000000d", lease);
        assert!(
            err.starts_with("`journal.lease` is \"100000000000d\", longer than its limit of 1h"),
            "{err}"
        );
        let err = check_flag_duration("--lock-timeout", "2d", 2 * DAY).unwrap_err();
        assert!(err.contains("--lock-timeout \"2d\""), "{err}");
        assert!(err.contains("limit of 24h"), "{err}");
        assert!(check_flag_duration("--lock-timeout", "24h", DAY).is_ok());
    }
}
