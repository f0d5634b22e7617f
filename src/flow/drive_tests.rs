//! The driver against a scripted fake of the ports ([`crate::flow::fakes`]) in tokio's virtual
//! time, with a real `Ctx` (a minimal `bluegreen.hcl` in a temp directory, a reporter that keeps
//! its events) and a real session (the lock and the journal on the local backend, in the same
//! temp directory). Blue is live; the deploy moves traffic to green.

use super::*;
use crate::config;
use crate::domain::{DeploymentSpec, Gate, Strategy};
use crate::flow::fakes::{target_groups, FakeAws, StopAt, TASK_DEFINITION, TG_GREEN};
use crate::flow::interrupt::Stop;
use crate::flow::target::Target;
use crate::report::{Kept, Reporter};
use crate::state::Holder;
use crate::workdir::WorkDir;
use std::time::Duration;

const PROD: &str = "arn:listener/prod";
const HTTPS: &str = "arn:listener/https";
const RULE: &str = "arn:listener-rule/api";
const ALARM: &str = "app-green-5xx";
const POLL: Duration = Duration::from_secs(1);

const HCL: &str = r#"region = "us-east-1"
shared {
  root = "../../modules/shared"
}
service {
  root          = "../../modules/service"
  desired_count = 2
}
health {
  timeout       = "30s"
  poll_interval = "1s"
  alarms {
    names = ["app-{color}-5xx"]
  }
}
traffic {
  verify_timeout = "5s"
}
promotion {
  bake             = "2s"
  termination_wait = "3s"
  old_color        = "scale-down"
}
"#;

/// The environment `drive` in a temp directory: modules, the env file, the work directory.
struct Env {
    _tmp: tempfile::TempDir,
    ctx: Ctx,
    kept: Kept,
}

fn env() -> Env {
    env_from(HCL)
}

/// The environment `drive` with this environment file.
fn env_from(hcl: &str) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    for (path, text) in [
        ("modules/shared/main.tf", "# shared\n"),
        ("modules/service/main.tf", "# service\n"),
        ("environments/drive/bluegreen.hcl", hcl),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let cfg = config::load(&root.join("environments/drive")).unwrap();
    let work = WorkDir::new(Some(&root.join("work")), &cfg.name).unwrap();
    let (out, kept) = Reporter::keeping();
    Env {
        _tmp: tmp,
        ctx: Ctx::new(cfg, work, out),
        kept,
    }
}

fn blue() -> Weights {
    Weights::all_on(Color::Blue)
}

