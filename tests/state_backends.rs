//! One behaviour suite for both state backends: the same functions run against local files
//! (`LocalStore` in a temp directory) and DynamoDB (`DynamoStore` on a table in the emulator).
//! A deploy must not be able to tell them apart: the lock goes to one holder at a time and
//! passes on only when the holder is provably gone, records are numbered without gaps or
//! repeats, damage is reported with its location and repaired without losing the good prefix.
//!
//! Damage is written behind the store's back ([`Backend::write_raw_record`]): bytes appended to
//! the journal file, or an item put with the SDK directly.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use bluegreen::state::dynamo::DynamoStore;
use bluegreen::state::local::LocalStore;
use bluegreen::state::lock::hostname;
use bluegreen::state::{
    now_ms, rfc3339, Acquired, Entry, Holder, LockInfo, Record, Repaired, Request, Store,
    StoreError, SCHEMA_VERSION,
};
use common::Emulator;
use tokio::runtime::{Handle, Runtime};

const LEASE: Duration = Duration::from_secs(60);
const TABLE: &str = "bluegreen-state";
/// PIDs above the kernel's maximum (2^22) never exist.
const DEAD_PID: u32 = u32::MAX - 1;

// ---------------------------------------------------------------------------------------------
// The two backends

/// A store under test, and what the suite needs besides it.
struct Backend {
    store: Store,
    rt: Handle,
    state: State,
}

/// Where the backend keeps its state: to damage it behind the store's back, and to open more
/// stores on it (as more processes would).
enum State {
    Local {
        work: tempfile::TempDir,
        _rt: Runtime,
    },
    Dynamo {
        conf: Box<aws_config::SdkConfig>,
        env: String,
    },
}

impl Backend {
    fn local() -> Backend {
        let work = tempfile::tempdir().expect("a temp dir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Backend {
            store: Store::Local(LocalStore::new(work.path())),
            rt: rt.handle().clone(),
            state: State::Local { work, _rt: rt },
        }
    }

    /// A store for environment `env` on the emulator's table; one environment per behaviour,
    /// so behaviours never see each other's items.
    fn dynamo(emulator: &Emulator, env: &str) -> Backend {
        let conf = emulator.sdk_config();
        Backend {
            store: Store::Dynamo(DynamoStore::new(&conf, TABLE, env)),
            rt: emulator.block_on(async { Handle::current() }),
            state: State::Dynamo {
                conf: Box::new(conf),
                env: env.to_string(),
            },
        }
    }

    fn run<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Another store on the same state, as another process would open it.
    fn reopen(&self) -> Store {
        match &self.state {
            State::Local { work, .. } => Store::Local(LocalStore::new(work.path())),
            State::Dynamo { conf, env } => Store::Dynamo(DynamoStore::new(conf, TABLE, env)),
        }
    }

    fn journal_file(&self, id: &str) -> PathBuf {
        let State::Local { work, .. } = &self.state else {
            unreachable!("only the local backend has files")
        };
        work.path()
            .join("journal/deployments")
            .join(format!("{id}.jsonl"))
    }

    fn dynamo_client(&self) -> aws_sdk_dynamodb::Client {
        let State::Dynamo { conf, .. } = &self.state else {
            unreachable!("only the DynamoDB backend has a table")
        };
        aws_sdk_dynamodb::Client::new(conf)
    }

    fn pk(&self) -> String {
        match &self.state {
            State::Dynamo { env, .. } => format!("env#{env}"),
            State::Local { .. } => unreachable!("only the DynamoDB backend has keys"),
        }
    }

    fn put_raw(&self, sk: &str, doc: Option<&str>) {
        let mut put = self
            .dynamo_client()
            .put_item()
            .table_name(TABLE)
            .item("pk", AttributeValue::S(self.pk()))
            .item("sk", AttributeValue::S(sk.into()));
        if let Some(doc) = doc {
            put = put.item("doc", AttributeValue::S(doc.into()));
        }
        self.run(put.send()).expect("PutItem");
    }

