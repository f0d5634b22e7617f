//! The environment's durable state: the deployment journal and the environment lock.
//!
//! - **Journal**: every deployment has an id and an append-only list of records, each the
//!   intent or the verified outcome of one step, written durably *before* the step acts and
//!   *after* it is verified ([`journal`]). `history`, `status` and `resume` read it.
//! - **Lock**: one mutating command per environment at a time. The lock names its holder and
//!   carries a lease the holder renews while it works ([`lock`]).
//!
//! Two backends keep both, with the same behaviour (one test suite runs against each):
//! local files in the environment's work directory ([`local`], the default) and a DynamoDB
//! table with conditional writes ([`dynamo`], for pipelines on many machines).

pub mod dynamo;
pub mod journal;
pub mod local;
pub mod lock;

pub use journal::{Entry, Overridden, Record, Summary, Writer, SCHEMA_VERSION};
pub use lock::{Acquired, Holder, LockInfo};

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why the state store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A record with this sequence number exists already: someone else appended to this
    /// deployment's journal (or the same append was retried after it landed).
    #[error("journal conflict: deployment {deployment} already has record {seq}")]
    Conflict { deployment: String, seq: u64 },
    /// The lock is no longer ours: it was taken over or forcibly removed.
    #[error("the environment lock is no longer held by this process{}", .now.as_ref().map(|l| format!(" (now held by {l})")).unwrap_or_default())]
    LockLost { now: Option<Box<LockInfo>> },
    /// A record written under a lock that is no longer current (its fencing token is not the
    /// lock's): a writer that lost the lock may not add to any journal.
    #[error("journal record refused: it was written under the environment lock with fencing token {fence}, and the lock is no longer that one{}", .now.as_ref().map(|l| format!(" (now held by {l}, token {})", l.fence)).unwrap_or_else(|| " (nobody holds it now)".into()))]
    Fenced {
        fence: u64,
        now: Option<Box<LockInfo>>,
    },
    /// A journal or lock document that does not parse, or has the wrong schema version.
    #[error("corrupt state in {location}: {problem}\n  fix: {fix}")]
    Corrupt {
        /// File and line, or table and key.
        location: String,
        problem: String,
        fix: String,
    },
    /// The backend itself failed (disk, network, permissions).
    #[error("state backend ({backend}): {message}")]
    Backend { backend: String, message: String },
}

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Records kept (every one before the first damaged record).
    pub kept: usize,
    /// Where the damaged original was saved.
    pub backup: String,
    /// What was wrong.
    pub problem: String,
}

/// A request to the process that holds the lock, from a command run beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Request {
    /// Continue past a pause step.
    Promote,
    /// Put production traffic back on the color the deployment started from.
    Rollback,
    /// Production traffic may start (the holder journals the approval).
    Approve(journal::Approval),
}

impl Request {
    pub fn as_str(&self) -> &'static str {
        match self {
            Request::Promote => "promote",
            Request::Rollback => "rollback",
            Request::Approve(_) => "approve",
        }
    }
}

/// The configured backend, opened.
pub enum Store {
    Local(local::LocalStore),
    Dynamo(dynamo::DynamoStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Local($s) => $e,
            Store::Dynamo($s) => $e,
        }
    };
}

impl Store {
    /// The local backend: files under `work_env_dir/journal`.
    pub fn local(work_env_dir: &Path) -> Store {
        Store::Local(local::LocalStore::new(work_env_dir))
    }

    /// The DynamoDB backend: items of `table` keyed by the environment's name.
    pub fn dynamo(sdk: &aws_config::SdkConfig, table: &str, env: &str) -> Store {
        Store::Dynamo(dynamo::DynamoStore::new(sdk, table, env))
    }

    /// Where the state lives, in words: a directory, or a table and key.
    pub fn describe(&self) -> String {
        dispatch!(self, s => s.describe())
    }

    /// Takes the lock for `holder` if it is free, held by a provably dead process on this
    /// host, or its lease ran out (a takeover, reported in the result).
    pub async fn acquire(&self, holder: &Holder, lease: Duration) -> Result<Acquired, StoreError> {
        dispatch!(self, s => s.acquire(holder, lease).await)
    }

