//! End-to-end: the deployment journal and the environment lock, with the real binary, real
//! Terraform and a private moto per test. Eight deploys racing for one environment (local
//! files and DynamoDB), `history`, corrupt journals, stale and foreign locks, `unlock`, and an
//! interrupted deployment that `status` shows and `rollback` ends. What happened is read from
//! the emulator with the SDK and from the journal files themselves, not from bluegreen's
//! adapters.

mod common;

use common::{
    assert_unchanged, files, journal_records, state_snapshot, wait_exit, Emulator, Outcome, FAST,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::thread;

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";
const V3: &str = "public.ecr.aws/nginx/nginx:1.29";
use common::LOCAL_LB as LB;
const CLUSTER: &str = "bg-local";
const TABLE: &str = "bluegreen-state";
const RACERS: usize = 8;
/// Above the kernel's largest pid (2^22): never a live process.
const DEAD_PID: u32 = 4_294_967_294;

/// One test's world: an emulator, a work directory and an environment named `local`.
struct World(common::EnvWorld);

impl std::ops::Deref for World {
    type Target = common::EnvWorld;
    fn deref(&self) -> &common::EnvWorld {
        &self.0
    }
}

impl World {
    /// Starts the emulator, writes the environment (with `extra` blocks), runs `setup`, and
    /// makes a first deploy of V1 (all traffic on blue).
    fn new(extra: &str, setup: impl FnOnce(&Emulator)) -> World {
        let w = World(common::EnvWorld::start(
            &format!("{FAST}{extra}"),
            "journal-test",
        ));
        setup(&w.emu);
        w.deploy(V1).assert_code(0);
        assert_eq!(w.prod(), (100, 0));
        w
    }

    fn deploy(&self, image: &str) -> Outcome {
        self.cmd(&["deploy"], &["--image", image, "--output", "json"])
            .run()
    }

    fn status(&self) -> Value {
        let out = self.cmd(&["status"], &["--output", "json"]).run();
        out.assert_code(0);
        out.stdout_json()
    }

    fn lock_path(&self) -> PathBuf {
        self.journal_dir().join("lock.json")
    }

    fn service_image(&self, color: &str) -> String {
        let svc = self
            .emu
            .describe_service(CLUSTER, &format!("bg-local-{color}"));
        self.emu
            .task_definition_image(svc.task_definition.as_deref().expect("task definition"))
    }
}

/// The last JSON line of a `--output json` run: the result.
fn result_json(out: &Outcome) -> Value {
    out.stdout_json_lines()
        .pop()
        .unwrap_or_else(|| panic!("no result line\n{out}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("Linux: /proc/sys/kernel/hostname")
        .trim()
        .to_owned()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A lock document as bluegreen writes it (schema 1), with an hour of lease left.
fn lock_doc(host: &str, pid: u32, deployment: &str) -> String {
    let now = now_ms();
    let doc = json!({
        "schema": 1,
        "holder": {
            "user": "ghost",
            "host": host,
            "pid": pid,
            "command": "deploy",
            "deployment": deployment,
        },
        "taken_ms": now,
        "expires_ms": now + 3_600_000,
    });
    serde_json::to_string_pretty(&doc).unwrap()
}

/// Starts `RACERS` deploys of different images at the same moment (racer `i` runs as user
/// `racer-i`) and checks that exactly one proceeds and deploys to `to` while every other one
/// exits LOCKED naming it. Returns the winner's deployment id, image and user.
fn race(w: &World, to: &str) -> (String, String, String) {
    let barrier = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let image = format!("public.ecr.aws/nginx/nginx:1.{}", 40 + i);
            let cmd = w
                .cmd(&["deploy"], &["--image", &image, "--output", "json"])
                .env("BLUEGREEN_USER", format!("racer-{i}"));
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                (image, cmd.run())
            })
        })
        .collect();
    let outcomes: Vec<(String, Outcome)> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let all = || {
        outcomes
            .iter()
            .map(|(_, o)| o.to_string())
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let codes: Vec<i32> = outcomes.iter().map(|(_, o)| o.status).collect();
    let winners: Vec<usize> = (0..RACERS).filter(|&i| codes[i] == 0).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one deploy proceeds: {codes:?}\n{}",
        all()
    );
    assert_eq!(
        codes.iter().filter(|&&c| c == 8).count(),
        RACERS - 1,
        "every other one is LOCKED: {codes:?}\n{}",
        all()
    );
    let k = winners[0];
    let (image, winner) = &outcomes[k];
    let r = result_json(winner);
    assert_eq!(r["outcome"], "deployed", "{winner}");
    assert_eq!(r["image"], image.as_str());
    assert_eq!(r["live_color"], to);
    let id = r["deployment"]
        .as_str()
        .unwrap_or_else(|| panic!("a deployment id: {r}"))
        .to_owned();
    for (_, loser) in outcomes.iter().filter(|(_, o)| o.status == 8) {
        let e = &loser.stderr;
        for needle in [
            "is locked by `deploy`".to_string(),
            format!("racer-{k}@{}", hostname()),
            format!("(pid {}, deployment {id})", winner.pid),
            "--lock-timeout".to_string(),
        ] {
            assert!(e.contains(&needle), "missing {needle:?}:\n{loser}");
        }
        assert!(
            loser
                .stdout_json_lines()
                .iter()
                .all(|l| l["outcome"].is_null()),
            "a loser reported a result:\n{loser}"
        );
    }

    // Afterwards: the lock is free, nothing is in flight, all traffic on one color running
    // the winner's image.
    let s = w.status();
    assert_eq!(s["lock"], Value::Null, "{s}");
    assert_eq!(s["deployment"], Value::Null, "{s}");
    assert_eq!(s["live_color"], to, "{s}");
    let expected = if to == "green" { (0, 100) } else { (100, 0) };
    assert_eq!(w.prod(), expected);
    assert_eq!(w.service_image(to), *image);
    (id, image.clone(), format!("racer-{k}"))
}

