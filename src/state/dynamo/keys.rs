//! The table's keys and items: how journal records, the lock and requests are addressed and
//! checked when read (`super` has the table layout).

use super::Item;
use crate::state::journal::{parse_record, Record};
use crate::state::lock::{LockInfo, LOCK_SCHEMA};
use crate::state::valid_deployment_id;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

pub(super) const LOCK_SK: &str = "lock";
pub(super) const JOURNAL: &str = "journal#";

/// How many times a lock operation reads again after losing a compare-and-set race. Each lost
/// race means another process wrote the lock in between; after a few, something is wrong.
pub(super) const CAS_ATTEMPTS: usize = 5;

/// The condition and expression names every conditional write uses (`doc`, `pk` are not
/// reserved words today; names keep it that way).
pub(super) const NAMES: [(&str, &str); 3] = [("#pk", "pk"), ("#sk", "sk"), ("#doc", "doc")];

pub(super) fn env_pk(env: &str) -> String {
    format!("env#{env}")
}

pub(super) fn journal_prefix(id: &str) -> String {
    format!("{JOURNAL}{id}#")
}

/// Zero-padded, so the table's string order is the journal's order.
pub(super) fn journal_sk(id: &str, seq: u64) -> String {
    format!("{JOURNAL}{id}#{seq:010}")
}

pub(super) fn request_sk(id: &str) -> String {
    format!("request#{id}")
}

pub(super) fn damaged_sk(id: &str, seq: &str, stamp_ms: u64) -> String {
    format!("damaged#{id}#{seq}#{stamp_ms}")
}

/// The deployment id and record number in a journal item's sort key.
pub(super) fn parse_journal_sk(sk: &str) -> Option<(&str, u64)> {
    let (id, seq) = sk.strip_prefix(JOURNAL)?.rsplit_once('#')?;
    if seq.len() != 10 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((id, seq.parse().ok()?))
}

/// Checks a lock document: JSON, schema version, shape.
pub(super) fn parse_lock(doc: &str) -> Result<LockInfo, String> {
    let value: serde_json::Value =
        serde_json::from_str(doc).map_err(|e| format!("the lock document does not parse: {e}"))?;
    match value.get("schema").and_then(|v| v.as_u64()) {
        Some(v) if v == LOCK_SCHEMA as u64 => {}
        other => {
            return Err(format!(
                "lock schema {other:?}; this bluegreen reads {LOCK_SCHEMA}"
            ))
        }
    }
    serde_json::from_value(value)
        .map_err(|e| format!("the lock document does not match its schema: {e}"))
}

/// `id` if it can be part of a key (it is also a file name in the local backend).
pub(super) fn checked_id(id: &str) -> Result<&str, String> {
    match valid_deployment_id(id) {
        true => Ok(id),
        false => Err(format!("`{id}` is not a deployment id")),
    }
}

/// What is wrong with a journal item, and its key.
pub(super) struct Damage {
    pub(super) sk: String,
    pub(super) problem: String,
}

/// Checks one journal item: its key, then its document (`parse_record`).
pub(super) fn check_record(item: &Item, id: &str, expected: u64) -> Result<Record, Damage> {
    let sk = str_attr(item, "sk").unwrap_or_default();
    let problem = match (parse_journal_sk(sk), str_attr(item, "doc")) {
        (None, _) => format!("the key is not {JOURNAL}{id}#<10-digit record number>"),
        (Some((_, seq)), _) if seq != expected => {
            format!("record number {seq} where {expected} was expected (a record is missing)")
        }
        (Some(_), None) => "the item has no `doc` string attribute".into(),
        (Some(_), Some(doc)) => match parse_record(doc, id, expected) {
            Ok(record) => return Ok(record),
            Err(problem) => problem,
        },
    };
    Err(Damage {
        sk: sk.to_string(),
        problem,
    })
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn str_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

pub(super) fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}