    /// Extends the lease; `LockLost` when the lock is no longer `holder`'s.
    pub async fn renew(&self, holder: &Holder, lease: Duration) -> Result<LockInfo, StoreError> {
        dispatch!(self, s => s.renew(holder, lease).await)
    }

    /// Releases the lock if `holder` still holds it (a no-op otherwise).
    pub async fn release(&self, holder: &Holder) -> Result<(), StoreError> {
        dispatch!(self, s => s.release(holder).await)
    }

    pub async fn lock_info(&self) -> Result<Option<LockInfo>, StoreError> {
        dispatch!(self, s => s.lock_info().await)
    }

    /// Removes the lock if it is still exactly `seen` (so a lock taken in between survives).
    pub async fn force_unlock(&self, seen: &LockInfo) -> Result<bool, StoreError> {
        dispatch!(self, s => s.force_unlock(seen).await)
    }

    /// Removes a lock document that does not parse (`unlock --force`). Returns whether one was
    /// there. The DynamoDB backend leaves this to a human (docs/operations.md): a damaged item
    /// there was written by something other than bluegreen.
    pub async fn force_unlock_damaged(&self) -> Result<bool, StoreError> {
        match self {
            Store::Local(s) => s.remove_damaged_lock(),
            Store::Dynamo(s) => Err(StoreError::Backend {
                backend: s.describe(),
                message: "the lock item does not parse; delete the item with sk = \"lock\" by hand after checking no bluegreen command runs".into(),
            }),
        }
    }

    /// Appends one record durably; `Conflict` when its sequence number is taken.
    pub async fn append(&self, record: &Record) -> Result<(), StoreError> {
        dispatch!(self, s => s.append(record).await)
    }

    /// Every record of `deployment`, in order, checked: a record that does not parse, has
    /// another schema version, belongs elsewhere or breaks the sequence is `Corrupt`.
    pub async fn records(&self, deployment: &str) -> Result<Vec<Record>, StoreError> {
        dispatch!(self, s => s.records(deployment).await)
    }

    /// Deployment ids, oldest first.
    pub async fn deployments(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.deployments().await)
    }

    pub async fn put_request(&self, deployment: &str, req: Request) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_request(deployment, req).await)
    }

    /// Consumes the pending request for `deployment`, if any.
    pub async fn take_request(&self, deployment: &str) -> Result<Option<Request>, StoreError> {
        dispatch!(self, s => s.take_request(deployment).await)
    }

    /// Keeps the records before the first damaged one and saves the damaged ones aside.
    pub async fn repair(&self, deployment: &str) -> Result<Repaired, StoreError> {
        dispatch!(self, s => s.repair(deployment).await)
    }

    /// The summary of every deployment, oldest first. A corrupt journal is an error, never
    /// skipped.
    pub async fn history(&self) -> Result<Vec<Summary>, StoreError> {
        Ok(self
            .journals()
            .await?
            .iter()
            .filter_map(|r| Summary::of(r))
            .collect())
    }

    /// Every deployment's records, oldest deployment first — by when it started under the
    /// lock (its first record), not by its id: an id is taken before the lock wait, so a
    /// command that queued behind others with `--lock-timeout` has an older id than the
    /// deployments that ran before it. A corrupt journal is an error.
    pub async fn journals(&self) -> Result<Vec<Vec<Record>>, StoreError> {
        let mut out = Vec::new();
        for id in self.deployments().await? {
            out.push(self.records(&id).await?);
        }
        out.sort_by_key(|records| started_order(records));
        Ok(out)
    }

    /// The newest deployment (by start), finished or not.
    pub async fn latest(&self) -> Result<Option<Summary>, StoreError> {
        Ok(self.newest().await?.map(|(summary, _)| summary))
    }

    /// The newest deployment (by start) that never finished (running, or interrupted), if
    /// any, with its records.
    pub async fn unfinished(&self) -> Result<Option<(Summary, Vec<Record>)>, StoreError> {
        let journals = self.journals().await?;
        for records in journals.into_iter().rev().take(3) {
            if let Some(s) = Summary::of(&records).filter(|s| s.outcome.is_none()) {
                return Ok(Some((s, records)));
            }
        }
        Ok(None)
    }

    /// The newest deployment (by start) with its records, finished or not.
    pub async fn newest(&self) -> Result<Option<(Summary, Vec<Record>)>, StoreError> {
        let Some(records) = self.journals().await?.pop() else {
            return Ok(None);
        };
        Ok(Summary::of(&records).map(|s| (s, records)))
    }
}

