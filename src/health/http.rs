//! One HTTP GET per probe, for health checks: what came back (status, the start of the body,
//! how long it took), or why nothing did.
//!
//! Decisions, so that a probe measures the service and nothing else:
//! - redirects are not followed: a 301/302 is the answer, with its status;
//! - no retries, no connection reuse, no proxy: every probe opens its own connection, straight to
//!   the target, the way a new client would (a proxy's own 502 or latency would be mistaken for
//!   the service's);
//! - one deadline covers connecting, the response headers and reading the body;
//! - https verifies certificates against the operating system's trust store;
//! - credentials in the URL (`https://user:pass@host/`) are sent as Basic auth and never appear
//!   in an error message.

use std::time::Duration;

use tokio::time::{timeout_at, Instant};

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Any HTTP response, whatever its status. `latency` runs from the start of the probe to the
    /// end of the body read (at most `body_limit` bytes of it).
    Response {
        status: u16,
        latency: Duration,
        /// The first `body_limit` bytes, decoded as UTF-8 (invalid sequences replaced).
        body: String,
    },
    /// No (complete) response: refused, reset, TLS failure, timeout, invalid URL…
    NoResponse { error: String, latency: Duration },
}

/// An HTTP client for probes. Cheap to clone; build it once and probe many times.
#[derive(Debug, Clone)]
pub struct HttpProber {
    client: reqwest::Client,
}

impl HttpProber {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "bluegreen/",
                env!("CARGO_PKG_VERSION"),
                " health-check"
            ))
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", error_chain(e)))?;
        Ok(HttpProber { client })
    }

    /// GETs `url`, giving up after `timeout` (connect, headers and body together), and keeps at
    /// most `body_limit` bytes of the body.
    pub async fn probe(&self, url: &str, timeout: Duration, body_limit: usize) -> Probe {
        let started = Instant::now();
        let deadline = started + timeout;
        let failed = |what: String| Probe::NoResponse {
            error: scrub(&format!("GET {}: {what}", redact_userinfo(url)), url),
            latency: started.elapsed(),
        };
        let response = match timeout_at(deadline, self.client.get(url).send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return failed(error_chain(e)),
            Err(_) => {
                return failed(format!(
                    "timed out after {timeout:?} waiting for a response"
                ))
            }
        };
        let status = response.status().as_u16();
        match timeout_at(deadline, read_prefix(response, body_limit)).await {
            Ok(Ok(body)) => Probe::Response {
                status,
                latency: started.elapsed(),
                body: String::from_utf8_lossy(&body).into_owned(),
            },
            Ok(Err(e)) => failed(format!(
                "reading the body of a {status} response: {}",
                error_chain(e)
            )),
            Err(_) => failed(format!(
                "timed out after {timeout:?} reading the body of a {status} response"
            )),
        }
    }
}

/// The first `limit` bytes of the body; the rest is never read (the connection is closed).
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while body.len() < limit {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let take = chunk.len().min(limit - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(body)
}

/// The error and its causes, `: `-separated, without the URL reqwest attaches (it may carry
/// credentials; the caller prints a redacted one).
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        // hyper and hyper-util often repeat their cause's text in their own.
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// `scheme://user:pass@host/…` → `scheme://***@host/…`; anything else unchanged. Works on
/// strings that do not parse as URLs too, since those end up in messages as well.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..authority_start], &rest[at..]),
        None => url.to_string(),
    }
}

/// Belt and braces: removes the URL's userinfo from a message wherever a lower layer may have
/// echoed it.
fn scrub(message: &str, url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return message.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) if at > 0 => message.replace(&authority[..at], "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted() {
        let cases = [
            ("https://user:pass@host/x", "https://***@host/x"),
            ("http://user@host:8080", "http://***@host:8080"),
            ("http://u:p@ss@host/a@b", "http://***@host/a@b"),
            ("http://host/path?who=a@b", "http://host/path?who=a@b"),
            ("http://host#frag@x", "http://host#frag@x"),
            ("not a url", "not a url"),
            ("http://:secret@host", "http://***@host"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_userinfo(url), want, "{url}");
        }
    }

    #[test]
    fn scrub_removes_echoed_userinfo() {
        let url = "http://alice:s3cret@host/";
        assert_eq!(
            scrub("dns error for alice:s3cret@host", url),
            "dns error for ***@host"
        );
        assert_eq!(
            scrub("no credentials here", "http://host/"),
            "no credentials here"
        );
    }
}
