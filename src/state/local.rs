//! The local backend: journal and lock as files in the environment's work directory, for one
//! machine.
//!
//! ```text
//! <work>/<env>/journal/.mutex                 flock'd around every read-modify-write below
//! <work>/<env>/journal/lock.json              the lock document (atomic replace + fsync)
//! <work>/<env>/journal/deployments/<id>.jsonl one record per line, appended + fsync'd
//! <work>/<env>/journal/requests/<id>.json     a pending promote/rollback request
//! ```
//!
//! The mutex is the kernel's advisory file lock (`flock`), held only for the few
//! milliseconds of one operation and released by the kernel if the process dies, so a crash
//! can never leave it held. The environment lock itself is the `lock.json` document with its
//! lease: it outlives a crash on purpose, so that the next command sees that a deploy was
//! interrupted.

use super::journal::{parse_lines, parse_record, Record};
use super::lock::{Acquired, Holder, LockInfo, LOCK_SCHEMA};
use super::{now_ms, valid_deployment_id, Repaired, Request, StoreError};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    pub fn new(work_env_dir: &Path) -> LocalStore {
        LocalStore {
            dir: work_env_dir.join("journal"),
        }
    }

    pub fn describe(&self) -> String {
        format!("local files in {}", self.dir.display())
    }

    fn err(&self, what: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            backend: self.describe(),
            message: what.to_string(),
        }
    }

    /// Runs `f` while holding the directory's mutex.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| self.err(format!("cannot create the directory: {e}")))?;
        let mutex = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".mutex"))
            .map_err(|e| self.err(format!("cannot open .mutex: {e}")))?;
        mutex
            .lock()
            .map_err(|e| self.err(format!("cannot lock .mutex: {e}")))?;
        let result = f();
        // Closing the file releases the lock, also on panic.
        drop(mutex);
        result
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("lock.json")
    }

    fn journal_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !valid_deployment_id(id) {
            return Err(self.err(format!("`{id}` is not a deployment id")));
        }
        Ok(self.dir.join("deployments").join(format!("{id}.jsonl")))
    }

    fn request_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !valid_deployment_id(id) {
            return Err(self.err(format!("`{id}` is not a deployment id")));
        }
        Ok(self.dir.join("requests").join(format!("{id}.json")))
    }

    fn read_lock(&self) -> Result<Option<LockInfo>, StoreError> {
        let path = self.lock_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(format!("cannot read {}: {e}", path.display()))),
        };
        let corrupt = |problem: String| StoreError::Corrupt {
            location: path.display().to_string(),
            problem,
            fix: "if no bluegreen command is running for this environment, \
                  `bluegreen unlock --env ENV --force` removes it (docs/operations.md)"
                .into(),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("the lock document does not parse: {e}")))?;
        match value.get("schema").and_then(|v| v.as_u64()) {
            Some(v) if v == LOCK_SCHEMA as u64 => {}
            other => {
                return Err(corrupt(format!(
                    "lock schema {other:?}; this bluegreen reads {LOCK_SCHEMA}"
                )))
            }
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| corrupt(format!("the lock document does not match its schema: {e}")))
    }

    fn write_lock(&self, lock: &LockInfo) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(lock).map_err(|e| self.err(e))?;
        atomic_write(&self.lock_path(), &bytes).map_err(|e| self.err(e))
    }

    fn remove_lock(&self) -> Result<(), StoreError> {
        fs::remove_file(self.lock_path())
            .map_err(|e| self.err(format!("cannot remove lock.json: {e}")))?;
        sync_dir(&self.dir).map_err(|e| self.err(e))
    }

    pub async fn acquire(&self, holder: &Holder, lease: Duration) -> Result<Acquired, StoreError> {
        self.locked(|| {
            let now = now_ms();
            let existing = self.read_lock()?;
            let took_over = match existing {
                None => None,
                Some(l) if l.holder == *holder => None,
                Some(l) => match l.stale_because(now) {
                    Some(reason) => Some((l, reason)),
                    None => return Ok(Acquired::Held(l)),
                },
            };
            let lock = LockInfo::new(holder, now, lease).fenced(super::lock::new_fence());
            self.write_lock(&lock)?;
            Ok(Acquired::Taken { lock, took_over })
        })
    }

    pub async fn renew(&self, holder: &Holder, lease: Duration) -> Result<LockInfo, StoreError> {
        self.locked(|| match self.read_lock()? {
            Some(mut l) if l.holder == *holder => {
                l.expires_ms = now_ms() + lease.as_millis() as u64;
                self.write_lock(&l)?;
                Ok(l)
            }
            now => Err(StoreError::LockLost {
                now: now.map(Box::new),
            }),
        })
    }

    pub async fn release(&self, holder: &Holder) -> Result<(), StoreError> {
        self.locked(|| match self.read_lock()? {
            Some(l) if l.holder == *holder => self.remove_lock(),
            _ => Ok(()),
        })
    }

    pub async fn lock_info(&self) -> Result<Option<LockInfo>, StoreError> {
        self.locked(|| self.read_lock())
    }

    pub async fn force_unlock(&self, seen: &LockInfo) -> Result<bool, StoreError> {
        self.locked(|| match self.read_lock() {
            Ok(Some(l)) if l == *seen => self.remove_lock().map(|_| true),
            Ok(_) => Ok(false),
            // A lock document that does not parse is exactly what a forced unlock is for.
            Err(StoreError::Corrupt { .. }) => self.remove_lock().map(|_| true),
            Err(e) => Err(e),
        })
    }

    /// Removes `lock.json` if it does not parse; true when it did that.
    pub fn remove_damaged_lock(&self) -> Result<bool, StoreError> {
        self.locked(|| match self.read_lock() {
            Err(StoreError::Corrupt { .. }) => self.remove_lock().map(|_| true),
            Ok(_) => Ok(false),
            Err(e) => Err(e),
        })
    }

    pub async fn append(&self, record: &Record) -> Result<(), StoreError> {
        let path = self.journal_path(&record.deployment)?;
        let mut line = serde_json::to_string(record).map_err(|e| self.err(e))?;
        line.push('\n');
        self.locked(|| {
            if let Some(fence) = record.fence {
                match self.read_lock()? {
                    Some(l) if l.fence == fence => {}
                    now => {
                        return Err(StoreError::Fenced {
                            fence,
                            now: now.map(Box::new),
                        })
                    }
                }
            }
            let existing = self.read_journal(&path, &record.deployment)?;
            if record.seq != existing.len() as u64 + 1 {
                return Err(StoreError::Conflict {
                    deployment: record.deployment.clone(),
                    seq: record.seq,
                });
            }
            let dir = path.parent().expect("journals live in a directory");
            fs::create_dir_all(dir).map_err(|e| self.err(e))?;
            let created = existing.is_empty();
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| self.err(format!("cannot open {}: {e}", path.display())))?;
            // One write call per record: a crash leaves a whole line or a cut last line,
            // which the reader reports.
            f.write_all(line.as_bytes())
                .and_then(|_| f.sync_data())
                .map_err(|e| self.err(format!("cannot append to {}: {e}", path.display())))?;
            if created {
                sync_dir(dir).map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn read_journal(&self, path: &Path, id: &str) -> Result<Vec<Record>, StoreError> {
        match fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                parse_lines(&text, id, &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(self.err(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub async fn records(&self, deployment: &str) -> Result<Vec<Record>, StoreError> {
        let path = self.journal_path(deployment)?;
        self.read_journal(&path, deployment)
    }

    pub async fn deployments(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.join("deployments");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(self.err(format!("cannot list {}: {e}", dir.display()))),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".jsonl"))
                    .map(str::to_string)
            })
            .filter(|id| valid_deployment_id(id))
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub async fn put_request(&self, deployment: &str, req: Request) -> Result<(), StoreError> {
        let path = self.request_path(deployment)?;
        let bytes = serde_json::to_vec(&req).map_err(|e| self.err(e))?;
        atomic_write(&path, &bytes).map_err(|e| self.err(e))
    }

    pub async fn take_request(&self, deployment: &str) -> Result<Option<Request>, StoreError> {
        let path = self.request_path(deployment)?;
        self.locked(|| {
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(self.err(e)),
            };
            fs::remove_file(&path).map_err(|e| self.err(e))?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    location: path.display().to_string(),
                    problem: format!("the request does not parse: {e}"),
                    fix: "run the promote/rollback command again".into(),
                })
        })
    }

    /// Keeps the records before the first damaged one and saves the whole original next to
    /// it (`<id>.jsonl.damaged-<ms>`). Refuses a journal that is not damaged.
    pub async fn repair(&self, deployment: &str) -> Result<Repaired, StoreError> {
        let path = self.journal_path(deployment)?;
        self.locked(|| {
            let bytes = fs::read(&path)
                .map_err(|e| self.err(format!("cannot read {}: {e}", path.display())))?;
            let text = String::from_utf8_lossy(&bytes);
            let problem = match parse_lines(&text, deployment, &path.display().to_string()) {
                Ok(_) => {
                    return Err(self.err(format!(
                        "{} is not damaged; nothing to repair",
                        path.display()
                    )))
                }
                Err(e) => e.to_string(),
            };
            let mut kept = Vec::new();
            for (i, line) in text.split_inclusive('\n').enumerate() {
                let Some(doc) = line.strip_suffix('\n') else {
                    break;
                };
                match parse_record(doc, deployment, i as u64 + 1) {
                    Ok(_) => kept.push(line),
                    Err(_) => break,
                }
            }
            let backup = path.with_extension(format!("jsonl.damaged-{}", now_ms()));
            fs::write(&backup, &bytes).map_err(|e| self.err(e))?;
            atomic_write(&path, kept.concat().as_bytes()).map_err(|e| self.err(e))?;
            Ok(Repaired {
                kept: kept.len(),
                backup: backup.display().to_string(),
                problem,
            })
        })
    }
}

/// Writes `bytes` to a temporary file, fsyncs it, renames it over `path` and fsyncs the
/// directory: readers see the old document or the new one, never a mix.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let dir = path.parent().expect("state files live in a directory");
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", dir.display()))
}
