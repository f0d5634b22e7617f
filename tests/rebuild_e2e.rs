//! End-to-end: `bluegreen rebuild` with the real binary, real Terraform and a private moto per
//! test. The idle color is destroyed and created again from HCL while production traffic stays
//! on the live color — checked by sampling the production listener from the emulator (with the
//! SDK, not bluegreen's adapters) every ~50 ms during the whole run. Then `rebuild --swap`, a
//! rebuild that never gets healthy, a rebuild refused by an interrupted deploy, and the crash
//! safety of an interrupted rebuild (`resume` refuses it, the next `rebuild` supersedes it).

mod common;

use common::{assert_unchanged, files, journal_records, wait_exit, Bluegreen, Outcome};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";
const V3: &str = "public.ecr.aws/nginx/nginx:1.29";
use common::LOCAL_LB as LB;
const CLUSTER: &str = "bg-local";
/// Above the kernel's largest pid (2^22): never a live process.
const DEAD_PID: u32 = 4_294_967_294;

fn fast(old_color: &str, timeout: &str) -> String {
    format!(
        r#"health {{
  timeout       = "{timeout}"
  poll_interval = "200ms"
}}
traffic {{ verify_timeout = "5s" }}
promotion {{
  termination_wait = "0s"
  old_color        = "{old_color}"
}}
"#
    )
}

struct World(common::EnvWorld);

impl std::ops::Deref for World {
    type Target = common::EnvWorld;
    fn deref(&self) -> &common::EnvWorld {
        &self.0
    }
}

impl World {
    /// A first deploy of V1 (blue live), then V2 (green live, blue idle).
    fn new(old_color: &str) -> World {
        let w = World(common::EnvWorld::start(
            &fast(old_color, "20s"),
            "rebuild-test",
        ));
        w.cmd(&["deploy"], &["--image", V1]).run().assert_code(0);
        w.cmd(&["deploy"], &["--image", V2]).run().assert_code(0);
        assert_eq!(w.prod(), (0, 100));
        w
    }

    fn prod_arn(&self) -> String {
        self.emu
            .find_listener_by_port(LB, 80)
            .expect("listener")
            .arn
    }

    /// (task definition ARN, desired count, (id, createdAt in ms) of its primary deployment)
    /// of a color's service. moto gives a service no `createdAt` of its own; its deployment
    /// gets a random id and a `createdAt` when the service is created.
    fn service(&self, color: &str) -> (String, i32, (String, i64)) {
        let name = format!("bg-local-{color}");
        let out = self
            .emu
            .block_on(
                self.emu
                    .ecs()
                    .describe_services()
                    .cluster(CLUSTER)
                    .services(&name)
                    .send(),
            )
            .expect("DescribeServices");
        let s = out
            .services()
            .iter()
            .find(|s| s.status() == Some("ACTIVE"))
            .unwrap_or_else(|| panic!("no active service {name}"));
        let d = s.deployments().first().expect("a deployment");
        let created = (
            d.id().unwrap_or_default().to_owned(),
            d.created_at().map(|t| t.to_millis().unwrap()).unwrap_or(0),
        );
        (
            s.task_definition().unwrap().to_owned(),
            s.desired_count(),
            created,
        )
    }