/// The order of deployments: when their first record was written (under the lock), then id.
fn started_order(records: &[Record]) -> (u64, String) {
    records
        .first()
        .map(|r| (r.at_ms, r.deployment.clone()))
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch: lease expiry and record times are compared as numbers.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 with milliseconds, UTC, for people.
pub fn rfc3339(ms: u64) -> String {
    // humantime formats years up to 9999 only (its Display fails past that, and a hand-edited
    // or corrupt document can hold any number): show such a time as the raw number.
    const YEAR_10000_MS: u64 = 253_402_300_800_000;
    if ms >= YEAR_10000_MS {
        return format!("{ms} ms after the Unix epoch (past the year 9999)");
    }
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// A new deployment id: UTC time to the millisecond (so ids sort by start; deployments of
/// one environment are serialized by its lock) and 16 bits of the clock's nanoseconds mixed
/// with the pid, e.g. `20261124T101503123Z-3fa2`.
pub fn new_deployment_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = humantime::format_rfc3339_millis(UNIX_EPOCH + now)
        .to_string()
        .replace(['-', ':', '.'], "");
    let mix = (now.subsec_nanos() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{stamp}-{mix:04x}")
}

/// Whether `id` has the shape [`new_deployment_id`] makes: it becomes a file name and a key.
pub fn valid_deployment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_the_year_9999_are_shown_not_a_panic() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert!(rfc3339(u64::MAX).contains("past the year 9999"));
        assert!(rfc3339(253_402_300_799_999).starts_with("9999-12-31T23:59:59.999"));
    }

    /// Issue 12, item 8: a deploy that queued behind the lock has the older id but started
    /// later; history, `latest` and drift's fold follow when deployments started.
    #[tokio::test]
    async fn item_08_journals_are_ordered_by_start_under_the_lock_not_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(local::LocalStore::new(dir.path()));
        let record = |id: &str, at_ms: u64| Record {
            schema: SCHEMA_VERSION,
            deployment: id.into(),
            seq: 1,
            at_ms,
            at: rfc3339(at_ms),
            entry: Entry::Settled,
            fence: None,
        };
        // The older id (asked for first, then waited for the lock) started last.
        store
            .append(&record("20261201T000001000Z-aaaa", 3_000))
            .await
            .unwrap();
        store
            .append(&record("20261201T000002000Z-bbbb", 1_000))
            .await
            .unwrap();
        store
            .append(&record("20261201T000003000Z-cccc", 2_000))
            .await
            .unwrap();
        let order: Vec<String> = store
            .journals()
            .await
            .unwrap()
            .iter()
            .map(|r| r[0].deployment.clone())
            .collect();
        assert_eq!(
            order,
            [
                "20261201T000002000Z-bbbb",
                "20261201T000003000Z-cccc",
                "20261201T000001000Z-aaaa"
            ]
        );
        let (newest, _) = store
            .newest()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("none"));
        assert_eq!(newest.id, "20261201T000001000Z-aaaa");
    }

    #[test]
    fn deployment_ids_sort_by_time_and_are_safe_file_names() {
        let a = new_deployment_id();
        assert!(valid_deployment_id(&a), "{a}");
        assert_eq!(a.len(), "20261124T101503123Z-3fa2".len(), "{a}");
        std::thread::sleep(Duration::from_millis(2));
        let b = new_deployment_id();
        assert!(a < b, "{a} then {b}");
        assert!(!valid_deployment_id("../x"));
        assert!(!valid_deployment_id(""));
    }
}