fn green(percent: u16) -> Weights {
    Weights {
        blue: 100 - percent,
        green: percent,
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// What one run of the driver left behind.
struct Run {
    ended: Ended,
    /// The kind of every journal record, in order (`weights-intent`, …).
    journal: Vec<String>,
    /// Virtual time the driver took.
    took: Duration,
}

/// Drives blue → green over `routes` with `strategy`, stopped by `stop`. `during` runs beside
/// the driver (it may take the lock away), given the store.
async fn drive<F>(
    env: &Env,
    aws: &FakeAws,
    routes: &[&str],
    strategy: Strategy,
    stop: StopAt,
    during: impl FnOnce(std::sync::Arc<crate::state::Store>) -> F,
) -> Run
where
    F: std::future::Future<Output = ()>,
{
    let ctx = &env.ctx;
    let mut session = Session::begin(ctx, "deploy", Duration::ZERO).await.unwrap();
    let tgs = target_groups();
    let arns: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
    let routes = Routes::read(aws, &tgs, &arns).await.unwrap();
    let target = Target {
        color: Color::Green,
        cluster: "app",
        service: "app-green",
        target_group: TG_GREEN,
        task_definition: TASK_DEFINITION,
        desired: 2,
    };
    let plan = DeploymentSpec {
        image: "app:2".into(),
        image_requested: None,
        old: Some(Color::Blue),
        new: Color::Green,
        strategy: strategy.name().to_string(),
        schedule: strategy.schedule().unwrap(),
        health_timeout: ctx.cfg.health.timeout,
        poll_interval: ctx.cfg.health.poll_interval,
        post_bake: ctx.cfg.promotion.bake,
        termination_wait: ctx.cfg.promotion.termination_wait,
        scale_down: true,
        desired: 2,
        approval: Gate::default(),
        signals: Vec::new(),
        until: None,
    };
    let store = session.store.clone();
    let started = Instant::now();
    let driver = Driver {
        ctx,
        aws,
        routes,
        signals: SignalReader::new(&ctx.cfg.health, target).unwrap(),
        old_service: Some(OldService {
            cluster: "app".into(),
            service: "app-blue".into(),
        }),
        session: &mut session,
        schedule: plan.schedule.to_string(),
    };
    let (ended, ()) = tokio::join!(driver.run_until(Machine::new(plan), stop), during(store));
    let took = started.elapsed();
    let records = session.store.records(session.deployment()).await.unwrap();
    let journal = records
        .iter()
        .map(|r| {
            serde_json::to_value(&r.entry).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    Run {
        ended,
        journal,
        took,
    }
}

async fn nothing(_: std::sync::Arc<crate::state::Store>) {}

fn failure_of(ended: &Ended) -> &crate::domain::Failure {
    match ended {
        Ended::Machine(Outcome::RolledBack { failure })
        | Ended::Machine(Outcome::RollbackFailed { failure, .. }) => failure,
        other => panic!("not a rollback: {other:?}"),
    }
}

/// Every accepted write to `route`, as (virtual time, weights).
fn writes_to(aws: &FakeAws, route: &str) -> Vec<(Duration, Weights)> {
    aws.writes()
        .into_iter()
        .filter(|w| w.ok && w.route == route)
        .map(|w| (w.at, w.weights))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn each_strategy_writes_its_weights_in_lockstep_and_bakes_between_them() {
    let cases = [
        (Strategy::AllAtOnce, vec![(0.0, 100)]),
        (
            Strategy::Canary {
                percent: 20,
                bake: secs(5.0),
            },
            vec![(0.0, 20), (5.0, 100)],
        ),
        (
            Strategy::Linear {
                step: 25,
                interval: secs(2.0),
            },
            vec![(0.0, 25), (2.0, 50), (4.0, 75), (6.0, 100)],
        ),
    ];
    for (strategy, expected) in cases {
        let env = env();
        let aws = FakeAws::new(&[PROD, RULE], blue(), 2);
        let name = strategy.name();
        let run = drive(&env, &aws, &[PROD, RULE], strategy, StopAt(None), nothing).await;
        let expected: Vec<(Duration, Weights)> = expected
            .iter()
            .map(|(t, p)| (secs(*t), green(*p)))
            .collect();
        // Every route gets every change at the same moment, each a bake after the one before.
        assert_eq!(writes_to(&aws, PROD), expected, "{name}");
        assert_eq!(writes_to(&aws, RULE), expected, "{name}");
        let promoted = Outcome::Promoted {
            scaled_down: true,
            scale_down_error: None,
        };
        assert_eq!(run.ended, Ended::Machine(promoted), "{name}");
        // The old color is scaled to zero after the post-promotion bake (2s) and the
        // termination wait (3s).
        assert_eq!(aws.scaled(), vec![("app-blue".to_string(), 0)], "{name}");
        let last = expected.last().unwrap().0;
        assert_eq!(run.took, last + secs(5.0), "{name}");
    }
}

/// Issue 16, "timed waits end on their deadline": a 3 s bake at a 2 s poll ends at 3 s, not
/// at the next poll (4 s), and a 0 s post-bake and termination wait cost no poll interval.
#[tokio::test(start_paused = true)]
async fn timed_waits_end_on_their_deadline_not_on_the_next_poll() {
    let hcl = HCL
        .replace("poll_interval = \"1s\"", "poll_interval = \"2s\"")
        .replace("bake             = \"2s\"", "bake             = \"0s\"")
        .replace("termination_wait = \"3s\"", "termination_wait = \"0s\"");
    let env = env_from(&hcl);
    assert_eq!(env.ctx.cfg.health.poll_interval, secs(2.0));
    let aws = FakeAws::new(&[PROD], blue(), 2);
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(3.0),
    };
    let run = drive(&env, &aws, &[PROD], canary, StopAt(None), nothing).await;
    assert_eq!(
        writes_to(&aws, PROD),
        vec![(secs(0.0), green(20)), (secs(3.0), green(100))]
    );
    assert_eq!(aws.scaled(), vec![("app-blue".to_string(), 0)]);
    // Promoted and scaled down at once: the 0 s waits passed on the reads right after 100 %.
    assert_eq!(run.took, secs(3.0));
}

/// A timed wait ends on its deadline even when a poll takes time: its read starts early by
/// what the last polls took and is judged at the deadline. Signal reads take 300 ms here (the
/// service's description; virtual time), the poll interval is 2 s: the canary's 3 s bake ends
/// 3 s after its weights were verified, not 3.3 s; the 0 s waits after 100 % still each pass
/// on a read of their own (300 ms each), and a poll still happens at least once per interval.
#[tokio::test(start_paused = true)]
async fn a_timed_wait_ends_on_its_deadline_when_reads_take_time() {
    let hcl = HCL
        .replace("poll_interval = \"1s\"", "poll_interval = \"2s\"")
        .replace("bake             = \"2s\"", "bake             = \"0s\"")
        .replace("termination_wait = \"3s\"", "termination_wait = \"0s\"");
    let env = env_from(&hcl);
    let aws = FakeAws::new(&[PROD], blue(), 2);
    aws.slow_service_reads(secs(0.3));
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(3.0),
    };
    let run = drive(&env, &aws, &[PROD], canary, StopAt(None), nothing).await;
    assert!(
        matches!(run.ended, Ended::Machine(Outcome::Promoted { .. })),
        "{:?}",
        run.ended
    );
    let writes = writes_to(&aws, PROD);
    assert_eq!(writes.len(), 2, "{writes:?}");
    // The first poll (settling) took 0.3 s; the canary's weights were verified then.
    assert_eq!(writes[0], (secs(0.3), green(20)));
    assert_eq!(
        writes[1],
        (secs(3.3), green(100)),
        "the bake ended on its deadline"
    );
    // Post-bake and termination wait: one 0.3 s read each.
    assert_eq!(run.took, secs(3.9));
}

/// When a regular poll would start just before a timed wait's deadline (within the read's
/// lead), the wait's early read takes its place: otherwise that poll ends a little before the
/// deadline and a second read, started late, ends the wait. Reads of 50 ms at a 1 s poll; the
/// canary's weights are verified at 0.05 s and its 2.98 s bake ends at 3.03 s — the regular
/// poll due at 3.0 s would have ended the bake at 3.05 s.
#[tokio::test(start_paused = true)]
async fn a_wait_whose_deadline_follows_a_regular_poll_closely_still_ends_on_it() {
    let hcl = HCL
        .replace("bake             = \"2s\"", "bake             = \"0s\"")
        .replace("termination_wait = \"3s\"", "termination_wait = \"0s\"");
    let env = env_from(&hcl);
    assert_eq!(env.ctx.cfg.health.poll_interval, secs(1.0));
    let aws = FakeAws::new(&[PROD], blue(), 2);
    aws.slow_service_reads(secs(0.05));
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(2.98),
    };
    drive(&env, &aws, &[PROD], canary, StopAt(None), nothing).await;
    let writes = writes_to(&aws, PROD);
    assert_eq!(writes[0], (secs(0.05), green(20)));
    assert_eq!(writes[1], (secs(3.03), green(100)), "{writes:?}");
}

#[tokio::test(start_paused = true)]
async fn the_journal_records_every_intent_before_its_outcome() {
    let env = env();
    let aws = FakeAws::new(&[PROD], blue(), 2);
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(5.0),
    };
    let run = drive(&env, &aws, &[PROD], canary, StopAt(None), nothing).await;
    assert_eq!(
        run.journal,
        [
            "settled",
            "weights-intent",
            "weights-verified",
            "bake-passed",
            "weights-intent",
            "weights-verified",
            "bake-passed",
            "post-bake",
            "termination-wait",
            "scale-down-intent",
            "scaled-down",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_signal_failing_during_a_bake_is_rolled_back_within_one_poll_interval() {
    let env = env();
    let aws = FakeAws::new(&[PROD, HTTPS], blue(), 2);
    // Mid-way between two polls, during a 1m bake at 20 %.
    let alarm_at = secs(10.3);
    aws.alarm_from(ALARM, alarm_at);
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(60.0),
    };
    let run = drive(&env, &aws, &[PROD, HTTPS], canary, StopAt(None), nothing).await;
    let failure = failure_of(&run.ended);
    assert!(matches!(
        run.ended,
        Ended::Machine(Outcome::RolledBack { .. })
    ));
    assert_eq!(failure.signal, format!("alarm:{ALARM}"));
    assert_eq!(failure.observed, "ALARM");
    assert_eq!(failure.during, "step 1 of 2 (20% for 1m)");
    for route in [PROD, HTTPS] {
        let writes = writes_to(&aws, route);
        assert_eq!(writes.len(), 2, "{route}: {writes:?}");
        assert_eq!(writes[0], (secs(0.0), green(20)));
        let (restored_at, weights) = writes[1];
        assert_eq!(weights, blue(), "{route}");
        assert!(
            restored_at >= alarm_at && restored_at < alarm_at + POLL,
            "{route} restored at {restored_at:?}, the alarm went off at {alarm_at:?}"
        );
        assert_eq!(aws.route(route), blue());
    }
    let tail = &run.journal[run.journal.len() - 2..];
    assert_eq!(tail, ["rollback-intent", "restored"]);
}

#[tokio::test(start_paused = true)]
async fn a_lockstep_write_failing_on_one_route_puts_every_route_back() {
    let env = env();
    let routes = [PROD, HTTPS, RULE];
    let aws = FakeAws::new(&routes, blue(), 2);
    // The rule refuses the canary weights; the two listeners before it took them.
    aws.fail_writes(|route, w| route == RULE && w == green(20));
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(5.0),
    };
    let run = drive(&env, &aws, &routes, canary, StopAt(None), nothing).await;
    let failure = failure_of(&run.ended);
    assert!(matches!(
        run.ended,
        Ended::Machine(Outcome::RolledBack { .. })
    ));
    assert_eq!(failure.signal, "traffic");
    assert!(failure.observed.contains(RULE), "{}", failure.observed);
    // All or nothing: every route is written back, the one that never changed included.
    for route in routes {
        assert_eq!(aws.route(route), blue(), "{route}");
        assert_eq!(writes_to(&aws, route).last().unwrap().1, blue(), "{route}");
    }
    assert_eq!(writes_to(&aws, PROD)[0].1, green(20));
    assert_eq!(writes_to(&aws, HTTPS)[0].1, green(20));
    // Nothing more after the restore, and never past the canary.
    let sequence = aws.weight_sequence();
    assert_eq!(sequence, [green(20), blue()]);
    let tail = &run.journal[run.journal.len() - 3..];
    assert_eq!(tail, ["weights-failed", "rollback-intent", "restored"]);
}

#[tokio::test(start_paused = true)]
async fn a_restore_that_never_lands_ends_as_rollback_failed_at_its_deadline() {
    let env = env();
    let aws = FakeAws::new(&[PROD], blue(), 2);
    aws.alarm_from(ALARM, secs(3.5));
    // Every write putting traffic back is refused.
    aws.fail_writes(|_, w| w == blue());
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(60.0),
    };
    let run = drive(&env, &aws, &[PROD], canary, StopAt(None), nothing).await;
    let Ended::Machine(Outcome::RollbackFailed { failure, error }) = &run.ended else {
        panic!("{:?}", run.ended);
    };
    // Exit 6 material: the failing signal, and what the routes read now (still the canary).
    assert_eq!(failure.signal, format!("alarm:{ALARM}"));
    assert!(error.starts_with("not read back within 1m"), "{error}");
    assert!(error.contains("ValidationError"), "{error}");
    assert!(
        error.ends_with(&format!(
            "production routes now read: {PROD}: {}",
            green(20)
        )),
        "{error}"
    );
    assert_eq!(aws.route(PROD), green(20));
    // The restore kept trying until its own deadline (at least a minute), not longer.
    let tries: Vec<Duration> = aws
        .writes()
        .iter()
        .filter(|w| !w.ok)
        .map(|w| w.at)
        .collect();
    assert!(tries.len() > 5, "{tries:?}");
    assert!(tries[0] >= secs(4.0) && tries[0] < secs(5.0), "{tries:?}");
    assert!(
        run.took >= secs(64.0) && run.took < secs(70.0),
        "{:?}",
        run.took
    );
    let tail = &run.journal[run.journal.len() - 2..];
    assert_eq!(tail, ["rollback-intent", "restore-failed"]);
}

#[tokio::test(start_paused = true)]
async fn a_driver_that_lost_the_lock_writes_nothing_more() {
    let env = env();
    let aws = FakeAws::new(&[PROD, RULE], blue(), 2);
    let canary = Strategy::Canary {
        percent: 20,
        bake: secs(5.0),
    };
    let lost_at = secs(4.5);
    // Half a second before the bake ends, another command takes the lock over.
    let take_over = |store: std::sync::Arc<crate::state::Store>| async move {
        tokio::time::sleep(lost_at).await;
        let seen = store.lock_info().await.unwrap().unwrap();
        assert!(store.force_unlock(&seen).await.unwrap());
        let other = Holder::this_process("rollback", "d-other");
        store
            .acquire(&other, Duration::from_secs(60))
            .await
            .unwrap();
    };
    let run = drive(&env, &aws, &[PROD, RULE], canary, StopAt(None), take_over).await;
    let Ended::LockLost { weights, why } = &run.ended else {
        panic!("{:?}", run.ended);
    };
    assert_eq!(*weights, green(20));
    assert!(why.contains("taken by"), "{why}");
    // The machine wanted 100 % at 5s and then a restore; neither was written.
    assert!(
        aws.writes().iter().all(|w| w.at < lost_at),
        "{:?}",
        aws.writes()
    );
    assert_eq!(aws.weight_sequence(), [green(20)]);
    assert_eq!(aws.route(RULE), green(20));
    assert!(aws.scaled().is_empty());
    assert!(run.took < secs(6.0), "{:?}", run.took);
    // Nor was anything journaled after the loss: the store refuses a stale writer.
    let last = run.journal.last().unwrap();
    assert_eq!(last, "weights-verified", "{:?}", run.journal);
}

#[tokio::test(start_paused = true)]
async fn sigint_or_sigterm_puts_traffic_back_at_once() {
    for (stop, said) in [
        (Stop::Interrupt, "interrupted (SIGINT)"),
        (Stop::Terminate, "terminated (SIGTERM)"),
    ] {
        let env = env();
        let aws = FakeAws::new(&[PROD, RULE], blue(), 2);
        let linear = Strategy::Linear {
            step: 25,
            interval: secs(10.0),
        };
        // During the second step's bake, between two polls.
        let at = secs(12.25);
        let stops = StopAt(Some((Instant::now() + at, stop)));
        let run = drive(&env, &aws, &[PROD, RULE], linear, stops, nothing).await;
        let failure = failure_of(&run.ended);
        assert!(matches!(
            run.ended,
            Ended::Machine(Outcome::RolledBack { .. })
        ));
        assert_eq!(failure.signal, "operator");
        assert!(failure.observed.starts_with(said), "{}", failure.observed);
        assert_eq!(failure.during, "step 2 of 4 (50% for 10s)");
        for route in [PROD, RULE] {
            let expected = vec![
                (secs(0.0), green(25)),
                (secs(10.0), green(50)),
                (at, blue()),
            ];
            assert_eq!(writes_to(&aws, route), expected, "{said}: {route}");
        }
        assert!(run.took < at + POLL, "{said}: {:?}", run.took);
        let warned = env
            .kept
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Report::Warning { message } if message.contains(said)));
        assert!(warned, "{said}: the rollback is announced");
    }
}

