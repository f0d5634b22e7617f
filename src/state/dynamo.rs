//! The DynamoDB backend: journal and lock as items of one table that many environments (and
//! many machines) share. Every read-modify-write is a conditional write that compares the
//! stored document with the one just read, so of two processes racing for the lock or for a
//! record number exactly one wins, and the loser learns it.
//!
//! bluegreen does not create the table (`examples/dynamodb-state/main.tf` does). It must have:
//!
//! ```text
//! partition key  pk (S)  env#<environment>
//! sort key       sk (S)  lock                                    the environment lock
//!                        journal#<deployment>#<seq, 10 digits>   one journal record
//!                        request#<deployment>                    a pending promote/rollback
//!                        damaged#<deployment>#<seq>#<ms>         set aside by `journal repair`
//! doc (S)        the JSON document: the lock (`LockInfo`), a record (exactly the line the local
//!                backend writes) or a request
//! ```
//!
//! No other key, index, stream or TTL is needed; any billing mode works (on-demand suits the
//! few requests a deploy makes), and point-in-time recovery is worth having for the journal.
//! Plain attributes beside `doc` are for people reading the table and are never trusted:
//! `holder`, `expires`, `expires_ms` on the lock; `deployment`, `seq`, `at` on records;
//! `original_sk` on damaged items. The process needs `dynamodb:GetItem`, `PutItem`,
//! `DeleteItem`, `Query` and `ConditionCheckItem` (a record's fenced `TransactWriteItems`) on
//! the table.
//!
//! Reads are strongly consistent, so a command sees every write acknowledged before it.

use super::journal::{Record, REPAIR_FIX};
use super::lock::{Acquired, Holder, LockInfo};
use super::{now_ms, rfc3339, valid_deployment_id, Repaired, Request, StoreError};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::Duration;

type Item = HashMap<String, AttributeValue>;

mod keys;
use keys::*;

/// The lock as stored: the raw document (what a compare-and-set compares) and what it says.
struct StoredLock {
    doc: String,
    lock: LockInfo,
}

pub struct DynamoStore {
    client: Client,
    table: String,
    env: String,
}

impl DynamoStore {
    pub fn new(conf: &aws_config::SdkConfig, table: &str, env: &str) -> DynamoStore {
        DynamoStore {
            client: Client::new(conf),
            table: table.to_string(),
            env: env.to_string(),
        }
    }

    pub fn describe(&self) -> String {
        format!("DynamoDB table {} (environment {})", self.table, self.env)
    }

    fn pk(&self) -> String {
        env_pk(&self.env)
    }

    fn location(&self, sk: &str) -> String {
        format!("DynamoDB table {}, pk={}, sk={sk}", self.table, self.pk())
    }