#[test]
fn eight_concurrent_deploys_one_proceeds_and_history_lists_every_outcome() {
    let w = World::new("", |_| {});
    let first = w.journal_ids();
    assert_eq!(first.len(), 1, "the first deploy's journal");

    let (winner, winner_image, winner_user) = race(&w, "green");
    // Only the winner journaled anything; the losers never got past the lock.
    let ids = w.journal_ids();
    assert_eq!(ids, [first[0].clone(), winner.clone()]);
    assert!(!w.lock_path().exists(), "lock.json left behind");
    let rec = journal_records(&w.journal_file(&winner));
    assert_eq!(rec[0]["entry"]["type"], "started");
    assert_eq!(rec.last().unwrap()["entry"]["type"], "finished");
    assert_eq!(rec.last().unwrap()["entry"]["outcome"], "deployed");

    // A standalone rollback (green → blue), journaled as a `rollback` entry.
    w.cmd(&["rollback"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (100, 0));

    // A deploy that can never get healthy (every green target fails its health check, through
    // the fault proxy) rolls back with a failing signal. Same environment name, same work dir,
    // same journal.
    let sick = w.sick("green");
    let greedy = common::local_env(
        &w.envs.path().join("greedy"),
        3,
        &FAST.replace("\"20s\"", "\"2s\""),
    );
    let out = w
        .bg()
        .endpoint(sick.url())
        .args(["deploy", "--env", greedy.to_str().unwrap(), "--image", V2])
        .run();
    out.assert_code(5);
    assert!(out.stderr.contains("target-health"), "{out}");
    assert_eq!(w.prod(), (100, 0));

    let h = w.history();
    assert_eq!(h["env"], "local");
    assert!(
        h["backend"].as_str().unwrap().contains("local files"),
        "{h}"
    );
    let d = h["deployments"].as_array().expect("deployments");
    let got: Vec<_> = d
        .iter()
        .map(|e| {
            (
                e["command"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["from_color"].as_str(),
                e["to_color"].as_str(),
                e["image"].as_str(),
            )
        })
        .collect();
    // Newest first.
    assert_eq!(
        got,
        [
            (
                "deploy",
                "rolled-back",
                Some("blue"),
                Some("green"),
                Some(V2)
            ),
            ("rollback", "rolled-back", Some("green"), Some("blue"), None),
            (
                "deploy",
                "deployed",
                Some("blue"),
                Some("green"),
                Some(winner_image.as_str())
            ),
            ("deploy", "deployed", None, Some("blue"), Some(V1)),
        ],
        "{h:#}"
    );
    let started: Vec<u64> = d
        .iter()
        .map(|e| e["started_ms"].as_u64().unwrap())
        .collect();
    assert!(started.windows(2).all(|p| p[0] >= p[1]), "{started:?}");
    assert_eq!(d[2]["id"], winner.as_str());
    assert_eq!(d[3]["id"], first[0].as_str());
    assert_eq!(d[2]["user"], winner_user.as_str());
    for e in &d[..2] {
        assert_eq!(e["user"], "journal-test", "{e}");
    }
    for e in d {
        assert_eq!(e["host"], hostname(), "{e}");
        assert!(e["duration_ms"].is_u64(), "a duration: {e}");
        assert!(e["finished"].is_string(), "{e}");
    }
    assert!(
        d[0]["duration_ms"].as_u64().unwrap() >= 2000,
        "2s of health timeout: {}",
        d[0]
    );
    assert_eq!(d[0]["failing_signal"], "target-health", "{}", d[0]);
    assert_eq!(d[1]["failing_signal"], Value::Null, "{}", d[1]);
    assert_eq!(d[2]["failing_signal"], Value::Null, "{}", d[2]);

    // --limit keeps the newest.
    let out = w
        .cmd(&["history"], &["--output", "json", "--limit", "2"])
        .run();
    out.assert_code(0);
    let limited = out.stdout_json()["deployments"].clone();
    assert_eq!(limited.as_array().unwrap().len(), 2);
    assert_eq!(limited[0]["id"], d[0]["id"]);

    // For people: one line per deployment with its outcome, and the failing signal.
    let out = w.cmd(&["history"], &[]).run();
    out.assert_code(0);
    let text = &out.stdout;
    for e in d {
        let (id, outcome) = (e["id"].as_str().unwrap(), e["outcome"].as_str().unwrap());
        let line = text
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{text}"));
        assert!(line.contains(outcome), "{line}");
        assert!(line.contains(e["command"].as_str().unwrap()), "{line}");
    }
    assert!(text.contains("failing signal: target-health"), "{text}");
    assert!(text.contains(&winner), "{text}");
    assert!(text.contains("rollback"), "{text}");
}

#[test]
fn eight_concurrent_deploys_with_the_dynamodb_backend() {
    let journal = format!("journal {{\n  backend = \"dynamodb\"\n  table   = \"{TABLE}\"\n}}\n");
    let w = World::new(&journal, |emu| emu.create_state_table(TABLE));
    let (winner, winner_image, winner_user) = race(&w, "green");

    // Nothing went to local files: the journal and the lock live in the table.
    assert!(
        !w.journal_dir().exists(),
        "the DynamoDB backend wrote local journal files: {:?}",
        files(&w.journal_dir()).keys()
    );
    let items = table_keys(&w.emu);
    assert!(!items.contains(&"lock".to_string()), "lock left: {items:?}");
    let winner_records = items
        .iter()
        .filter(|sk| sk.starts_with(&format!("journal#{winner}#")))
        .count();
    assert!(winner_records >= 3, "{items:?}");
    // The losers never wrote a record: two deployments in all.
    let mut ids: Vec<&str> = items
        .iter()
        .filter_map(|sk| sk.strip_prefix("journal#"))
        .filter_map(|rest| rest.rsplit_once('#').map(|(id, _)| id))
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 2, "{items:?}");

    let h = w.history();
    assert!(h["backend"].as_str().unwrap().contains(TABLE), "{h}");
    let d = h["deployments"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{h:#}");
    assert_eq!(d[0]["id"], winner.as_str());
    assert_eq!(d[0]["image"], winner_image.as_str());
    assert_eq!(d[0]["outcome"], "deployed");
    assert_eq!(
        (d[0]["from_color"].as_str(), d[0]["to_color"].as_str()),
        (Some("blue"), Some("green"))
    );
    assert_eq!(d[0]["user"], winner_user.as_str());
    assert_eq!(d[1]["image"], V1);
    assert_eq!(d[1]["outcome"], "deployed");
    assert_eq!(d[1]["user"], "journal-test");
}

/// Sort keys of the environment's items, read from the table with the SDK.
fn table_keys(emu: &Emulator) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config());
    let items = emu
        .block_on(
            ddb.query()
                .table_name(TABLE)
                .consistent_read(true)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S("env#local".into()))
                .send(),
        )
        .expect("Query");
    items
        .items()
        .iter()
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect()
}

