//! Crash safety: a canary deploy against the emulator is killed with SIGKILL (its whole process
//! group, Terraform included, as when a CI runner dies) at every journaled step boundary and at
//! seeded random moments. After each kill:
//! - `status` tells the truth about the weights (it reads the listener, and says the deployment
//!   is not running);
//! - `resume` completes the deploy or `rollback` restores the old color (chosen by the seed;
//!   when `resume` refuses, `rollback` must work);
//! - in every case the end is 100 % on one color on every route, whose service is at full size
//!   and running; the journal parses (`history` exits 0); and no lock is left held.
//!
//! The seed is `BLUEGREEN_CRASH_SEED` (default below) and is printed with every kill point, so a
//! failure can be replayed.

mod common;

use common::{Bluegreen, Emulator, Rng};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

const LB: &str = "bg-local-alb";
const DEFAULT_SEED: u64 = 0x5eed_b1e6;
/// Journaled boundaries of one canary deploy with scale-down: started, provisioning,
/// provisioned, scaled-up, settled, intent 50 %, verified 50 %, bake passed, intent 100 %,
/// verified 100 %, bake passed, post-bake, termination wait, scale-down intent, scaled down,
/// finished.
const BOUNDARIES: u64 = 16;

const ENV_BLOCKS: &str = r#"
health {
  timeout       = "60s"
  poll_interval = "200ms"
}
traffic { verify_timeout = "10s" }
strategy {
  type    = "canary"
  percent = 50
  bake    = "400ms"
}
promotion {
  bake             = "200ms"
  termination_wait = "300ms"
  old_color        = "scale-down"
}
journal { lease = "3s" }
"#;

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// As soon as the new deployment's journal has this many records.
    Record(u64),
    /// This long after the process started.
    After(Duration),
}

struct World {
    emu: Emulator,
    work: tempfile::TempDir,
    envs: tempfile::TempDir,
}

impl World {
    fn bg(&self) -> Bluegreen {
        Bluegreen::new(&self.emu, self.work.path())
            .args(["--environments-dir", self.envs.path().to_str().unwrap()])
    }

    fn journal_dir(&self) -> PathBuf {
        self.work.path().join("local/journal/deployments")
    }

    fn journals(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.journal_dir())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// (blue, green) of a listener, read from the emulator.
    fn weights(&self, port: i32) -> (u16, u16) {
        let l = self.emu.find_listener_by_port(LB, port).expect("listener");
        let w = l.weights();
        let snap = self.emu.snapshot();
        let tg = |c: &str| {
            snap.target_groups
                .values()
                .find(|t| t.name == format!("bg-local-{c}"))
                .expect("target group")
                .arn
                .clone()
        };
        let get = |c: &str| w.get(&tg(c)).copied().unwrap_or(0) as u16;
        (get("blue"), get("green"))
    }
}

fn records(path: &Path) -> u64 {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        .unwrap_or(0)
}

