//! The demo app every task runs, configured by its task definition's container environment
//! (docs/dataplane.md, "The app"):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BG_VERSION` | the version it answers with | the image tag (after the last `:`) |
//! | `BG_ERROR_RATE` | share of requests answered 500, 0.0–1.0 | 0 |
//! | `BG_LATENCY_MS` | added latency per request | 0 |
//! | `BG_HEALTH_PATH` | the health check path | `/health` |
//! | `BG_HEALTH_FAIL` | `true`/`1`: the health path answers 500 | false |
//! | `BG_STARTUP_DELAY_MS` | time from start until the task answers | 0 |

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub version: String,
    pub error_rate: f64,
    pub latency: Duration,
    pub health_path: String,
    pub health_fail: bool,
    pub startup_delay: Duration,
}

impl AppConfig {
    pub fn from_task_definition(image: &str, env: &BTreeMap<String, String>) -> AppConfig {
        let tag = image
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map_or("latest", |(_, t)| t);
        let ms = |name: &str| {
            Duration::from_millis(env.get(name).and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        AppConfig {
            version: env
                .get("BG_VERSION")
                .cloned()
                .unwrap_or_else(|| tag.to_owned()),
            error_rate: env
                .get("BG_ERROR_RATE")
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                .clamp(0.0, 1.0),
            latency: ms("BG_LATENCY_MS"),
            health_path: env
                .get("BG_HEALTH_PATH")
                .cloned()
                .unwrap_or_else(|| "/health".into()),
            health_fail: matches!(
                env.get("BG_HEALTH_FAIL").map(String::as_str),
                Some("1" | "true" | "yes")
            ),
            startup_delay: ms("BG_STARTUP_DELAY_MS"),
        }
    }
}

/// One task's app: its config, plus a counter that spreads errors evenly at the error rate.
pub struct App {
    pub config: AppConfig,
    pub task_id: String,
    served: AtomicU64,
}

impl App {
    pub fn new(config: AppConfig, task_id: String) -> App {
        App {
            config,
            task_id,
            served: AtomicU64::new(0),
        }
    }

    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>> {
        let c = &self.config;
        if req.uri().path() == c.health_path {
            let status = if c.health_fail { 500 } else { 200 };
            return self.answer(status, "health");
        }
        if !c.latency.is_zero() {
            tokio::time::sleep(c.latency).await;
        }
        // Deterministic spreading: request n fails when floor(n·rate) steps up.
        let n = self.served.fetch_add(1, Ordering::Relaxed) as f64;
        let fails = ((n + 1.0) * c.error_rate).floor() > (n * c.error_rate).floor();
        self.answer(if fails { 500 } else { 200 }, "app")
    }

    fn answer(&self, status: u16, what: &str) -> Response<Full<Bytes>> {
        let body = serde_json::json!({
            "version": self.config.version,
            "task": self.task_id,
            "what": what,
            "status": status,
        });
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-bg-version", &self.config.version)
            .header("x-bg-task", &self.task_id)
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("static response parts are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_defaults_to_the_image_tag() {
        let env = BTreeMap::new();
        let c = AppConfig::from_task_definition("public.ecr.aws/nginx/nginx:1.28", &env);
        assert_eq!(c.version, "1.28");
        assert_eq!(c.health_path, "/health");
        let c = AppConfig::from_task_definition("localhost:5000/app", &env);
        assert_eq!(c.version, "latest");
        let env = BTreeMap::from([
            ("BG_VERSION".to_string(), "v9".to_string()),
            ("BG_ERROR_RATE".to_string(), "0.3".to_string()),
            ("BG_HEALTH_FAIL".to_string(), "true".to_string()),
            ("BG_STARTUP_DELAY_MS".to_string(), "250".to_string()),
        ]);
        let c = AppConfig::from_task_definition("x:1", &env);
        assert_eq!(c.version, "v9");
        assert_eq!(c.error_rate, 0.3);
        assert!(c.health_fail);
        assert_eq!(c.startup_delay, Duration::from_millis(250));
    }

    #[tokio::test]
    async fn errors_are_spread_at_the_error_rate() {
        let env = BTreeMap::from([("BG_ERROR_RATE".to_string(), "0.3".to_string())]);
        let app = App::new(AppConfig::from_task_definition("x:1", &env), "t".into());
        let mut errors = 0;
        for _ in 0..100 {
            if app.handle(Request::new(())).await.status() == 500 {
                errors += 1;
            }
        }
        assert_eq!(errors, 30);
    }
}
