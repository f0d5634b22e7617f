//! Rollback's rules, pure: where traffic goes, and how strictly the target is judged.

use super::color::Color;
use super::health::service_stable;
use super::ports::ServiceState;
use super::verdict::Stage;

/// Where `rollback` puts traffic: the color asked for; else the journal's known-good color (an
/// interrupted deployment's starting color, or a failed restore's target) — even when the
/// routes are split; else the other color of a single live color. A split state with nothing
/// in the journal has no "other" color.
pub fn target_color(
    to: Option<Color>,
    known_good: Option<Color>,
    live: Option<Color>,
    split: bool,
) -> Result<Color, String> {
    match (to, known_good, live) {
        (Some(t), _, _) => Ok(t),
        (None, Some(good), _) => Ok(good),
        (None, None, Some(l)) if !split => Ok(l.other()),
        (None, None, Some(_)) => Err("the production routes disagree and no unfinished or \
             failed deployment in the journal names the known-good color"
            .into()),
        (None, None, None) => Err("no single color is live, so there is no \"other\" color".into()),
    }
}

/// How a rollback judges its target. A color still coming up — scaled up by this rollback, not
/// yet what the ECS signal calls stable ([`service_stable`]: running = desired, nothing
/// pending, one PRIMARY deployment), or with a rollout not yet `COMPLETED` — is judged as
/// [`Stage::Settling`]: a bad reading only means "not yet", and it is waited for within
/// `health.timeout`. A warm, steady color is judged as [`Stage::Watching`]: a bad reading
/// refuses the rollback at once.
pub fn judge_stage(service: &ServiceState, scaled_up: bool) -> Stage {
    let steady = service_stable(Some(service), service.desired, &service.task_definition).ok;
    let rolling_out = service
        .deployments
        .iter()
        .any(|d| d.rollout_state.as_deref().is_some_and(|s| s != "COMPLETED"));
    if scaled_up || !steady || rolling_out {
        Stage::Settling
    } else {
        Stage::Watching
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ports::ServiceDeployment;
    use Color::{Blue, Green};

    #[test]
    fn the_target_is_the_named_color_then_the_journals_known_good_then_the_other() {
        // (to, known good, live, split) → target
        type Case = (
            Option<Color>,
            Option<Color>,
            Option<Color>,
            bool,
            Result<Color, ()>,
        );
        let table: [Case; 8] = [
            (Some(Green), Some(Blue), Some(Blue), false, Ok(Green)),
            (Some(Blue), None, None, true, Ok(Blue)),
            // An interrupted deploy, or a failed restore, names where traffic was good.
            (None, Some(Blue), Some(Green), false, Ok(Blue)),
            // Issue 12, item 2: listeners restored to green, a rule still 20/80: the known-good
            // green, never "the other color" of the listener.
            (None, Some(Green), Some(Green), true, Ok(Green)),
            (None, Some(Blue), None, true, Ok(Blue)),
            (None, None, Some(Blue), false, Ok(Green)),
            (None, None, Some(Blue), true, Err(())),
            (None, None, None, false, Err(())),
        ];
        for (to, good, live, split, want) in table {
            let got = target_color(to, good, live, split).map_err(|_| ());
            assert_eq!(
                got, want,
                "to {to:?}, known good {good:?}, live {live:?}, split {split}"
            );
        }
    }

    fn service(
        desired: i32,
        running: i32,
        pending: i32,
        rollouts: &[Option<&str>],
    ) -> ServiceState {
        ServiceState {
            name: "app-blue".into(),
            status: "ACTIVE".into(),
            task_definition: "td:2".into(),
            desired,
            running,
            pending,
            deployments: rollouts
                .iter()
                .map(|r| ServiceDeployment {
                    status: "PRIMARY".into(),
                    task_definition: "td:2".into(),
                    desired,
                    running,
                    failed_tasks: 0,
                    rollout_state: r.map(str::to_string),
                })
                .collect(),
            target_groups: Vec::new(),
        }
    }

    #[test]
    fn a_color_still_coming_up_is_waited_for_and_a_steady_one_judged_at_once() {
        use Stage::{Settling, Watching};
        // (service, scaled up by this rollback) → stage
        let table = [
            (service(2, 2, 0, &[Some("COMPLETED")]), false, Watching),
            (service(2, 2, 0, &[None]), false, Watching),
            (service(2, 2, 0, &[Some("COMPLETED")]), true, Settling),
            (service(2, 1, 0, &[Some("COMPLETED")]), false, Settling),
            (service(2, 1, 1, &[None]), false, Settling),
            (service(2, 2, 0, &[Some("IN_PROGRESS")]), false, Settling),
            (service(2, 2, 0, &[None, None]), false, Settling),
        ];
        for (svc, scaled_up, want) in table {
            assert_eq!(
                judge_stage(&svc, scaled_up),
                want,
                "{svc:?}, scaled up {scaled_up}"
            );
        }
    }
}