#[test]
fn corrupt_journals_stale_locks_and_an_interrupted_deployment() {
    let w = World::new("", |_| {});
    let [id] = <[String; 1]>::try_from(w.journal_ids()).unwrap();
    let path = w.journal_file(&id);
    let orig = std::fs::read(&path).unwrap();
    let lines: Vec<&[u8]> = orig.split_inclusive(|&b| b == b'\n').collect();
    let n = lines.len();
    assert!(n >= 4, "a deploy journals more than that");
    let all_but_last = lines[..n - 1].concat();
    let shown = path.display().to_string();

    // --- 4. Corrupt journals are detected, never ignored; `journal repair` mends them.
    let last = String::from_utf8(lines[n - 1].to_vec()).unwrap();
    assert!(last.contains("\"schema\":1"), "{last}");
    let schema2 = [
        all_but_last.clone(),
        last.replacen("\"schema\":1", "\"schema\":2", 1)
            .into_bytes(),
    ]
    .concat();
    let cases = [
        (
            "cut",
            orig[..orig.len() - 10].to_vec(),
            format!("{shown}:{n}"),
            vec!["cut off"],
            n - 1,
        ),
        (
            "garbage",
            [orig.clone(), b"\x00\x00 not a record at all\n".to_vec()].concat(),
            format!("{shown}:{}", n + 1),
            vec!["not a journal record"],
            n,
        ),
        (
            "schema 2",
            schema2,
            format!("{shown}:{n}"),
            vec!["schema version 2", "this bluegreen reads version 1"],
            n - 1,
        ),
    ];
    for (name, damaged, location, problems, kept) in cases {
        std::fs::write(&path, &damaged).unwrap();
        let aws_before = w.emu.snapshot();
        let tf_before = state_snapshot(w.work.path());
        let journal_before = files(&w.journal_dir());

        let out = w.cmd(&["history"], &["--output", "json"]).run();
        out.assert_code(7);
        for needle in [location.as_str(), "journal repair"]
            .iter()
            .chain(&problems)
        {
            assert!(out.stderr.contains(needle), "{name}: no {needle:?}\n{out}");
        }
        let out = w.deploy(V2);
        out.assert_code(7);
        for needle in [location.as_str()].iter().chain(&problems) {
            assert!(out.stderr.contains(needle), "{name}: no {needle:?}\n{out}");
        }
        // Nothing moved, nothing was provisioned, nothing appended.
        assert_unchanged(&aws_before, &w.emu.snapshot());
        assert_eq!(tf_before, state_snapshot(w.work.path()), "{name}");
        assert_eq!(journal_before, files(&w.journal_dir()), "{name}");
        assert_eq!(w.prod(), (100, 0));

        // `status` (which initialises the stacks' Terraform data dirs to read their outputs)
        let out = w.cmd(&["status"], &["--output", "json"]).run();
        out.assert_code(7);
        assert!(out.stderr.contains(&location), "{name}\n{out}");
        // …but the listener is still shown, with the damage named.
        let s = out.stdout_json();
        assert_eq!(s["weights"]["blue"], 100, "{name}: {s}");
        assert!(
            s["journal_error"].as_str().unwrap().contains(&location),
            "{name}: {s}"
        );
        // `rollback` without a color refuses (it cannot know where the deployment started);
        // with one it works even now (it reads the stacks' outputs, so it runs after the
        // "nothing changed" checks): all traffic is already on blue, so nothing moves.
        let out = w.cmd(&["rollback"], &[]).run();
        out.assert_code(7);
        assert!(out.stderr.contains("--to blue|green"), "{name}\n{out}");
        let out = w.cmd(&["rollback"], &["--to", "blue"]).run();
        out.assert_code(0);
        assert!(out.stderr.contains("rolling back anyway"), "{name}\n{out}");

        let out = w
            .cmd(
                &["journal", "repair"],
                &["--deployment", &id, "--output", "json"],
            )
            .run();
        out.assert_code(0);
        let r = out.stdout_json();
        assert_eq!(r["outcome"], "repaired", "{name}: {r}");
        assert_eq!(r["kept"], kept, "{name}: {r}");
        let backup = PathBuf::from(r["backup"].as_str().unwrap());
        assert!(
            backup
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{id}.jsonl.damaged-")),
            "{name}: {r}"
        );
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            damaged,
            "{name}: the original, saved"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            lines[..kept].concat(),
            "{name}: the good prefix"
        );
        let h = w.history();
        assert_eq!(h["deployments"][0]["id"], id.as_str(), "{name}");
        assert_eq!(h["deployments"][0]["records"], kept, "{name}");
        // Put the intact journal back for the next case.
        std::fs::write(&path, &orig).unwrap();
    }
    let backups = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"))
        .count();
    assert_eq!(backups, 3);
    assert_eq!(w.history()["deployments"][0]["outcome"], "deployed");

    // --- 6. An interrupted deployment: a journal whose deploy started and never finished
    // (its process gone), written by hand in the shape bluegreen writes.
    let mut started: Value = serde_json::from_slice(lines[0]).unwrap();
    assert_eq!(started["entry"]["type"], "started", "{started}");
    // An id of the shape bluegreen makes (UTC time to the millisecond, then 16 bits), newer
    // than every other one.
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':', '.'], "");
    let crashed = format!("{stamp}-ffff");
    assert!(crashed > id, "{crashed} sorts after {id}");
    let at_ms = now_ms();
    started["deployment"] = json!(crashed);
    started["seq"] = json!(1);
    started["at_ms"] = json!(at_ms);
    started["at"] =
        json!(humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string());
    let e = &mut started["entry"];
    e["user"] = json!("crashed-ci");
    e["pid"] = json!(DEAD_PID);
    e["image"] = json!(V3);
    e["old"] = json!("blue");
    e["new"] = json!("green");
    e["before"] = json!({"blue": 100, "green": 0});
    let crashed_path = w.journal_file(&crashed);
    std::fs::write(
        &crashed_path,
        serde_json::to_string(&started).unwrap() + "\n",
    )
    .unwrap();

    let s = w.status();
    assert_eq!(s["deployment"]["id"], crashed.as_str(), "{s}");
    assert_eq!(s["deployment"]["running"], false, "{s}");
    assert_eq!(s["deployment"]["outcome"], Value::Null, "{s}");
    assert_eq!(s["deployment"]["image"], V3, "{s}");
    assert_eq!(s["lock"], Value::Null, "{s}");
    let out = w.cmd(&["status"], &[]).run();
    out.assert_code(0);
    assert!(out.stdout.contains("INTERRUPTED"), "{out}");

    let journal_before = files(&w.journal_dir());
    let out = w.deploy(V2);
    out.assert_code(7);
    for needle in [
        crashed.as_str(),
        "was interrupted",
        "bluegreen resume --env",
        "bluegreen rollback --env",
    ] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    assert_eq!(
        journal_before,
        files(&w.journal_dir()),
        "a refused deploy wrote"
    );
    assert_eq!(w.prod(), (100, 0));

    // `rollback` ends it: traffic is already on the color it started from.
    let out = w.cmd(&["rollback"], &["--output", "json"]).run();
    out.assert_code(0);
    assert_eq!(result_json(&out)["ended"], crashed.as_str(), "{out}");
    let rec = journal_records(&crashed_path);
    let end = rec.last().unwrap();
    assert_eq!(end["entry"]["type"], "finished", "{rec:#?}");
    assert_eq!(end["entry"]["outcome"], "rolled-back", "{rec:#?}");
    assert_eq!(end["seq"], rec.len(), "{rec:#?}");
    assert_eq!(w.status()["deployment"], Value::Null);
    assert_eq!(w.prod(), (100, 0));

    // --- 5. A stale lock (its holder, on this host, is gone) is taken over by the next
    // deploy, which works again now, and says so in its journal.
    std::fs::write(
        w.lock_path(),
        lock_doc(&hostname(), DEAD_PID, "20000101T000000Z-dead"),
    )
    .unwrap();
    let s = w.status();
    assert_eq!(s["lock"]["holder"]["pid"], DEAD_PID, "{s}");
    assert!(
        s["lock"]["stale"]
            .as_str()
            .unwrap_or("")
            .contains("no longer exists"),
        "{s}"
    );
    let out = w.deploy(V2);
    out.assert_code(0);
    assert!(
        out.stdout.contains("took over the environment lock"),
        "{out}"
    );
    let taker = result_json(&out)["deployment"].as_str().unwrap().to_owned();
    assert_eq!(w.prod(), (0, 100));
    assert!(!w.lock_path().exists(), "the taker released the lock");
    let rec = journal_records(&w.journal_file(&taker));
    let over = rec
        .iter()
        .find(|r| r["entry"]["type"] == "lock-taken-over")
        .unwrap_or_else(|| panic!("no lock-taken-over record: {rec:#?}"));
    assert_eq!(over["entry"]["previous"]["holder"]["pid"], DEAD_PID);
    assert!(
        over["entry"]["reason"]
            .as_str()
            .unwrap()
            .contains("no longer exists"),
        "{over}"
    );
    let h = w.history();
    let events = h["deployments"][0]["events"].to_string();
    assert_eq!(h["deployments"][0]["id"], taker.as_str());
    assert!(events.contains("took over the lock"), "{h:#}");

    // A live-looking lock held on another host: LOCKED, naming it; nothing moves.
    let foreign = lock_doc("build-7.example.com", 4242, "20000101T000000Z-f00d");
    std::fs::write(w.lock_path(), &foreign).unwrap();
    let aws_before = w.emu.snapshot();
    let out = w.deploy(V3);
    out.assert_code(8);
    for needle in [
        "ghost@build-7.example.com",
        "pid 4242",
        "20000101T000000Z-f00d",
        "unlock",
    ] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    assert_unchanged(&aws_before, &w.emu.snapshot());
    assert_eq!(std::fs::read_to_string(w.lock_path()).unwrap(), foreign);

    // `unlock` needs --force; the lock stays until then.
    let out = w.cmd(&["unlock"], &[]).run();
    out.assert_code(2);
    assert!(out.stderr.contains("--force"), "{out}");
    assert!(out.stderr.contains("build-7.example.com"), "{out}");
    assert_eq!(std::fs::read_to_string(w.lock_path()).unwrap(), foreign);
    let s = w.status();
    assert_eq!(s["lock"]["holder"]["host"], "build-7.example.com", "{s}");
    assert_eq!(s["lock"]["stale"], Value::Null, "{s}");

    let out = w.cmd(&["unlock"], &["--force", "--output", "json"]).run();
    out.assert_code(0);
    // The holder is on another host and its lease runs: it may be alive, and it is said so.
    assert!(out.stdout.contains("the holder looks alive"), "{out}");
    let r = result_json(&out);
    assert_eq!(r["outcome"], "unlocked", "{r}");
    assert_eq!(r["removed"]["holder"]["host"], "build-7.example.com", "{r}");
    assert!(!w.lock_path().exists());
    let out = w.cmd(&["status"], &[]).run();
    out.assert_code(0);
    assert!(out.stdout.contains("lock:        free"), "{out}");
    assert_eq!(w.status()["lock"], Value::Null);
    assert_eq!(w.prod(), (0, 100));
}

