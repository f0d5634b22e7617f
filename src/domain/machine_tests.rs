use super::*;
use crate::domain::color::Color;
use crate::domain::spec::Gate;
use crate::domain::verdict::NoData;
use crate::domain::verdict::Status;
use proptest::prelude::*;

const S: Duration = Duration::from_secs(1);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn w(p: u16) -> Step {
    Step::Weight {
        percent: p,
        bake: Duration::ZERO,
    }
}

fn wb(p: u16, bake: u64) -> Step {
    Step::Weight {
        percent: p,
        bake: secs(bake),
    }
}

fn plan(steps: Vec<Step>) -> DeploymentSpec {
    DeploymentSpec {
        image: "app:2".into(),
        image_requested: None,
        old: Some(Color::Blue),
        new: Color::Green,
        strategy: "steps".into(),
        schedule: Schedule::new(steps).unwrap(),
        health_timeout: secs(10),
        poll_interval: S,
        post_bake: secs(5),
        termination_wait: secs(10),
        scale_down: true,
        desired: 2,
        approval: Gate::default(),
        signals: vec![],
        until: None,
    }
}

fn ok() -> Event {
    Event::Signals(vec![
        Reading::new("ecs-service", Status::Ok, "running 2/2"),
        Reading::new("alarm:app-green-5xx", Status::Ok, "OK"),
    ])
}

fn alarm() -> Event {
    Event::Signals(vec![
        Reading::new("ecs-service", Status::Ok, "running 2/2"),
        Reading::new("alarm:app-green-5xx", Status::Failing, "ALARM (5xx > 1%)"),
    ])
}

fn no_data(policy: NoData) -> Event {
    Event::Signals(vec![
        Reading::new("ecs-service", Status::Ok, "running 2/2"),
        Reading::new(
            "alarm:app-green-5xx",
            Status::NoData,
            "alarm does not exist",
        )
        .with_no_data(policy),
    ])
}

fn ws(blue: u16, green: u16) -> Weights {
    Weights { blue, green }
}

fn set_weights(actions: &[Action]) -> Vec<Weights> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SetWeights(w) => Some(*w),
            _ => None,
        })
        .collect()
}

/// Feeds `ok` signals every second (answering weight changes at once) until the machine is
/// done or `limit` seconds pass; returns every weight it asked for and the end time.
fn run_healthy(m: &mut Machine, mut now: Duration, limit: u64) -> (Vec<Weights>, Duration) {
    let mut asked = Vec::new();
    let end = now + secs(limit);
    let mut pending = vec![ok()];
    while now < end && m.outcome().is_none() {
        let Some(event) = pending.pop() else {
            now += S;
            pending.push(ok());
            continue;
        };
        for a in m.handle(event, now) {
            match a {
                Action::SetWeights(w) => {
                    asked.push(w);
                    pending.push(Event::WeightsVerified(w));
                }
                Action::ScaleDown(_) => pending.push(Event::ScaledDown),
                Action::Restore => pending.push(Event::Restored),
                Action::Note(_) => {}
            }
        }
    }
    (asked, now)
}

#[test]
fn canary_walks_the_schedule_then_bakes_then_scales_down() {
    let mut m = Machine::new(plan(vec![wb(10, 30), w(100)]));
    let (asked, end) = run_healthy(&mut m, Duration::ZERO, 120);
    assert_eq!(asked, vec![ws(90, 10), ws(0, 100)]);
    assert_eq!(
        m.outcome(),
        Some(&Outcome::Promoted {
            scaled_down: true,
            scale_down_error: None
        })
    );
    // 30 s bake + 5 s post-bake + 10 s termination wait, each ending on a poll.
    assert!(end >= secs(45) && end <= secs(48), "{end:?}");
}

#[test]
fn linear_asks_for_every_step_in_order() {
    let p = plan(
        crate::domain::Strategy::Linear {
            step: 30,
            interval: secs(2),
        }
        .schedule()
        .unwrap()
        .steps()
        .to_vec(),
    );
    let mut m = Machine::new(p);
    let (asked, _) = run_healthy(&mut m, Duration::ZERO, 120);
    assert_eq!(asked, vec![ws(70, 30), ws(40, 60), ws(10, 90), ws(0, 100)]);
}