/// Kills the process group of `child` with SIGKILL.
fn kill_group(child: &mut Child) {
    let pgid = format!("-{}", child.id());
    let status = std::process::Command::new("kill")
        .args(["-KILL", "--", &pgid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL -- {pgid} failed");
    let _ = child.wait();
}

/// Runs a deploy and kills it at `at`. Returns what the kill hit, in words.
fn deploy_and_kill(w: &World, image: &str, at: KillAt, log: &Path) -> String {
    let before: Vec<PathBuf> = w.journals();
    let started = Instant::now();
    let mut child = w
        .bg()
        .args(["deploy", "--env", "local", "--image", image])
        .spawn(log);
    let deadline = started + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let new = w.journals().into_iter().find(|p| !before.contains(p));
            return format!(
                "not killed: exited {status} first ({} records)",
                new.map(|p| records(&p)).unwrap_or(0)
            );
        }
        let new = w.journals().into_iter().find(|p| !before.contains(p));
        let n = new.as_deref().map(records).unwrap_or(0);
        let hit = match at {
            KillAt::Record(k) => n >= k,
            KillAt::After(d) => started.elapsed() >= d,
        };
        if hit {
            kill_group(&mut child);
            let n = new.as_deref().map(records).unwrap_or(0);
            return format!(
                "killed with {n} journal records after {:?}",
                started.elapsed()
            );
        }
        assert!(Instant::now() < deadline, "the deploy never reached {at:?}");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn kill_9_at_every_step_then_resume_or_rollback_restores_a_healthy_single_color() {
    let seed = std::env::var("BLUEGREEN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = Rng::new(seed | 1);
    let w = World {
        emu: Emulator::start(),
        work: common::temp_workdir(),
        envs: tempfile::tempdir().unwrap(),
    };
    common::local_env(w.envs.path(), 2, ENV_BLOCKS);
    w.bg()
        .args(["deploy", "--env", "local", "--image", "app:0"])
        .run()
        .assert_code(0);

    // Every boundary twice, plus random moments: at least 30 kill points.
    let mut points: Vec<KillAt> = (1..=BOUNDARIES)
        .chain(1..=BOUNDARIES)
        .map(KillAt::Record)
        .collect();
    // A whole deploy takes about 4 s here; most random moments fall inside it.
    for _ in 0..6 {
        points.push(KillAt::After(Duration::from_millis(100 + rng.below(3500))));
    }
    let logs = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    let (mut resumed, mut rolled_back) = (0, 0);
    for (i, at) in points.iter().enumerate() {
        let image = format!("app:{}", i + 1);
        let log = logs.path().join(format!("deploy-{i}.log"));
        let hit = deploy_and_kill(&w, &image, *at, &log);
        let line = format!("seed {seed:#x} point {i}: {at:?} → {hit}");
        eprintln!("{line}");
        report.push(line.clone());

        // `status` tells the truth about the weights, and that nothing is running.
        let status = w
            .bg()
            .args(["status", "--env", "local", "--output", "json"])
            .run();
        status.assert_code(0);
        let s = status.stdout_json();
        let (blue, green) = w.weights(80);
        assert_eq!(
            (
                s["weights"]["blue"].as_u64(),
                s["weights"]["green"].as_u64()
            ),
            (Some(blue as u64), Some(green as u64)),
            "{line}: status disagrees with the listener\n{s:#}"
        );
        // What status says resume will do, checked against what resume then does.
        let mut matches = None;
        if !s["deployment"].is_null() {
            assert_eq!(s["deployment"]["running"], false, "{line}: {s:#}");
            matches = s["deployment"]["live_matches_journal"].as_bool();
        }

        // Resume or roll back; a refused resume must leave rollback working.
        let try_resume = rng.below(2) == 0;
        let mut finished = false;
        if try_resume {
            let r = w.bg().args(["resume", "--env", "local"]).run();
            match r.status {
                0 | 5 => {
                    assert_eq!(
                        matches,
                        Some(true),
                        "{line}: status said resume would refuse"
                    );
                    finished = true;
                    resumed += 1;
                }
                7 => {
                    assert_ne!(
                        matches,
                        Some(true),
                        "{line}: status said resume could continue\n{}",
                        r.stderr
                    );
                    let why = r
                        .stderr
                        .lines()
                        .find(|l| l.starts_with("error:"))
                        .unwrap_or("");
                    eprintln!("{line}: resume refused: {why}")
                }
                other => panic!("{line}: resume exited {other}\n{}", r.stderr),
            }
        }
        if !finished {
            let r = w.bg().args(["rollback", "--env", "local"]).run();
            assert!(
                r.status == 0,
                "{line}: rollback exited {}\n{}\n{}",
                r.status,
                r.stdout,
                r.stderr
            );
            rolled_back += 1;
        }

        // The end state: one color on every route, its service full and running, the journal
        // parses, the lock is free, and a new deploy would not be refused.
        let prod = w.weights(80);
        let test_route = w.weights(8081);
        assert!(
            prod == (100, 0) || prod == (0, 100),
            "{line}: production reads {prod:?}"
        );
        assert_eq!(
            test_route, prod,
            "{line}: the second production listener disagrees"
        );
        let color = if prod.0 == 100 { "blue" } else { "green" };
        let snap = w.emu.snapshot();
        let svc = snap
            .services
            .values()
            .find(|s| s.name.contains(color) && s.status.as_deref() == Some("ACTIVE"))
            .unwrap_or_else(|| panic!("{line}: no {color} service"));
        assert!(
            svc.desired >= 2 && svc.running == svc.desired,
            "{line}: {svc:?}"
        );
        w.bg()
            .args(["history", "--env", "local", "--output", "json"])
            .run()
            .assert_code(0);
        let s = w
            .bg()
            .args(["status", "--env", "local", "--output", "json"])
            .run();
        let s = s.stdout_json();
        assert!(s["lock"].is_null(), "{line}: a lock is left: {s:#}");
        assert!(s["deployment"].is_null(), "{line}: still unfinished: {s:#}");
    }
    eprintln!(
        "{} kill points (seed {seed:#x}): {resumed} resumed, {rolled_back} rolled back",
        report.len()
    );
    assert!(report.len() >= 30);
}
