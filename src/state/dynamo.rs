//! The DynamoDB backend (placeholder: being built; every call fails with a clear message).

use super::journal::Record;
use super::lock::{Acquired, Holder, LockInfo};
use super::{Repaired, Request, StoreError};
use std::time::Duration;

pub struct DynamoStore {
    table: String,
    env: String,
}

impl DynamoStore {
    pub fn new(_conf: &aws_config::SdkConfig, table: &str, env: &str) -> DynamoStore {
        DynamoStore {
            table: table.to_string(),
            env: env.to_string(),
        }
    }

    pub fn describe(&self) -> String {
        format!("DynamoDB table {} (environment {})", self.table, self.env)
    }

    fn unbuilt(&self) -> StoreError {
        StoreError::Backend {
            backend: self.describe(),
            message: "the DynamoDB backend is not built yet".into(),
        }
    }

    pub async fn acquire(&self, _h: &Holder, _l: Duration) -> Result<Acquired, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn renew(&self, _h: &Holder, _l: Duration) -> Result<LockInfo, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn release(&self, _h: &Holder) -> Result<(), StoreError> {
        Err(self.unbuilt())
    }
    pub async fn lock_info(&self) -> Result<Option<LockInfo>, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn force_unlock(&self, _seen: &LockInfo) -> Result<bool, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn append(&self, _r: &Record) -> Result<(), StoreError> {
        Err(self.unbuilt())
    }
    pub async fn records(&self, _d: &str) -> Result<Vec<Record>, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn deployments(&self) -> Result<Vec<String>, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn put_request(&self, _d: &str, _r: Request) -> Result<(), StoreError> {
        Err(self.unbuilt())
    }
    pub async fn take_request(&self, _d: &str) -> Result<Option<Request>, StoreError> {
        Err(self.unbuilt())
    }
    pub async fn repair(&self, _d: &str) -> Result<Repaired, StoreError> {
        Err(self.unbuilt())
    }
}