#[test]
fn a_bake_does_not_end_before_its_time() {
    let mut m = Machine::new(plan(vec![wb(10, 30), w(100)]));
    assert_eq!(set_weights(&m.handle(ok(), secs(0))), vec![ws(90, 10)]);
    assert!(m.handle(Event::WeightsVerified(ws(90, 10)), secs(1)).len() == 1);
    for t in 2..31 {
        assert!(set_weights(&m.handle(ok(), secs(t))).is_empty(), "t={t}");
    }
    assert_eq!(set_weights(&m.handle(ok(), secs(31))), vec![ws(0, 100)]);
}

#[test]
fn an_alarm_in_the_second_step_rolls_back_in_one_change() {
    let mut m = Machine::new(plan(vec![wb(10, 5), wb(50, 30), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    assert_eq!(set_weights(&m.handle(ok(), secs(6))), vec![ws(50, 50)]);
    m.handle(Event::WeightsVerified(ws(50, 50)), secs(6));
    let actions = m.handle(alarm(), secs(8));
    assert!(actions.contains(&Action::Restore), "{actions:?}");
    assert!(set_weights(&actions).is_empty());
    m.handle(Event::Restored, secs(8));
    let Some(Outcome::RolledBack { failure }) = m.outcome() else {
        panic!("{:?}", m.phase())
    };
    assert_eq!(failure.signal, "alarm:app-green-5xx");
    assert!(failure.observed.contains("ALARM"));
    assert!(
        failure.during.starts_with("step 2 of 3"),
        "{}",
        failure.during
    );
}

#[test]
fn a_rollback_that_cannot_be_verified_is_loud() {
    let mut m = Machine::new(plan(vec![wb(10, 5), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    m.handle(alarm(), secs(1));
    m.handle(Event::RestoreFailed("listener reads 90/10".into()), secs(2));
    assert!(matches!(
        m.outcome(),
        Some(Outcome::RollbackFailed { error, .. }) if error.contains("90/10")
    ));
}

#[test]
fn weights_that_never_verify_roll_back() {
    let mut m = Machine::new(plan(vec![wb(10, 5), w(100)]));
    m.handle(ok(), secs(0));
    let a = m.handle(Event::WeightsFailed("not converged".into()), secs(20));
    assert!(a.contains(&Action::Restore));
    m.handle(Event::Restored, secs(21));
    assert!(matches!(
        m.outcome(),
        Some(Outcome::RolledBack { failure }) if failure.signal == "traffic"
    ));
    // A read-back of other weights than asked is the same failure.
    let mut m = Machine::new(plan(vec![wb(10, 5), w(100)]));
    m.handle(ok(), secs(0));
    assert!(m
        .handle(Event::WeightsVerified(ws(80, 20)), secs(1))
        .contains(&Action::Restore));
}

#[test]
fn a_pause_holds_until_promote() {
    let mut m = Machine::new(plan(vec![wb(10, 0), Step::Pause, w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    assert!(matches!(m.phase(), Phase::Paused { step: 1 }));
    for t in 1..1000 {
        assert!(set_weights(&m.handle(ok(), secs(t))).is_empty());
    }
    assert_eq!(
        set_weights(&m.handle(Event::Promote, secs(1000))),
        vec![ws(0, 100)]
    );
    // A failing signal during the pause still rolls back.
    let mut m = Machine::new(plan(vec![w(10), Step::Pause, w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    assert!(m.handle(alarm(), secs(3)).contains(&Action::Restore));
}

#[test]
fn promote_outside_a_pause_does_nothing() {
    let mut m = Machine::new(plan(vec![wb(10, 60), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    assert!(m.handle(Event::Promote, secs(1)).is_empty());
    assert!(matches!(m.phase(), Phase::Baking { step: 0, .. }));
}

#[test]
fn no_data_policies() {
    // fail: at once while watching.
    let mut m = Machine::new(plan(vec![wb(10, 60), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    assert!(m
        .handle(no_data(NoData::Fail), secs(1))
        .contains(&Action::Restore));

    // pass: the bake ends as if the signal were fine.
    let mut m = Machine::new(plan(vec![wb(10, 5), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    assert_eq!(
        set_weights(&m.handle(no_data(NoData::Pass), secs(6))),
        vec![ws(0, 100)]
    );

    // wait: holds the step, then fails once the health timeout (10 s) has passed.
    let mut m = Machine::new(plan(vec![wb(10, 5), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    for t in 1..11 {
        let a = m.handle(no_data(NoData::Wait), secs(t));
        assert!(a.is_empty(), "t={t}: {a:?}");
    }
    let a = m.handle(no_data(NoData::Wait), secs(11));
    assert!(a.contains(&Action::Restore), "{a:?}");
}

#[test]
fn settling_waits_for_every_signal_then_times_out() {
    let mut m = Machine::new(plan(vec![w(100)]));
    for t in 0..10 {
        assert!(m.handle(alarm(), secs(t)).is_empty(), "t={t}");
    }
    assert!(m.handle(alarm(), secs(10)).contains(&Action::Restore));
    m.handle(Event::Restored, secs(10));
    assert!(matches!(
        m.outcome(),
        Some(Outcome::RolledBack { failure }) if failure.during.contains("before any production")
    ));
}

#[test]
fn first_deploy_is_all_at_once_and_scales_nothing_down() {
    let mut p = plan(vec![wb(10, 30), w(100)]);
    p.old = None;
    let mut m = Machine::new(p);
    let (asked, _) = run_healthy(&mut m, Duration::ZERO, 60);
    assert_eq!(asked, vec![ws(0, 100)]);
    assert_eq!(
        m.outcome(),
        Some(&Outcome::Promoted {
            scaled_down: false,
            scale_down_error: None
        })
    );
}

#[test]
fn keep_warm_never_scales_down() {
    let mut p = plan(vec![w(100)]);
    p.scale_down = false;
    let mut m = Machine::new(p);
    run_healthy(&mut m, Duration::ZERO, 60);
    assert!(matches!(
        m.outcome(),
        Some(Outcome::Promoted {
            scaled_down: false,
            ..
        })
    ));
}

#[test]
fn a_failure_in_the_termination_wait_rolls_back_before_any_scale_down() {
    let mut m = Machine::new(plan(vec![w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(0, 100)), secs(0));
    m.handle(ok(), secs(6)); // post-bake done → termination wait until 16 s
    assert!(matches!(m.phase(), Phase::TerminationWait { .. }));
    let a = m.handle(alarm(), secs(9));
    assert!(a.contains(&Action::Restore));
    assert!(!a.iter().any(|a| matches!(a, Action::ScaleDown(_))));
}

#[test]
fn scale_down_waits_for_the_termination_wait() {
    let mut m = Machine::new(plan(vec![w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(0, 100)), secs(0));
    m.handle(ok(), secs(5));
    for t in 6..15 {
        assert!(
            !m.handle(ok(), secs(t))
                .iter()
                .any(|a| matches!(a, Action::ScaleDown(_))),
            "t={t}"
        );
    }
    assert!(m
        .handle(ok(), secs(15))
        .contains(&Action::ScaleDown(Color::Blue)));
    m.handle(Event::ScaleDownFailed("throttled".into()), secs(16));
    assert!(matches!(
        m.outcome(),
        Some(Outcome::Promoted { scaled_down: false, scale_down_error: Some(e) }) if e == "throttled"
    ));
}

#[test]
fn an_operator_rollback_or_a_foreign_change_stops_the_machine() {
    let mut m = Machine::new(plan(vec![wb(10, 60), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    // Moved back to the old color: bluegreen writes the restore itself and reads it back
    // before it calls the deploy rolled back (issue 12, item 3).
    let actions = m.handle(Event::ExternalChange(ws(100, 0)), secs(3));
    assert!(actions.contains(&Action::Restore), "{actions:?}");
    assert_eq!(m.outcome(), None);
    m.handle(Event::Restored, secs(4));
    assert!(matches!(
        m.outcome(),
        Some(Outcome::RolledBack { failure }) if failure.signal == "operator"
    ));

    let mut m = Machine::new(plan(vec![wb(10, 60), w(100)]));
    m.handle(ok(), secs(0));
    m.handle(Event::WeightsVerified(ws(90, 10)), secs(0));
    m.handle(Event::ExternalChange(ws(70, 30)), secs(3));
    assert_eq!(
        m.outcome(),
        Some(&Outcome::Abandoned {
            observed: ws(70, 30)
        })
    );
    assert!(m.handle(ok(), secs(100)).is_empty());

    let mut m = Machine::new(plan(vec![wb(10, 60), w(100)]));
    m.handle(ok(), secs(0));
    assert!(m
        .handle(Event::RollbackRequested("interrupted".into()), secs(1))
        .contains(&Action::Restore));
}

// ---- properties ----

/// What the simulated world does next.
#[derive(Debug, Clone)]
enum World {
    /// Signals: 0 all ok, 1 a failing alarm, 2..=4 no data with fail/pass/wait.
    Signals(u8, u64),
    Promote,
    Rollback,
    /// Make the next weight change / restore / scale-down fail.
    Break,
}

fn world() -> impl Strategy<Value = World> {
    prop_oneof![
        6 => (0u8..5, 0u64..8).prop_map(|(k, dt)| World::Signals(k, dt)),
        1 => Just(World::Promote),
        1 => Just(World::Rollback),
        1 => Just(World::Break),
    ]
}

fn schedule() -> impl Strategy<Value = Vec<Step>> {
    (
        proptest::collection::btree_set(1u16..100, 0..5),
        proptest::collection::vec(any::<bool>(), 6),
        proptest::collection::vec(0u64..6, 6),
    )
        .prop_map(|(weights, pauses, bakes)| {
            let mut steps = Vec::new();
            for (i, p) in weights.into_iter().chain([100]).enumerate() {
                if pauses[i] {
                    steps.push(Step::Pause);
                }
                steps.push(wb(p, bakes[i]));
            }
            steps
        })
}

fn signals(kind: u8) -> (Event, bool) {
    match kind {
        0 => (ok(), false),
        1 => (alarm(), true),
        2 => (no_data(NoData::Fail), true),
        3 => (no_data(NoData::Pass), false),
        _ => (no_data(NoData::Wait), false),
    }
}

fn new_weight(w: Weights) -> u16 {
    w.green
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn invariants_hold_whatever_happens(
        steps in schedule(),
        script in proptest::collection::vec(world(), 0..60),
        first_deploy in any::<bool>(),
        scale_down in any::<bool>(),
    ) {
        let mut p = plan(steps);
        p.scale_down = scale_down;
        if first_deploy { p.old = None; }
        let mut m = Machine::new(p);
        let mut now = Duration::ZERO;
        let mut highest = 0u16;
        let mut failed = false;      // a failure reached the machine while it was acting
        let mut broken = false;      // the next effect fails
        let mut restore_failed = false;
        let mut scaled_down = false;
        let mut queue: Vec<Event> = Vec::new();
        let mut script = script.into_iter();
        // Enough polls after the script for any schedule to finish (pauses get a promote).
        for tick in 0..400 {
            let event = if let Some(e) = queue.pop() {
                e
            } else if let Some(step) = script.next() {
                match step {
                    World::Signals(kind, dt) => {
                        now += secs(dt);
                        let (e, bad) = signals(kind);
                        if bad && m.is_watching() && !matches!(m.phase(), Phase::Settling) {
                            failed = true;
                        }
                        e
                    }
                    World::Promote => Event::Promote,
                    World::Rollback => {
                        if m.outcome().is_none()
                            && !matches!(m.phase(), Phase::RollingBack { .. } | Phase::ScalingDown)
                        {
                            failed = true;
                        }
                        Event::RollbackRequested("asked".into())
                    }
                    World::Break => { broken = true; continue; }
                }
            } else if matches!(m.phase(), Phase::Paused { .. }) && tick % 2 == 0 {
                Event::Promote
            } else {
                now += S;
                ok()
            };
            let was_watching_fail = matches!(&event, Event::Signals(r)
                if r.iter().any(|r| verdict(r, Stage::Watching) == Verdict::Fail))
                && m.is_watching() && !matches!(m.phase(), Phase::Settling);
            let actions = m.handle(event, now);
            if was_watching_fail {
                prop_assert!(set_weights(&actions).is_empty(), "weights moved on a failing signal");
            }
            for a in actions {
                match a {
                    Action::SetWeights(w) => {
                        prop_assert!(!failed, "weights moved after a failure: {w}");
                        if m.spec().old.is_some() {
                            prop_assert_eq!(w.blue + w.green, 100, "{}", w);
                        }
                        prop_assert!(new_weight(w) > highest, "weights must only increase");
                        highest = new_weight(w);
                        queue.push(if std::mem::take(&mut broken) {
                            failed = true;
                            Event::WeightsFailed("never converged".into())
                        } else {
                            Event::WeightsVerified(w)
                        });
                    }
                    Action::Restore => queue.push(if std::mem::take(&mut broken) {
                        restore_failed = true;
                        Event::RestoreFailed("still wrong".into())
                    } else {
                        Event::Restored
                    }),
                    Action::ScaleDown(c) => {
                        prop_assert_eq!(Some(c), m.spec().old);
                        prop_assert_eq!(highest, 100, "scaled down before 100%");
                        prop_assert!(!failed);
                        scaled_down = true;
                        queue.push(Event::ScaledDown);
                    }
                    Action::Note(_) => {}
                }
            }
            if m.outcome().is_some() && queue.is_empty() { break; }
        }
        let outcome = m.outcome().cloned();
        prop_assert!(outcome.is_some(), "did not finish: {:?}", m.phase());
        match outcome.unwrap() {
            Outcome::Promoted { scaled_down: s, .. } => {
                prop_assert!(!failed, "a failure ended promoted");
                prop_assert_eq!(highest, 100);
                prop_assert_eq!(s, scaled_down);
            }
            Outcome::RolledBack { .. } => prop_assert!(!restore_failed),
            Outcome::RollbackFailed { .. } => prop_assert!(restore_failed),
            Outcome::Abandoned { .. } => prop_assert!(false, "no foreign change was injected"),
            Outcome::AwaitingApproval | Outcome::Stopped { .. } => {
                prop_assert!(false, "no gate and no --until were planned")
            }
        }
    }
}

#[test]
fn resume_mid_schedule_re_bakes_the_verified_step_in_full_then_continues() {
    let p = plan(vec![wb(10, 4), wb(50, 4), w(100)]);
    let mut m = Machine::resume(p, Checkpoint::Baking { step: 0 }, secs(100));
    assert_eq!(m.last_verified(), Some(ws(90, 10)));
    // The bake restarts: 3 s in, still baking, nothing asked for.
    assert!(set_weights(&m.handle(ok(), secs(103))).is_empty());
    let (asked, _) = run_healthy(&mut m, secs(104), 60);
    assert_eq!(asked, vec![ws(50, 50), ws(0, 100)]);
    assert!(matches!(
        m.outcome(),
        Some(Outcome::Promoted {
            scaled_down: true,
            ..
        })
    ));
}

#[test]
fn resume_at_a_pause_waits_for_promote_and_a_failure_still_rolls_back() {
    let p = plan(vec![w(20), Step::Pause, w(100)]);
    let mut m = Machine::resume(p.clone(), Checkpoint::Paused { step: 1 }, secs(0));
    assert!(m.handle(ok(), secs(50)).is_empty());
    assert_eq!(
        set_weights(&m.handle(Event::Promote, secs(51))),
        vec![ws(0, 100)]
    );

    let mut m = Machine::resume(p, Checkpoint::Paused { step: 1 }, secs(0));
    let actions = m.handle(alarm(), secs(1));
    assert!(actions.contains(&Action::Restore), "{actions:?}");
}

#[test]
fn resume_after_promotion_bakes_again_and_a_started_scale_down_is_redone() {
    let p = plan(vec![w(50), w(100)]);
    let mut m = Machine::resume(p.clone(), Checkpoint::PostBake, secs(0));
    assert!(m.handle(ok(), secs(4)).is_empty());
    let (asked, _) = run_healthy(&mut m, secs(5), 60);
    assert!(asked.is_empty(), "no weight moves after 100 %: {asked:?}");
    assert!(matches!(
        m.outcome(),
        Some(Outcome::Promoted {
            scaled_down: true,
            ..
        })
    ));

    let mut m = Machine::resume(
        p,
        Checkpoint::TerminationWait {
            scale_down_started: true,
        },
        secs(0),
    );
    assert_eq!(
        m.handle(ok(), secs(0)),
        vec![Action::ScaleDown(Color::Blue)]
    );
}

#[test]
fn resume_of_a_first_deploy_stays_all_at_once() {
    let mut p = plan(vec![w(10), w(100)]);
    p.old = None;
    let m = Machine::resume(p, Checkpoint::PostBake, secs(0));
    assert_eq!(m.spec().schedule.steps().len(), 1);
    assert_eq!(m.last_verified(), Some(ws(0, 100)));
}

#[test]
fn the_approval_gate_holds_production_traffic_until_approved() {
    let mut p = plan(vec![wb(10, 5), w(100)]);
    p.approval = Gate::required(secs(60));
    let mut m = Machine::new(p);
    let a = m.handle(ok(), secs(1));
    assert!(a.contains(&Action::Note(Note::AwaitingApproval(secs(60)))));
    assert!(set_weights(&a).is_empty());
    assert!(matches!(m.phase(), Phase::AwaitingApproval { .. }));
    // Signals keep being watched; no weight moves while waiting.
    for t in 2..30 {
        assert!(set_weights(&m.handle(ok(), secs(t))).is_empty());
    }
    let a = m.handle(Event::Approved, secs(30));
    assert_eq!(set_weights(&a), vec![ws(90, 10)]);
    // A second approval or a promote changes nothing.
    assert!(m.handle(Event::Approved, secs(30)).is_empty());
}

#[test]
fn an_unapproved_gate_stops_the_process_after_its_wait_and_a_failure_rolls_back() {
    let mut p = plan(vec![w(100)]);
    p.approval = Gate::required(secs(10));
    let mut m = Machine::new(p.clone());
    m.handle(ok(), secs(1));
    assert!(m.handle(ok(), secs(10)).is_empty());
    m.handle(ok(), secs(11));
    assert_eq!(m.outcome(), Some(&Outcome::AwaitingApproval));

    // A zero wait stops at once.
    p.approval = Gate::required(Duration::ZERO);
    let mut m = Machine::new(p.clone());
    m.handle(ok(), secs(1));
    assert_eq!(m.outcome(), Some(&Outcome::AwaitingApproval));

    // A failing signal at the gate rolls back (production never moved).
    p.approval = Gate::required(secs(60));
    let mut m = Machine::new(p);
    m.handle(ok(), secs(1));
    let a = m.handle(alarm(), secs(2));
    assert!(a.contains(&Action::Restore));
    assert!(set_weights(&a).is_empty());
}

#[test]
fn until_stops_at_test_traffic_before_the_gate_and_at_a_weight_after_its_bake() {
    let mut p = plan(vec![wb(10, 5), wb(50, 5), w(100)]);
    p.until = Some(Until::TestTraffic);
    p.approval = Gate::required(secs(60));
    let mut m = Machine::new(p.clone());
    let a = m.handle(ok(), secs(1));
    assert!(set_weights(&a).is_empty());
    assert_eq!(
        m.outcome(),
        Some(&Outcome::Stopped {
            at: Until::TestTraffic
        })
    );

    p.approval = Gate::default();
    p.until = Some(Until::Weight(50));
    let mut m = Machine::new(p);
    let (asked, end) = run_healthy(&mut m, Duration::ZERO, 120);
    assert_eq!(asked, vec![ws(90, 10), ws(50, 50)]);
    assert_eq!(
        m.outcome(),
        Some(&Outcome::Stopped {
            at: Until::Weight(50)
        })
    );
    // Both bakes ran in full before stopping.
    assert!(end >= secs(10), "{end:?}");
}

#[test]
fn until_parses_and_must_be_on_the_schedule() {
    assert_eq!(Until::parse("test-traffic"), Ok(Until::TestTraffic));
    assert_eq!(Until::parse("weight:25"), Ok(Until::Weight(25)));
    assert_eq!(Until::parse("25%"), Ok(Until::Weight(25)));
    for bad in ["weight:0", "weight:101", "weight:x", "halfway", ""] {
        assert!(Until::parse(bad).is_err(), "{bad}");
    }
    let sched = Schedule::new(vec![wb(10, 5), Step::Pause, w(100)]).unwrap();
    assert!(Until::Weight(10).check(&sched).is_ok());
    assert!(Until::Weight(100).check(&sched).is_ok());
    let e = Until::Weight(50).check(&sched).unwrap_err();
    assert!(e.contains("10%, 100%"), "{e}");
    assert!(Until::TestTraffic.check(&sched).is_ok());
}