    /// Stores `doc` as record `seq` of `id` without any check.
    fn write_raw_record(&self, id: &str, seq: u64, doc: &str) {
        match &self.state {
            State::Local { .. } => {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(self.journal_file(id))
                    .expect("the journal file exists");
                f.write_all(format!("{doc}\n").as_bytes()).unwrap();
            }
            State::Dynamo { .. } => self.put_raw(&format!("journal#{id}#{seq:010}"), Some(doc)),
        }
    }

    /// Stores `doc` as the lock document without any check.
    fn write_raw_lock(&self, doc: &str) {
        match &self.state {
            State::Local { work, .. } => {
                let dir = work.path().join("journal");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("lock.json"), doc).unwrap();
            }
            State::Dynamo { .. } => self.put_raw("lock", Some(doc)),
        }
    }

    /// Where a corruption error must say record `seq` of `id` is.
    fn record_location(&self, id: &str, seq: u64) -> String {
        match &self.state {
            State::Local { .. } => format!("{}:{seq}", self.journal_file(id).display()),
            State::Dynamo { .. } => format!(
                "DynamoDB table {TABLE}, pk={}, sk=journal#{id}#{seq:010}",
                self.pk()
            ),
        }
    }

    fn lock_location(&self) -> String {
        match &self.state {
            State::Local { work, .. } => {
                work.path().join("journal/lock.json").display().to_string()
            }
            State::Dynamo { .. } => format!("DynamoDB table {TABLE}, pk={}, sk=lock", self.pk()),
        }
    }

    /// Whether the damaged original that `repair` set aside still holds `text`.
    fn backup_holds(&self, id: &str, repaired: &Repaired, text: &str) -> bool {
        match &self.state {
            State::Local { .. } => std::fs::read_to_string(&repaired.backup)
                .unwrap_or_else(|e| panic!("read the backup {}: {e}", repaired.backup))
                .contains(text),
            State::Dynamo { .. } => {
                let prefix = format!("damaged#{id}#");
                assert!(repaired.backup.contains(&prefix), "{repaired:?}");
                let query = self
                    .dynamo_client()
                    .query()
                    .table_name(TABLE)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", AttributeValue::S(self.pk()))
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix))
                    .send();
                let out = self.run(query).expect("Query");
                out.items().iter().any(|item| {
                    item.get("doc")
                        .and_then(|d| d.as_s().ok())
                        .is_some_and(|d| d.contains(text))
                })
            }
        }
    }
}

fn holder(name: &str) -> Holder {
    Holder {
        user: format!("user-{name}"),
        host: hostname(),
        pid: std::process::id(),
        command: "deploy".into(),
        deployment: format!("dep-{name}"),
    }
}

fn record(id: &str, seq: u64) -> Record {
    let at_ms = now_ms();
    Record {
        schema: SCHEMA_VERSION,
        deployment: id.into(),
        seq,
        at_ms,
        at: rfc3339(at_ms),
        entry: Entry::BakePassed { step: seq as usize },
        fence: None,
    }
}

fn append_all(b: &Backend, id: &str, seqs: std::ops::RangeInclusive<u64>) -> Vec<Record> {
    seqs.map(|seq| {
        let r = record(id, seq);
        b.run(b.store.append(&r))
            .unwrap_or_else(|e| panic!("append {id} #{seq}: {e}"));
        r
    })
    .collect()
}

fn taken(result: Acquired) -> (LockInfo, Option<(LockInfo, String)>) {
    match result {
        Acquired::Taken { lock, took_over } => (lock, took_over),
        Acquired::Held(l) => panic!("expected to take the lock, but it is held: {l}"),
    }
}

fn held(result: Acquired) -> LockInfo {
    match result {
        Acquired::Held(l) => l,
        Acquired::Taken { lock, .. } => panic!("expected a held lock, but it was taken: {lock}"),
    }
}