    fn err(&self, what: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            backend: self.describe(),
            message: what.to_string(),
        }
    }

    fn sdk_err<E, R>(&self, operation: &str, sk: &str, e: SdkError<E, R>) -> StoreError
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        // One line for people; the SDK's full error (kilobytes, with the raw response) at -vv.
        tracing::debug!(operation, sk, error = %DisplayErrorContext(&e), "DynamoDB call failed");
        self.err(format!(
            "{operation} sk={sk}: {}",
            crate::aws::sdk_summary(&e)
        ))
    }

    fn corrupt(&self, sk: &str, problem: String, fix: &str) -> StoreError {
        StoreError::Corrupt {
            location: self.location(sk),
            problem,
            fix: fix.into(),
        }
    }

    async fn get(&self, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(self.pk()))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk_err("GetItem", sk, e))?;
        Ok(out.item)
    }

    /// Writes `item` under `sk` if `condition` holds (with `#doc = :old` bound to `old`);
    /// `Ok(false)` when it does not.
    async fn put_if(
        &self,
        sk: &str,
        mut item: Item,
        condition: &str,
        old: Option<&str>,
    ) -> Result<bool, StoreError> {
        item.insert("pk".into(), s(self.pk()));
        item.insert("sk".into(), s(sk));
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (k, v) in NAMES.iter().filter(|(k, _)| condition.contains(k)) {
            req = req.expression_attribute_names(*k, *v);
        }
        if let Some(old) = old {
            req = req.expression_attribute_values(":old", s(old));
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.sdk_err("PutItem", sk, e)),
        }
    }

    /// Deletes the item under `sk` if `condition` holds; `Ok(false)` when it does not.
    async fn delete_if(
        &self,
        sk: &str,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        let mut req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(self.pk()))
            .key("sk", s(sk));
        if let Some(condition) = condition {
            req = req.condition_expression(condition);
            for (k, v) in NAMES.iter().filter(|(k, _)| condition.contains(k)) {
                req = req.expression_attribute_names(*k, *v);
            }
        }
        for (k, v) in values {
            req = req.expression_attribute_values(*k, v.clone());
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(self.sdk_err("DeleteItem", sk, e)),
        }
    }

    /// Every item of this environment whose sort key starts with `prefix`, in key order.
    async fn query_prefix(&self, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(self.pk()))
            .expression_attribute_values(":prefix", s(prefix))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.sdk_err("Query", &format!("{prefix}…"), e))
    }

    // -----------------------------------------------------------------------------------------
    // The lock

    async fn read_lock(&self) -> Result<Option<StoredLock>, StoreError> {
        let Some(item) = self.get(LOCK_SK).await? else {
            return Ok(None);
        };
        let corrupt = |problem: String| {
            self.corrupt(
                LOCK_SK,
                problem,
                "make sure no bluegreen command runs for this environment, then delete this \
                 item by hand (docs/operations.md, \"A forced unlock\")",
            )
        };
        let doc = str_attr(&item, "doc")
            .ok_or_else(|| corrupt("the lock item has no `doc` string attribute".into()))?;
        let lock = parse_lock(doc).map_err(corrupt)?;
        Ok(Some(StoredLock {
            doc: doc.to_string(),
            lock,
        }))
    }

    /// Writes `lock` if the stored document is still `old` (`None`: there is no lock).
    async fn put_lock(&self, lock: &LockInfo, old: Option<&str>) -> Result<bool, StoreError> {
        let doc = serde_json::to_string(lock).map_err(|e| self.err(e))?;
        let item = HashMap::from([
            ("doc".to_string(), s(doc)),
            ("holder".to_string(), s(lock.holder.to_string())),
            ("expires".to_string(), s(rfc3339(lock.expires_ms))),
            ("expires_ms".to_string(), n(lock.expires_ms)),
            ("fence".to_string(), n(lock.fence)),
        ]);
        let condition = match old {
            None => "attribute_not_exists(#pk)",
            Some(_) => "#doc = :old",
        };
        self.put_if(LOCK_SK, item, condition, old).await
    }

    async fn delete_lock(&self, old: &str) -> Result<bool, StoreError> {
        self.delete_if(LOCK_SK, Some("#doc = :old"), &[(":old", s(old))])
            .await
    }

    fn lock_kept_changing(&self) -> StoreError {
        self.err(format!(
            "{} changed {CAS_ATTEMPTS} times while this command tried to update it; try again",
            self.location(LOCK_SK)
        ))
    }

    pub async fn acquire(&self, holder: &Holder, lease: Duration) -> Result<Acquired, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.read_lock().await?;
            let now = now_ms();
            let took_over = match &current {
                None => None,
                Some(c) if c.lock.holder == *holder => None,
                Some(c) => match c.lock.stale_because(now) {
                    Some(reason) => Some((c.lock.clone(), reason)),
                    None => return Ok(Acquired::Held(c.lock.clone())),
                },
            };
            let lock = LockInfo::new(holder, now, lease).fenced(super::lock::new_fence());
            let old = current.as_ref().map(|c| c.doc.as_str());
            if self.put_lock(&lock, old).await? {
                return Ok(Acquired::Taken { lock, took_over });
            }
            // Another process wrote the lock since we read it: look again.
        }
        Err(self.lock_kept_changing())
    }

    /// Appends a record written under the lock with token `fence`, in one transaction with a
    /// check that the lock still carries that token. `Ok(false)`: the record exists already.
    async fn put_fenced(&self, sk: &str, mut item: Item, fence: u64) -> Result<bool, StoreError> {
        use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
        item.insert("pk".into(), s(self.pk()));
        item.insert("sk".into(), s(sk));
        let build = |what: &str, e: aws_sdk_dynamodb::error::BuildError| {
            self.err(format!("TransactWriteItems ({what}): {e}"))
        };
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(self.pk()))
            .key("sk", s(LOCK_SK))
            .condition_expression("#fence = :fence")
            .expression_attribute_names("#fence", "fence")
            .expression_attribute_values(":fence", n(fence))
            .build()
            .map_err(|e| build("lock check", e))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .build()
            .map_err(|e| build("record", e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(true),
            Err(e) => e,
        };
        let reasons: Vec<Option<String>> = match e.as_service_error() {
            Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().map(str::to_string))
                .collect(),
            _ => return Err(self.sdk_err("TransactWriteItems", sk, e)),
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .and_then(|c| c.as_deref())
                .is_some_and(|c| c == "ConditionalCheckFailed")
        };
        if failed(0) {
            return Err(StoreError::Fenced {
                fence,
                now: self.read_lock().await?.map(|c| Box::new(c.lock)),
            });
        }
        if failed(1) {
            return Ok(false);
        }
        Err(self.sdk_err("TransactWriteItems", sk, e))
    }

    pub async fn renew(&self, holder: &Holder, lease: Duration) -> Result<LockInfo, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            match self.read_lock().await? {
                Some(c) if c.lock.holder == *holder => {
                    let mut lock = c.lock;
                    lock.expires_ms = now_ms() + lease.as_millis() as u64;
                    if self.put_lock(&lock, Some(&c.doc)).await? {
                        return Ok(lock);
                    }
                }
                now => {
                    return Err(StoreError::LockLost {
                        now: now.map(|c| Box::new(c.lock)),
                    })
                }
            }
        }
        Err(self.lock_kept_changing())
    }

    pub async fn release(&self, holder: &Holder) -> Result<(), StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            match self.read_lock().await? {
                Some(c) if c.lock.holder == *holder => {
                    if self.delete_lock(&c.doc).await? {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
        Err(self.lock_kept_changing())
    }

    pub async fn lock_info(&self) -> Result<Option<LockInfo>, StoreError> {
        Ok(self.read_lock().await?.map(|c| c.lock))
    }

    pub async fn force_unlock(&self, seen: &LockInfo) -> Result<bool, StoreError> {
        let Some(item) = self.get(LOCK_SK).await? else {
            return Ok(false);
        };
        match str_attr(&item, "doc") {
            Some(doc) => match parse_lock(doc) {
                Ok(lock) if lock != *seen => Ok(false),
                // The lock seen, or a document that does not parse: exactly what a forced
                // unlock is for. Either way only if nobody rewrote it since.
                _ => self.delete_lock(doc).await,
            },
            // No string document at all: remove it unless a real one was written meanwhile.
            None => {
                let condition = "attribute_exists(#pk) AND NOT attribute_type(#doc, :s)";
                self.delete_if(LOCK_SK, Some(condition), &[(":s", s("S"))])
                    .await
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The journal

    pub async fn append(&self, record: &Record) -> Result<(), StoreError> {
        let id = checked_id(&record.deployment).map_err(|e| self.err(e))?;
        let conflict = || StoreError::Conflict {
            deployment: record.deployment.clone(),
            seq: record.seq,
        };
        if record.seq == 0 {
            return Err(conflict());
        }
        if record.seq > 1 {
            // No gaps: the previous record must be there, and sound (appending after a damaged
            // record would bury it, as the local backend refuses to).
            let prev_sk = journal_sk(id, record.seq - 1);
            let Some(prev) = self.get(&prev_sk).await? else {
                return Err(conflict());
            };
            check_record(&prev, id, record.seq - 1).map_err(|d| self.damaged(d))?;
        }
        let doc = serde_json::to_string(record).map_err(|e| self.err(e))?;
        let item = HashMap::from([
            ("doc".to_string(), s(doc)),
            ("deployment".to_string(), s(id)),
            ("seq".to_string(), n(record.seq)),
            ("at".to_string(), s(&record.at)),
        ]);
        let sk = journal_sk(id, record.seq);
        let written = match record.fence {
            Some(fence) => self.put_fenced(&sk, item, fence).await?,
            None => {
                self.put_if(&sk, item, "attribute_not_exists(#pk)", None)
                    .await?
            }
        };
        if written {
            Ok(())
        } else {
            Err(conflict())
        }
    }

    fn damaged(&self, d: Damage) -> StoreError {
        self.corrupt(&d.sk, d.problem, REPAIR_FIX)
    }

    pub async fn records(&self, deployment: &str) -> Result<Vec<Record>, StoreError> {
        let id = checked_id(deployment).map_err(|e| self.err(e))?;
        let items = self.query_prefix(&journal_prefix(id)).await?;
        let records: Result<Vec<Record>, Damage> = items
            .iter()
            .zip(1..)
            .map(|(item, seq)| check_record(item, id, seq))
            .collect();
        records.map_err(|d| self.damaged(d))
    }

    pub async fn deployments(&self) -> Result<Vec<String>, StoreError> {
        let items = self.query_prefix(JOURNAL).await?;
        let mut ids: Vec<String> = items
            .iter()
            .filter_map(|item| str_attr(item, "sk"))
            .filter_map(parse_journal_sk)
            .map(|(id, _)| id)
            .filter(|id| valid_deployment_id(id))
            .map(str::to_string)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    pub async fn put_request(&self, deployment: &str, req: Request) -> Result<(), StoreError> {
        let id = checked_id(deployment).map_err(|e| self.err(e))?;
        let doc = serde_json::to_string(&req).map_err(|e| self.err(e))?;
        let sk = request_sk(id);
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(self.pk()))
            .item("sk", s(&sk))
            .item("doc", s(doc))
            .send()
            .await;
        out.map(|_| ()).map_err(|e| self.sdk_err("PutItem", &sk, e))
    }

    pub async fn take_request(&self, deployment: &str) -> Result<Option<Request>, StoreError> {
        let id = checked_id(deployment).map_err(|e| self.err(e))?;
        let sk = request_sk(id);
        // The delete returns what it deleted: of two takers, one gets the request.
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(self.pk()))
            .key("sk", s(&sk))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.sdk_err("DeleteItem", &sk, e))?;
        let Some(item) = out.attributes.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let fix = "run the promote/rollback command again";
        let doc = str_attr(&item, "doc")
            .ok_or_else(|| self.corrupt(&sk, "the request has no `doc`".into(), fix))?;
        serde_json::from_str(doc)
            .map(Some)
            .map_err(|e| self.corrupt(&sk, format!("the request does not parse: {e}"), fix))
    }

    /// Keeps the records before the first damaged one; copies that one and every later item
    /// to `damaged#…` keys (with `original_sk`), then deletes them. Copy before delete: a crash
    /// in between leaves a duplicate, never a loss. Refuses a journal that is not damaged.
    pub async fn repair(&self, deployment: &str) -> Result<Repaired, StoreError> {
        let id = checked_id(deployment).map_err(|e| self.err(e))?;
        let items = self.query_prefix(&journal_prefix(id)).await?;
        let damage = items
            .iter()
            .zip(1..)
            .enumerate()
            .find_map(|(i, (item, seq))| check_record(item, id, seq).err().map(|d| (i, d)));
        let Some((kept, damage)) = damage else {
            return Err(self.err(format!(
                "the journal of deployment {id} ({} records under pk={}) is not damaged; \
                 nothing to repair",
                items.len(),
                self.pk()
            )));
        };
        let stamp = now_ms();
        let mut moved = Vec::new();
        for item in &items[kept..] {
            let sk = str_attr(item, "sk").unwrap_or_default().to_string();
            let seq = sk.rsplit('#').next().unwrap_or_default();
            let backup = damaged_sk(id, seq, stamp);
            let mut copy = item.clone();
            copy.insert("original_sk".into(), s(&sk));
            if !self
                .put_if(&backup, copy, "attribute_not_exists(#pk)", None)
                .await?
            {
                return Err(self.err(format!("{} exists already", self.location(&backup))));
            }
            self.delete_if(&sk, None, &[]).await?;
            moved.push(backup);
        }
        Ok(Repaired {
            kept,
            backup: format!(
                "DynamoDB table {}, pk={}, sk={}",
                self.table,
                self.pk(),
                moved.join(", sk=")
            ),
            problem: self.damaged(damage).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_keys_sort_in_record_order_and_parse_back() {
        let keys: Vec<String> = [1, 2, 9, 10, 11, 100].map(|n| journal_sk("d1", n)).into();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, keys);
        assert_eq!(journal_sk("d1", 7), "journal#d1#0000000007");
        assert_eq!(parse_journal_sk("journal#d1#0000000007"), Some(("d1", 7)));
        assert_eq!(
            parse_journal_sk(&journal_sk("20261124T101503Z-3fa2", 12)),
            Some(("20261124T101503Z-3fa2", 12))
        );
    }

    #[test]
    fn other_keys_are_not_journal_records() {
        for sk in [
            "lock",
            "request#d1",
            "damaged#d1#0000000003#1700000000000",
            "journal#d1#7",
            "journal#d1#00000000x7",
            "journal#d1",
        ] {
            assert_eq!(parse_journal_sk(sk), None, "{sk}");
        }
    }

    #[test]
    fn one_deployment_prefix_never_matches_another() {
        // Ids never contain '#', so `journal#d1#` cannot be a prefix of d10's keys.
        assert!(!journal_sk("d10", 1).starts_with(&journal_prefix("d1")));
        assert!(journal_sk("d1", 1).starts_with(&journal_prefix("d1")));
        assert_eq!(env_pk("staging"), "env#staging");
        assert_eq!(request_sk("d1"), "request#d1");
        assert_eq!(damaged_sk("d1", "0000000003", 5), "damaged#d1#0000000003#5");
    }

    fn item(sk: &str, doc: Option<&str>) -> Item {
        let mut item = HashMap::from([("sk".to_string(), s(sk))]);
        if let Some(doc) = doc {
            item.insert("doc".into(), s(doc));
        }
        item
    }

    fn record(seq: u64) -> Record {
        Record {
            schema: crate::state::SCHEMA_VERSION,
            deployment: "d1".into(),
            seq,
            at_ms: 1000,
            at: rfc3339(1000),
            entry: crate::state::Entry::Settled,
            fence: None,
        }
    }

    #[test]
    fn a_journal_item_is_checked_by_its_key_and_its_document() {
        let doc = serde_json::to_string(&record(2)).unwrap();
        let good = item(&journal_sk("d1", 2), Some(&doc));
        assert_eq!(check_record(&good, "d1", 2).ok(), Some(record(2)));

        let problem = |item: &Item, expected| check_record(item, "d1", expected).err().unwrap();
        let gap = problem(&good, 1);
        assert_eq!(gap.sk, "journal#d1#0000000002");
        assert!(gap.problem.contains("record number 2 where 1 was expected"));
        let moved = item(&journal_sk("d1", 3), Some(&doc));
        assert!(problem(&moved, 3)
            .problem
            .contains("record number 2 where 3"));
        let bare = item(&journal_sk("d1", 2), None);
        assert!(problem(&bare, 2).problem.contains("no `doc`"));
        let odd = item("journal#d1#2", Some(&doc));
        assert!(problem(&odd, 2).problem.contains("the key is not"));
        let garbage = item(&journal_sk("d1", 2), Some("\u{0}garbage"));
        assert!(problem(&garbage, 2)
            .problem
            .contains("not a journal record"));
    }

    #[test]
    fn lock_documents_are_checked_like_the_local_backend_does() {
        let holder = Holder::this_process("deploy", "d1");
        let lock = LockInfo::new(&holder, 1000, Duration::from_secs(30));
        let doc = serde_json::to_string(&lock).unwrap();
        assert_eq!(parse_lock(&doc), Ok(lock));
        assert!(parse_lock("{garbage")
            .unwrap_err()
            .contains("does not parse"));
        let v2 = doc.replacen("\"schema\":1", "\"schema\":2", 1);
        assert!(parse_lock(&v2).unwrap_err().contains("lock schema Some(2)"));
        let shapeless = r#"{"schema":1,"holder":"me"}"#;
        assert!(parse_lock(shapeless)
            .unwrap_err()
            .contains("does not match its schema"));
    }
}