#[test]
fn sigterm_rolls_back_and_a_deploy_that_loses_its_lock_stops_acting() {
    let w = World::new("journal { lease = \"3s\" }\n", |_| {});
    let logs = tempfile::tempdir().unwrap();

    // SIGTERM (a cancelled CI job) while paused at 50 %: traffic goes back, verified, exit 5.
    let log = logs.path().join("sigterm.log");
    let (mut child, id) = w.deploy_until_paused(V2, &log);
    assert_eq!(w.prod(), (50, 50));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        wait_exit(&mut child, &log),
        5,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(w.prod(), (100, 0));
    let last = std::fs::read_to_string(w.journal_file(&id)).unwrap();
    let last: Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(last["entry"]["type"], "finished", "{last}");
    assert_eq!(last["entry"]["outcome"], "rolled-back", "{last}");
    assert!(
        last["entry"]["detail"]
            .as_str()
            .unwrap()
            .contains("SIGTERM"),
        "{last}"
    );
    assert!(w.status()["lock"].is_null());

    // The lock is removed under a paused deploy: at its next renewal (every lease/3 = 1 s) it
    // finds the lock gone and stops without touching the listener again (exit 6, loud).
    let log = logs.path().join("lost.log");
    let (mut child, id) = w.deploy_until_paused(V3, &log);
    w.cmd(&["unlock"], &["--force"]).run().assert_code(0);
    let started = std::time::Instant::now();
    assert_eq!(
        wait_exit(&mut child, &log),
        6,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("the environment lock was taken from this deploy"),
        "{text}"
    );
    // It did not move traffic on the way out, and its journal says who removed the lock.
    assert_eq!(w.prod(), (50, 50));
    let journal = std::fs::read_to_string(w.journal_file(&id)).unwrap();
    assert!(journal.contains("\"type\":\"lock-forced\""), "{journal}");
    assert!(!journal.contains("\"type\":\"finished\""), "{journal}");
    // It is interrupted now: status says so, resume continues it (50 % verified, paused).
    let s = w.status();
    assert_eq!(s["deployment"]["id"], id.as_str(), "{s}");
    assert_eq!(s["deployment"]["running"], false, "{s}");
    assert_eq!(s["deployment"]["live_matches_journal"], true, "{s}");
    w.cmd(&["rollback"], &[]).run().assert_code(0);
    assert_eq!(w.prod(), (100, 0));
    assert!(w.status()["deployment"].is_null());

    // --lock-timeout: a second deploy waits for the lock instead of exiting 8 at once. While
    // the first waits at its pause, a 2 s wait runs out (exit 8, "waited 2s"); a 1 m wait gets
    // the lock when the first, promoted, finishes — and then deploys.
    let log = logs.path().join("first.log");
    let (mut first, _) = w.deploy_until_paused(V2, &log);
    let started = std::time::Instant::now();
    let out = w
        .cmd(&["deploy"], &["--image", V3, "--lock-timeout", "2s"])
        .run();
    out.assert_code(8);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    assert!(out.stderr.contains("(waited 2s)"), "{out}");
    let waiting_log = logs.path().join("waiting.log");
    let mut waiting = w
        .cmd(
            &["deploy"],
            &[
                "--image",
                V3,
                "--lock-timeout",
                "1m",
                "--strategy",
                "all-at-once",
            ],
        )
        .spawn(&waiting_log);
    thread::sleep(std::time::Duration::from_millis(1500));
    w.cmd(&["promote"], &[]).run().assert_code(0);
    assert_eq!(
        wait_exit(&mut first, &log),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(w.prod(), (0, 100));
    let code = wait_exit(&mut waiting, &waiting_log);
    let text = std::fs::read_to_string(&waiting_log).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("waiting up to 1m for the environment lock"),
        "{text}"
    );
    assert_eq!(w.prod(), (100, 0), "the waiting deploy went to blue");

    // Someone moves every production route to green with the AWS API, behind bluegreen's back:
    // the next deploy says the journal and the listener disagree (and goes on from green).
    w.emu.boto3(&format!(
        r#"
import boto3
elb = boto3.client("elbv2")
lb = elb.describe_load_balancers(Names=["{LB}"])["LoadBalancers"][0]["LoadBalancerArn"]
tgs = {{t["TargetGroupName"]: t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]}}
fwd = [{{"Type": "forward", "ForwardConfig": {{"TargetGroups": [
    {{"TargetGroupArn": tgs["bg-local-blue"], "Weight": 0}},
    {{"TargetGroupArn": tgs["bg-local-green"], "Weight": 100}}]}}}}]
for l in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]:
    if l["Port"] == 8080:
        continue
    elb.modify_listener(ListenerArn=l["ListenerArn"], DefaultActions=fwd)
    for r in elb.describe_rules(ListenerArn=l["ListenerArn"])["Rules"]:
        if not r["IsDefault"]:
            elb.modify_rule(RuleArn=r["RuleArn"], Actions=fwd)
"#
    ));
    assert_eq!(w.prod(), (0, 100));
    let out = w
        .cmd(&["deploy"], &["--image", V1, "--strategy", "all-at-once"])
        .run();
    out.assert_code(0);
    assert!(
        out.stderr.contains("left production at blue 100 / green 0, but the listener reads blue 0 / green 100: traffic was moved outside bluegreen"),
        "{out}"
    );
    assert_eq!(w.prod(), (100, 0));
}