fn sleep_past(lock: &LockInfo) {
    while now_ms() <= lock.expires_ms {
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------------------------
// The lock

fn lock_goes_to_one_holder_at_a_time(b: &Backend) {
    let (a, other) = (holder("a"), holder("b"));
    assert_eq!(b.run(b.store.lock_info()).unwrap(), None);

    let (lock, took_over) = taken(b.run(b.store.acquire(&a, LEASE)).unwrap());
    assert_eq!(lock.holder, a);
    assert_eq!(took_over, None);
    assert_eq!(b.run(b.store.lock_info()).unwrap(), Some(lock.clone()));

    // The refusal names the holder: user, host, pid, command and deployment.
    let current = held(b.run(b.store.acquire(&other, LEASE)).unwrap());
    assert_eq!(current, lock);
    assert_eq!(current.holder, a);

    let (again, took_over) = taken(b.run(b.store.acquire(&a, LEASE)).unwrap());
    assert_eq!((again.holder, took_over), (a, None));
}

fn a_stale_lock_is_taken_over(b: &Backend) {
    let (a, next) = (holder("a"), holder("next"));
    let (short, _) = taken(
        b.run(b.store.acquire(&a, Duration::from_millis(1)))
            .unwrap(),
    );
    sleep_past(&short);
    let (lock, took_over) = taken(b.run(b.store.acquire(&next, LEASE)).unwrap());
    assert_eq!(lock.holder, next);
    let (old, reason) = took_over.expect("a takeover is reported");
    assert_eq!(old, short);
    assert!(reason.contains("lease ran out"), "{reason}");

    // A holder on this host whose process is gone, lease or not.
    b.run(b.store.release(&next)).unwrap();
    let dead = Holder {
        pid: DEAD_PID,
        ..holder("dead")
    };
    let (dead_lock, _) = taken(b.run(b.store.acquire(&dead, LEASE)).unwrap());
    let (lock, took_over) = taken(b.run(b.store.acquire(&next, LEASE)).unwrap());
    assert_eq!(lock.holder, next);
    let (old, reason) = took_over.expect("a takeover is reported");
    assert_eq!(old, dead_lock);
    assert!(reason.contains("no longer exists"), "{reason}");
}

fn renew_extends_the_lease_until_the_lock_is_lost(b: &Backend) {
    let (a, next) = (holder("a"), holder("next"));
    let (first, _) = taken(b.run(b.store.acquire(&a, Duration::from_secs(10))).unwrap());
    let renewed = b.run(b.store.renew(&a, LEASE)).unwrap();
    assert!(
        renewed.expires_ms > first.expires_ms,
        "{renewed} vs {first}"
    );
    assert_eq!(renewed.taken_ms, first.taken_ms);
    assert_eq!(b.run(b.store.lock_info()).unwrap(), Some(renewed));

    // Taken over after its lease ran out: the old holder learns who has it now.
    let (short, _) = taken(
        b.run(b.store.acquire(&a, Duration::from_millis(1)))
            .unwrap(),
    );
    sleep_past(&short);
    let (theirs, _) = taken(b.run(b.store.acquire(&next, LEASE)).unwrap());
    match b.run(b.store.renew(&a, LEASE)) {
        Err(StoreError::LockLost { now }) => assert_eq!(now.map(|b| *b), Some(theirs.clone())),
        other => panic!("renew after a takeover: {other:?}"),
    }
    assert_eq!(b.run(b.store.lock_info()).unwrap(), Some(theirs));

    b.run(b.store.release(&next)).unwrap();
    match b.run(b.store.renew(&next, LEASE)) {
        Err(StoreError::LockLost { now: None }) => {}
        other => panic!("renew of a released lock: {other:?}"),
    }
}

fn release_frees_only_the_holders_lock(b: &Backend) {
    let (a, other) = (holder("a"), holder("b"));
    let (lock, _) = taken(b.run(b.store.acquire(&a, LEASE)).unwrap());
    b.run(b.store.release(&other)).unwrap();
    assert_eq!(b.run(b.store.lock_info()).unwrap(), Some(lock));
    b.run(b.store.release(&a)).unwrap();
    assert_eq!(b.run(b.store.lock_info()).unwrap(), None);
    b.run(b.store.release(&a)).unwrap();
    let (lock, took_over) = taken(b.run(b.store.acquire(&other, LEASE)).unwrap());
    assert_eq!((lock.holder, took_over), (other, None));
}

fn force_unlock_removes_only_the_lock_seen(b: &Backend) {
    let a = holder("a");
    taken(b.run(b.store.acquire(&a, Duration::from_secs(10))).unwrap());
    let seen = b.run(b.store.lock_info()).unwrap().unwrap();
    // The holder renews between `unlock` showing the lock and the operator confirming.
    let renewed = b.run(b.store.renew(&a, LEASE)).unwrap();
    assert!(!b.run(b.store.force_unlock(&seen)).unwrap());
    assert_eq!(b.run(b.store.lock_info()).unwrap(), Some(renewed.clone()));
    assert!(b.run(b.store.force_unlock(&renewed)).unwrap());
    assert_eq!(b.run(b.store.lock_info()).unwrap(), None);
    assert!(
        !b.run(b.store.force_unlock(&renewed)).unwrap(),
        "nothing left"
    );

    // A lock document that does not parse is reported, and a forced unlock removes it.
    b.write_raw_lock("{\"schema\":1,\"holder\":");
    match b.run(b.store.lock_info()) {
        Err(StoreError::Corrupt { location, fix, .. }) => {
            assert_eq!(location, b.lock_location());
            assert!(fix.contains("unlock"), "{fix}");
        }
        other => panic!("a damaged lock document: {other:?}"),
    }
    assert!(matches!(
        b.run(b.store.acquire(&a, LEASE)),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(b.run(b.store.force_unlock(&seen)).unwrap());
    assert_eq!(b.run(b.store.lock_info()).unwrap(), None);
    taken(b.run(b.store.acquire(&a, LEASE)).unwrap());
}

/// 8 contenders at once, on one store and then on 8 stores (8 processes), for a free lock and
/// for a stale one: exactly one wins, and the 7 others are told who.
fn eight_contenders_one_winner(b: &Backend) {
    let shared = [&b.store];
    let own: Vec<Store> = (0..8).map(|_| b.reopen()).collect();
    let own: Vec<&Store> = own.iter().collect();
    for (round, stores) in [("one store", &shared[..]), ("eight stores", &own[..])] {
        let winner = one_winner(round, &contend(b, stores, round), false);
        b.run(b.store.release(&winner.holder)).unwrap();

        let dead = Holder {
            pid: DEAD_PID,
            ..holder("dead")
        };
        taken(b.run(b.store.acquire(&dead, LEASE)).unwrap());
        let winner = one_winner(round, &contend(b, stores, round), true);
        b.run(b.store.release(&winner.holder)).unwrap();
    }
}

fn contend(b: &Backend, stores: &[&Store], round: &str) -> Vec<Acquired> {
    let start = Barrier::new(8);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (store, start, rt) = (stores[i % stores.len()], &start, b.rt.clone());
                scope.spawn(move || {
                    let me = holder(&format!("{round}-{i}"));
                    start.wait();
                    rt.block_on(store.acquire(&me, LEASE))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a contender panicked").expect("acquire"))
            .collect()
    })
}

fn one_winner(round: &str, results: &[Acquired], stale: bool) -> LockInfo {
    let winners: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Acquired::Taken { lock, took_over } => Some((lock, took_over)),
            Acquired::Held(_) => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{round}: {results:#?}");
    let (winner, took_over) = winners[0];
    match took_over {
        Some((old, reason)) if stale => {
            assert_eq!(old.holder.pid, DEAD_PID);
            assert!(reason.contains("no longer exists"), "{reason}");
        }
        None if !stale => {}
        other => panic!("{round}: takeover {other:?} (stale lock: {stale})"),
    }
    for r in results {
        if let Acquired::Held(l) = r {
            assert_eq!(l, winner, "{round}: every loser names the winner");
        }
    }
    winner.clone()
}

// ---------------------------------------------------------------------------------------------
// The journal

fn records_come_back_in_order_and_numbers_are_unique(b: &Backend) {
    let id = "20260101T000000Z-0001";
    let written = append_all(b, id, 1..=12);
    assert_eq!(b.run(b.store.records(id)).unwrap(), written);

    // A number taken, the last one again, and a gap (N + 2).
    for seq in [3, 12, 14] {
        match b.run(b.store.append(&record(id, seq))) {
            Err(StoreError::Conflict { deployment, seq: s }) => {
                assert_eq!((deployment.as_str(), s), (id, seq))
            }
            other => panic!("append #{seq} to 12 records: {other:?}"),
        }
    }
    assert_eq!(b.run(b.store.records(id)).unwrap(), written, "unchanged");
    append_all(b, id, 13..=13);
    assert_eq!(b.run(b.store.records(id)).unwrap().len(), 13);
}

fn deployments_are_listed_by_id_and_history_by_start(b: &Backend) {
    assert_eq!(b.run(b.store.deployments()).unwrap(), Vec::<String>::new());
    let ids = [
        "20260301T000000Z-cccc",
        "20260101T000000Z-aaaa",
        "20260201T000000Z-bbbb",
    ];
    for id in ids {
        append_all(b, id, 1..=3);
        // Distinct start times (records carry milliseconds).
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    b.run(b.store.put_request(ids[0], Request::Promote))
        .unwrap();
    taken(b.run(b.store.acquire(&holder("a"), LEASE)).unwrap());
    let mut sorted = ids.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(b.run(b.store.deployments()).unwrap(), sorted);
    assert_eq!(
        b.run(b.store.records("20990101T000000Z-0000")).unwrap(),
        vec![]
    );
    // History follows when each journal started (its first record), not the ids: an id is
    // taken before the lock wait (issue 12, item 8). These journals started in `ids` order.
    let history = b.run(b.store.history()).unwrap();
    let order: Vec<_> = history.iter().map(|s| s.id.clone()).collect();
    assert_eq!(order, ids.map(String::from).to_vec());
}

fn a_garbage_record_is_reported_and_repaired(b: &Backend) {
    let id = "20260101T000000Z-0002";
    let good = append_all(b, id, 1..=3);
    b.write_raw_record(id, 4, "\u{0}\u{0}garbage");
    match b.run(b.store.records(id)) {
        Err(StoreError::Corrupt {
            location,
            problem,
            fix,
        }) => {
            assert_eq!(location, b.record_location(id, 4));
            assert!(problem.contains("not a journal record"), "{problem}");
            assert!(fix.contains("journal repair"), "{fix}");
        }
        other => panic!("a garbage record: {other:?}"),
    }
    // Nothing is appended after damage: it would bury it.
    for seq in [4, 5] {
        assert!(b.run(b.store.append(&record(id, seq))).is_err(), "#{seq}");
    }

    let repaired = b.run(b.store.repair(id)).unwrap();
    assert_eq!(repaired.kept, 3, "{repaired:?}");
    assert!(
        repaired.problem.contains("not a journal record"),
        "{repaired:?}"
    );
    assert!(b.backup_holds(id, &repaired, "garbage"), "{repaired:?}");
    assert_eq!(b.run(b.store.records(id)).unwrap(), good);

    let next = append_all(b, id, 4..=4);
    assert_eq!(b.run(b.store.records(id)).unwrap()[3], next[0]);
    match b.run(b.store.repair(id)) {
        Err(StoreError::Backend { message, .. }) => {
            assert!(message.contains("not damaged"), "{message}")
        }
        other => panic!("repairing a sound journal: {other:?}"),
    }
}

fn another_schema_version_is_reported_and_repaired(b: &Backend) {
    let id = "20260101T000000Z-0003";
    let good = append_all(b, id, 1..=2);
    let future =
        serde_json::to_string(&record(id, 3))
            .unwrap()
            .replacen("\"schema\":1", "\"schema\":2", 1);
    b.write_raw_record(id, 3, &future);
    match b.run(b.store.records(id)) {
        Err(StoreError::Corrupt {
            location, problem, ..
        }) => {
            assert_eq!(location, b.record_location(id, 3));
            assert!(problem.contains("schema version 2"), "{problem}");
        }
        other => panic!("a schema 2 record: {other:?}"),
    }
    // The history refuses it too, rather than skipping the deployment.
    assert!(matches!(
        b.run(b.store.history()),
        Err(StoreError::Corrupt { .. })
    ));

    let repaired = b.run(b.store.repair(id)).unwrap();
    assert_eq!(repaired.kept, 2, "{repaired:?}");
    assert!(
        b.backup_holds(id, &repaired, "\"schema\":2"),
        "{repaired:?}"
    );
    assert_eq!(b.run(b.store.records(id)).unwrap(), good);
    append_all(b, id, 3..=4);
    assert_eq!(b.run(b.store.records(id)).unwrap().len(), 4);
}

fn a_request_is_taken_once(b: &Backend) {
    let (d1, d2) = ("20260101T000000Z-0004", "20260101T000000Z-0005");
    assert_eq!(b.run(b.store.take_request(d1)).unwrap(), None);
    b.run(b.store.put_request(d1, Request::Promote)).unwrap();
    b.run(b.store.put_request(d2, Request::Rollback)).unwrap();
    assert_eq!(
        b.run(b.store.take_request(d1)).unwrap(),
        Some(Request::Promote)
    );
    assert_eq!(b.run(b.store.take_request(d1)).unwrap(), None);

    // The newest request wins; another deployment's request is untouched.
    b.run(b.store.put_request(d1, Request::Rollback)).unwrap();
    b.run(b.store.put_request(d1, Request::Promote)).unwrap();
    assert_eq!(
        b.run(b.reopen().take_request(d1)).unwrap(),
        Some(Request::Promote)
    );
    assert_eq!(b.run(b.store.take_request(d1)).unwrap(), None);
    assert_eq!(
        b.run(b.store.take_request(d2)).unwrap(),
        Some(Request::Rollback)
    );
}

// ---------------------------------------------------------------------------------------------
// Running it

type Behaviour = fn(&Backend);

/// `(name, fn)` pairs, so a failure names its behaviour.
macro_rules! behaviours {
    ($($f:ident),* $(,)?) => {
        &[$((stringify!($f), $f as Behaviour)),*]
    };
}

const SUITE: &[(&str, Behaviour)] = behaviours![
    lock_goes_to_one_holder_at_a_time,
    a_stale_lock_is_taken_over,
    renew_extends_the_lease_until_the_lock_is_lost,
    release_frees_only_the_holders_lock,
    force_unlock_removes_only_the_lock_seen,
    eight_contenders_one_winner,
    records_come_back_in_order_and_numbers_are_unique,
    deployments_are_listed_by_id_and_history_by_start,
    a_garbage_record_is_reported_and_repaired,
    another_schema_version_is_reported_and_repaired,
    a_request_is_taken_once,
];

/// Runs every behaviour on a fresh backend and returns the names of all that failed, not just
/// the first (each failure's panic is printed as it happens).
fn run_suite<'a>(
    behaviours: &[(&'a str, Behaviour)],
    fresh: impl Fn(&str) -> Backend,
) -> Vec<&'a str> {
    behaviours
        .iter()
        .filter(|(name, behaviour)| {
            let b = fresh(name);
            catch_unwind(AssertUnwindSafe(|| behaviour(&b))).is_err()
        })
        .map(|(name, _)| *name)
        .collect()
}

#[test]
fn local_backend() {
    let failed = run_suite(SUITE, |_| Backend::local());
    assert!(failed.is_empty(), "local backend failed: {failed:?}");
}

#[test]
fn dynamodb_backend() {
    let emulator = Emulator::start();
    emulator.create_state_table(TABLE);
    let mut behaviours = SUITE.to_vec();
    behaviours.extend_from_slice(DYNAMO_ONLY);
    let failed = run_suite(&behaviours, |env| Backend::dynamo(&emulator, env));
    assert!(
        failed.is_empty(),
        "DynamoDB backend failed: {failed:?}\n--- emulator log (tail) ---\n{}",
        emulator.log_tail()
    );
}

// ---------------------------------------------------------------------------------------------
// DynamoDB only: the item layout documented in src/state/dynamo.rs

const DYNAMO_ONLY: &[(&str, Behaviour)] = behaviours![
    items_have_the_documented_layout,
    a_lock_item_without_a_document_can_be_forced,
    a_journal_larger_than_one_query_page_is_read_whole,
];

fn get_doc(b: &Backend, sk: &str) -> Option<String> {
    let get = b
        .dynamo_client()
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(b.pk()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send();
    let out = b.run(get).expect("GetItem");
    let item = out.item()?;
    Some(item.get("doc")?.as_s().expect("doc is a string").clone())
}

fn items_have_the_documented_layout(b: &Backend) {
    let id = "20260101T000000Z-0006";
    let r = append_all(b, id, 1..=1).remove(0);
    // A record's document is exactly the line the local backend writes.
    let local = Backend::local();
    local.run(local.store.append(&r)).unwrap();
    let line = std::fs::read_to_string(local.journal_file(id)).unwrap();
    let doc = get_doc(b, &format!("journal#{id}#0000000001")).expect("the record item");
    assert_eq!(format!("{doc}\n"), line);

    let (lock, _) = taken(b.run(b.store.acquire(&holder("a"), LEASE)).unwrap());
    let doc = get_doc(b, "lock").expect("the lock item");
    assert_eq!(serde_json::from_str::<LockInfo>(&doc).unwrap(), lock);

    b.run(b.store.put_request(id, Request::Rollback)).unwrap();
    let doc = get_doc(b, &format!("request#{id}")).expect("the request item");
    assert_eq!(doc, "\"rollback\"");
}

fn a_lock_item_without_a_document_can_be_forced(b: &Backend) {
    b.put_raw("lock", None);
    assert!(matches!(
        b.run(b.store.lock_info()),
        Err(StoreError::Corrupt { .. })
    ));
    let any = LockInfo::new(&holder("a"), 0, LEASE);
    assert!(b.run(b.store.force_unlock(&any)).unwrap());
    assert_eq!(b.run(b.store.lock_info()).unwrap(), None);
}

/// Query answers at most 1 MB per page (the emulator too): 12 items of 100 kB take two pages.
fn a_journal_larger_than_one_query_page_is_read_whole(b: &Backend) {
    let id = "20260101T000000Z-0007";
    let pad = "x".repeat(100_000);
    let written: Vec<Record> = (1..=12).map(|seq| record(id, seq)).collect();
    for r in &written {
        let put = b
            .dynamo_client()
            .put_item()
            .table_name(TABLE)
            .item("pk", AttributeValue::S(b.pk()))
            .item(
                "sk",
                AttributeValue::S(format!("journal#{id}#{:010}", r.seq)),
            )
            .item("doc", AttributeValue::S(serde_json::to_string(r).unwrap()))
            .item("pad", AttributeValue::S(pad.clone()))
            .send();
        b.run(put).expect("PutItem");
    }
    assert_eq!(b.run(b.store.records(id)).unwrap(), written);
    append_all(b, "20260101T000000Z-0008", 1..=1);
    assert_eq!(
        b.run(b.store.deployments()).unwrap(),
        ["20260101T000000Z-0007", "20260101T000000Z-0008"]
    );
}