/// Issue 16, routes in one round: a lockstep change of three routes (two listeners and a
/// rule) reads them all in one round, writes them at once and reads them back in one round; a
/// rollback's restore (written, then read back twice) likewise. The fake counts one ALB call
/// per call the SDK adapter makes. One route at a time, the same steps took 9 and 12 calls.
#[tokio::test(start_paused = true)]
async fn three_routes_move_in_one_read_round_and_one_write_round() {
    const LISTENERS: &str = "DescribeListeners";
    const RULES: &str = "DescribeRules";
    let env = env();
    let ctx = &env.ctx;
    let routes = [PROD, HTTPS, RULE];
    let aws = FakeAws::new(&routes, blue(), 2);
    let session = Session::begin(ctx, "deploy", Duration::ZERO).await.unwrap();
    let tgs = target_groups();
    let arns: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
    let mut lockstep = Routes::read(&aws, &tgs, &arns).await.unwrap();
    lockstep
        .set(ctx, &aws, session.guard.fence(), green(20))
        .await
        .unwrap();
    let change = aws.route_calls();
    let writes = ["ModifyListener", "ModifyListener", "ModifyRule"];
    let want: Vec<&str> = [&[LISTENERS, RULES][..], &writes, &[LISTENERS, RULES]].concat();
    assert_eq!(change, want, "read + one lockstep change");
    for route in routes {
        assert_eq!(aws.route(route), green(20), "{route}");
    }
    let restore = Routes::read(&aws, &tgs, &arns).await.unwrap();
    let views = restore.views_at(blue());
    restore
        .put(ctx, &aws, session.guard.fence(), &views, true)
        .await
        .unwrap();
    let rollback = &aws.route_calls()[change.len()..];
    let round = [LISTENERS, RULES];
    let want: Vec<&str> = [&round[..], &writes, &round, &round].concat();
    assert_eq!(rollback, want, "read + restore (read back twice)");
    assert!(rollback.len() <= 9, "{rollback:?}");
    for route in routes {
        assert_eq!(aws.route(route), blue(), "{route}");
    }
}

/// Listeners only: one DescribeListeners per read round.
#[tokio::test(start_paused = true)]
async fn three_listeners_read_in_one_call_per_round() {
    let env = env();
    let ctx = &env.ctx;
    let routes = [PROD, HTTPS, "arn:listener/admin"];
    let aws = FakeAws::new(&routes, blue(), 2);
    let session = Session::begin(ctx, "deploy", Duration::ZERO).await.unwrap();
    let tgs = target_groups();
    let arns: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
    let mut lockstep = Routes::read(&aws, &tgs, &arns).await.unwrap();
    lockstep
        .set(ctx, &aws, session.guard.fence(), green(100))
        .await
        .unwrap();
    assert_eq!(aws.route_calls().len(), 5, "{:?}", aws.route_calls());
    let views = lockstep.views_at(blue());
    lockstep
        .put(ctx, &aws, session.guard.fence(), &views, true)
        .await
        .unwrap();
    // The restore: three writes and two read rounds.
    assert_eq!(aws.route_calls().len(), 5 + 5, "{:?}", aws.route_calls());
}