/// Issue 12, item 8: deployments are ordered by when they started under the lock, not by their
/// ids (taken before the lock wait). B asks for the lock first (older id) and is frozen while it
/// waits; C asks later (newer id), gets the lock first and deploys; then B deploys. History
/// lists B as the newest and drift folds the journal in that order: no false drift.
/// Real: the binary, Terraform, moto. Emulated: a waiting command frozen with SIGSTOP.
#[test]
fn item_08_history_and_drift_follow_the_order_deployments_ran_not_their_ids() {
    const V4: &str = "public.ecr.aws/nginx/nginx:1.30";
    let w = World::new("", |_| {});
    let logs = tempfile::tempdir().unwrap();
    let a_log = logs.path().join("a.log");
    let (mut a, _) = w.deploy_until_paused(V2, &a_log);
    let waiting = |log: &std::path::Path| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("waiting up to")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "never waited for the lock"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let signal = |sig: &str, pid: u32| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let b_log = logs.path().join("b.log");
    let mut b = w
        .cmd(&["deploy"], &["--image", V4, "--lock-timeout", "10m"])
        .spawn(&b_log);
    waiting(&b_log);
    signal("-STOP", b.id());
    let c_log = logs.path().join("c.log");
    let mut c = w
        .cmd(&["deploy"], &["--image", V3, "--lock-timeout", "10m"])
        .spawn(&c_log);
    waiting(&c_log);
    w.cmd(&["promote"], &[]).run().assert_code(0);
    assert_eq!(wait_exit(&mut a, &a_log), 0);
    assert_eq!(wait_exit(&mut c, &c_log), 0);
    signal("-CONT", b.id());
    assert_eq!(wait_exit(&mut b, &b_log), 0);
    let h = w.history();
    let deployments = h["deployments"].as_array().unwrap();
    let (newest, before) = (&deployments[0], &deployments[1]);
    assert_eq!(newest["image"], V4, "{h}");
    assert_eq!(before["image"], V3, "{h}");
    // B's id is the older one: ordering by id would have put C last.
    assert!(
        newest["id"].as_str().unwrap() < before["id"].as_str().unwrap(),
        "{h}"
    );
    let drift = w.cmd(&["drift"], &["--output", "json"]).run();
    drift.assert_code(0);
}
