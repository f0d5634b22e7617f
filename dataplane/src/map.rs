//! The listener → local URL map, a JSON file other processes read (`scripts/emulator.sh env`
//! prints its path as `BLUEGREEN_DATAPLANE_MAP`). Written whole and renamed into place, so a
//! reader never sees half of it.

use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MapEntry {
    pub listener_arn: String,
    pub load_balancer_arn: String,
    pub load_balancer_name: String,
    /// The listener's port on the ALB (what the emulator says), not the local one.
    pub port: i32,
    pub protocol: String,
    /// Where this listener is served locally: `http://127.0.0.1:<local port>`.
    pub url: String,
}

#[derive(Debug, Serialize)]
struct MapFile<'a> {
    /// The emulator the data plane reads.
    endpoint: &'a str,
    pid: u32,
    listeners: &'a [MapEntry],
}

pub fn write(path: &Path, endpoint: &str, listeners: &[MapEntry]) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(&MapFile {
        endpoint,
        pid: std::process::id(),
        listeners,
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}