    /// Runs `cmd` while a background thread reads the production listener every ~50 ms and
    /// returns every sample as (blue, green).
    fn sampled(&self, cmd: Bluegreen) -> (Outcome, Vec<(i32, i32)>) {
        let arn = self.prod_arn();
        let (blue, green) = (self.tg("blue"), self.tg("green"));
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let sampler = s.spawn(|| {
                let mut samples = Vec::new();
                loop {
                    let last = done.load(Ordering::SeqCst);
                    let w = self.emu.listener_weights(&arn);
                    let get = |tg: &str| w.get(tg).copied().unwrap_or(0);
                    samples.push((get(&blue), get(&green)));
                    if last {
                        return samples;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            let out = cmd.run();
            done.store(true, Ordering::SeqCst);
            (out, sampler.join().unwrap())
        })
    }
}

fn result_json(out: &Outcome) -> Value {
    out.stdout_json_lines()
        .pop()
        .unwrap_or_else(|| panic!("no result line\n{out}"))
}

/// The revision number at the end of a task definition ARN (`…:7`).
fn revision(td: &str) -> u32 {
    td.rsplit(':').next().unwrap().parse().unwrap()
}

/// Writes an interrupted journal (a `started` record only, its process gone) in the shape
/// bluegreen writes, copied from `template`'s first record: `command` (`None` for a deploy),
/// green live (`before`), blue the new color. Returns its id, newer than every other.
fn write_interrupted(w: &World, template: &str, command: Option<&str>) -> String {
    let lines = journal_records(&w.journal_file(template));
    let mut started = lines[0].clone();
    assert_eq!(started["entry"]["type"], "started", "{started}");
    let stamp = humantime::format_rfc3339_millis(SystemTime::now())
        .to_string()
        .replace(['-', ':', '.'], "");
    let id = format!("{stamp}-ffff");
    let at_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    started["deployment"] = json!(id);
    started["seq"] = json!(1);
    started["at_ms"] = json!(at_ms);
    started["at"] = json!(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
    let e = &mut started["entry"];
    e["user"] = json!("crashed-ci");
    e["pid"] = json!(DEAD_PID);
    e["image"] = json!(V3);
    e["old"] = json!("green");
    e["new"] = json!("blue");
    e["before"] = json!({"blue": 0, "green": 100});
    match command {
        Some(c) => e["command"] = json!(c),
        None => {
            e.as_object_mut().unwrap().remove("command");
        }
    }
    std::fs::write(
        w.journal_file(&id),
        serde_json::to_string(&started).unwrap() + "\n",
    )
    .unwrap();
    id
}

/// `rebuild` re-creates the idle color at zero production traffic and scales it back to its
/// idle size; `rebuild --swap` then makes it live like a deploy.
#[test]
fn rebuild_recreates_the_idle_color_without_moving_traffic_then_swap_makes_it_live() {
    let w = World::new("scale-down");
    // After the second deploy blue is idle, scaled to 0 after the termination wait.
    let (td_before, desired, created_before) = w.service("blue");
    assert_eq!(desired, 0);
    assert_eq!(w.emu.task_definition_image(&td_before), V1);

    let (out, samples) = w.sampled(w.cmd(&["rebuild"], &["--output", "json"]));
    out.assert_code(0);
    assert!(samples.len() >= 10, "only {} samples\n{out}", samples.len());
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(
            *s,
            (0, 100),
            "sample {i} of {}: production moved",
            samples.len()
        );
    }
    let r = result_json(&out);
    assert_eq!(r["outcome"], "rebuilt", "{r}");
    assert_eq!(r["rebuilt_color"], "blue", "{r}");
    assert_eq!(r["idle_desired"], 0, "{r}");
    // Re-created: the task definition is a new revision (moto keeps deregistered revisions
    // and numbers on), with the live color's image (V2), not the one blue ran before (V1).
    // moto gives the re-created service the same ARN (it is built from cluster and name, as
    // on AWS) and no service-level `createdAt`, but a new deployment (new random id, later
    // `createdAt`): what a service created anew shows there.
    let (td_after, desired, created_after) = w.service("blue");
    assert!(
        revision(&td_after) > revision(&td_before),
        "{td_before} → {td_after}"
    );
    assert_eq!(w.emu.task_definition_image(&td_after), V2);
    assert_ne!(created_after.0, created_before.0, "deployment id");
    assert!(
        created_after.1 > created_before.1 && created_before.1 > 0,
        "deployment createdAt {created_before:?} → {created_after:?}"
    );
    // Back to its idle size.
    assert_eq!(desired, 0);
    assert_eq!(w.prod(), (0, 100));
    let rec = journal_records(&w.journal_file(r["deployment"].as_str().unwrap()));
    let types: Vec<&str> = rec
        .iter()
        .map(|r| r["entry"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "started",
            "provisioning",
            "provisioned",
            "scaled-up",
            "settled",
            "scale-down-intent",
            "scaled-down",
            "finished"
        ],
        "{rec:#?}"
    );
    assert_eq!(rec[0]["entry"]["command"], "rebuild");

    // --swap: the rebuilt color (blue again) takes all production traffic.
    let out = w.cmd(&["rebuild"], &["--swap", "--output", "json"]).run();
    out.assert_code(0);
    assert_eq!(w.prod(), (100, 0), "{out}");
    let (_, desired, _) = w.service("blue");
    assert_eq!(desired, 2);
    let (_, green_desired, _) = w.service("green");
    assert_eq!(green_desired, 0, "the old color is scaled down");
    let h = w.history();
    let d = h["deployments"].as_array().unwrap();
    let got: Vec<(&str, &str)> = d
        .iter()
        .map(|e| {
            (
                e["command"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("rebuild --swap", "deployed"),
            ("rebuild", "rebuilt"),
            ("deploy", "deployed"),
            ("deploy", "deployed"),
        ],
        "{h}"
    );
}

/// Refusals, a rebuild that never gets healthy, and an interrupted rebuild.
#[test]
fn rebuild_refuses_in_flight_deploys_fails_unhealthy_stacks_and_supersedes_crashed_rebuilds() {
    let w = World::new("keep-warm");
    let first = w.journal_ids()[0].clone();

    // --- A deploy paused in flight holds the lock: LOCKED (8) naming it, nothing changes.
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("deploy.log");
    let (mut child, running) = w.deploy_until_paused(V3, &log);
    // Only the deployments: the running deploy renews its lock document meanwhile.
    let deployments = w.journal_dir().join("deployments");
    let journal = files(&deployments);
    let out = w.cmd(&["rebuild"], &[]).run();
    out.assert_code(8);
    assert!(out.stderr.contains(running.as_str()), "{out}");
    assert_eq!(journal, files(&deployments), "a locked-out rebuild wrote");
    // End it: `rollback` asks the running deploy to put traffic back.
    w.cmd(&["rollback"], &[]).run().assert_code(0);
    assert_eq!(wait_exit(&mut child, &log), 5);
    assert_eq!(w.prod(), (0, 100));

    // --- An interrupted deploy: refused with REFUSED (7), nothing changes.
    let crashed = write_interrupted(&w, &first, None);
    let journal = files(&w.journal_dir());
    let emu = w.emu.snapshot();
    let out = w.cmd(&["rebuild"], &[]).run();
    out.assert_code(7);
    for needle in [
        crashed.as_str(),
        "was interrupted",
        "bluegreen resume --env",
        "bluegreen rollback --env",
    ] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    assert_eq!(journal, files(&w.journal_dir()), "a refused rebuild wrote");
    assert_unchanged(&emu, &w.emu.snapshot());
    // `rollback` ends it (traffic is where it started).
    w.cmd(&["rollback"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (0, 100));

    // --- A rebuild that never gets healthy (every target of the idle blue fails its health
    // check, through the fault proxy): ROLLED_BACK (5) naming the failing signal; production
    // never moves.
    let sick = w.sick("blue");
    let greedy = common::local_env(&w.envs.path().join("greedy"), 3, &fast("keep-warm", "2s"));
    let cmd = w
        .bg()
        .endpoint(sick.url())
        .args(["rebuild", "--env", greedy.to_str().unwrap()]);
    let (out, samples) = w.sampled(cmd);
    out.assert_code(5);
    assert!(out.stderr.contains("target-health"), "{out}");
    assert!(out.stderr.contains("never moved"), "{out}");
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(*s, (0, 100), "sample {i}: production moved\n{out}");
    }
    let h = w.history();
    let last = &h["deployments"][0];
    assert_eq!(last["command"], "rebuild", "{h}");
    assert_eq!(last["outcome"], "failed", "{h}");
    assert_eq!(last["failing_signal"], "target-health", "{h}");

    // --- An interrupted rebuild without --swap: `resume` refuses it, the next rebuild ends
    // it ("superseded") and rebuilds.
    let crashed = write_interrupted(&w, &first, Some("rebuild"));
    let out = w.cmd(&["resume"], &[]).run();
    out.assert_code(7);
    assert!(out.stderr.contains("re-run `bluegreen rebuild"), "{out}");
    let out = w.cmd(&["deploy"], &["--image", V3]).run();
    out.assert_code(7);
    assert!(out.stderr.contains("re-run `bluegreen rebuild"), "{out}");
    let out = w.cmd(&["rebuild"], &["--output", "json"]).run();
    out.assert_code(0);
    let id = result_json(&out)["deployment"].as_str().unwrap().to_owned();
    let rec = journal_records(&w.journal_file(&crashed));
    let end = rec.last().unwrap();
    assert_eq!(end["entry"]["type"], "finished", "{rec:#?}");
    assert_eq!(end["entry"]["outcome"], "failed", "{rec:#?}");
    assert_eq!(
        end["entry"]["detail"],
        format!("superseded by rebuild {id}"),
        "{rec:#?}"
    );
    assert_eq!(w.prod(), (0, 100));
    // keep-warm: the rebuilt idle color stays at full size.
    let (_, desired, _) = w.service("blue");
    assert_eq!(desired, 2);
}
