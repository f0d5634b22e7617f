//! Reads every configured health signal of one color into [`Reading`]s. The verdicts are the
//! state machine's business; this module only says what each signal saw. A read that fails
//! (after the SDK's own retries) is "no data" for that signal, and its policy decides.

use crate::config::{HealthSettings, HttpCheck};
use crate::domain::color::Color;
use crate::domain::ports::{
    Alarms, AwsError, Ports, ServiceState, Services, TargetHealth, Traffic,
};
use crate::domain::{service_stable, targets_healthy, Reading, Status};
use crate::flow::target::Target;
use crate::health::{HttpProber, Probe};
use std::collections::BTreeMap;

/// How much of an HTTP body is kept to look for `body_contains`.
const BODY_LIMIT: usize = 64 * 1024;

pub struct SignalReader<'a> {
    cfg: &'a HealthSettings,
    target: Target<'a>,
    http: Option<HttpProber>,
    /// Consecutive successes per HTTP check.
    streaks: BTreeMap<String, u32>,
    /// Failed tasks of the color's deployments when watching started; a rise fails ECS.
    failed_baseline: Option<i32>,
}

impl<'a> SignalReader<'a> {
    pub fn new(cfg: &'a HealthSettings, target: Target<'a>) -> Result<Self, String> {
        let http = if cfg.http.is_empty() {
            None
        } else {
            Some(HttpProber::new()?)
        };
        Ok(SignalReader {
            cfg,
            target,
            http,
            streaks: BTreeMap::new(),
            failed_baseline: None,
        })
    }

    pub fn color(&self) -> Color {
        self.target.color
    }

    /// Reads every signal once: the AWS ones concurrently, then the HTTP checks.
    pub async fn read<P: Ports>(&mut self, aws: &P) -> Vec<Reading> {
        let t = &self.target;
        let names = self.alarm_names();
        let (svc, targets, alarms) = tokio::join!(
            aws.services().describe(t.cluster, t.service),
            aws.traffic().target_health(t.target_group),
            async {
                if names.is_empty() {
                    Ok(Vec::new())
                } else {
                    aws.alarms().alarm_states(&names).await
                }
            }
        );
        let mut out = vec![self.ecs(svc), self.targets(targets)];
        out.extend(self.alarms(&names, alarms));
        for check in &self.cfg.http {
            let r = self.http(check).await;
            out.push(r);
        }
        out
    }

    fn alarm_names(&self) -> Vec<String> {
        self.cfg
            .alarms
            .as_ref()
            .map(|a| {
                a.names
                    .iter()
                    .map(|n| n.replace("{color}", self.target.color.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn ecs(&mut self, svc: Result<Option<ServiceState>, AwsError>) -> Reading {
        let policy = self.cfg.ecs;
        let svc = match svc {
            Err(e) => return no_data("ecs-service", e.to_string(), policy),
            Ok(None) => return no_data("ecs-service", "service not found", policy),
            Ok(Some(s)) => s,
        };
        let t = &self.target;
        let check = service_stable(Some(&svc), t.desired, t.task_definition);
        let failed: i32 = svc.deployments.iter().map(|d| d.failed_tasks).sum();
        let baseline = *self.failed_baseline.get_or_insert(failed);
        if failed > baseline {
            return Reading::new(
                "ecs-service",
                Status::Failing,
                format!(
                    "failed tasks rose from {baseline} to {failed}; {}",
                    check.observed
                ),
            )
            .with_no_data(policy);
        }
        Reading::new("ecs-service", status(check.ok), check.observed).with_no_data(policy)
    }

    fn targets(&self, targets: Result<Vec<TargetHealth>, AwsError>) -> Reading {
        let policy = self.cfg.target_health;
        match targets {
            Err(e) => no_data("target-health", e.to_string(), policy),
            Ok(t) if t.is_empty() => no_data("target-health", "no target is registered", policy),
            Ok(t) => {
                let check = targets_healthy(&t, self.target.desired.max(0) as usize);
                Reading::new("target-health", status(check.ok), check.observed).with_no_data(policy)
            }
        }
    }

    fn alarms(
        &self,
        names: &[String],
        states: Result<Vec<crate::domain::ports::AlarmState>, AwsError>,
    ) -> Vec<Reading> {
        let Some(cfg) = &self.cfg.alarms else {
            return Vec::new();
        };
        let policy = cfg.no_data;
        let states = match states {
            Ok(s) => s,
            Err(e) => {
                return names
                    .iter()
                    .map(|n| no_data(format!("alarm:{n}"), e.to_string(), policy))
                    .collect()
            }
        };
        names
            .iter()
            .map(|n| {
                let signal = format!("alarm:{n}");
                match states.iter().find(|s| &s.name == n) {
                    None => no_data(signal, "alarm does not exist", policy),
                    Some(s) => {
                        let reason = s.reason.as_deref().unwrap_or("");
                        let observed = format!("{} {reason}", s.state).trim_end().to_string();
                        let st = match s.state.as_str() {
                            "OK" => Status::Ok,
                            "ALARM" => Status::Failing,
                            _ => Status::NoData,
                        };
                        Reading::new(signal, st, observed).with_no_data(policy)
                    }
                }
            })
            .collect()
    }

    async fn http(&mut self, check: &HttpCheck) -> Reading {
        let signal = format!("http:{}", check.name);
        let policy = check.no_data;
        let Some(prober) = &self.http else {
            return no_data(signal, "no HTTP client", policy);
        };
        let url = check.url.replace("{color}", self.target.color.as_str());
        let probe = prober.probe(&url, check.max_latency, BODY_LIMIT).await;
        let streak = self.streaks.entry(check.name.clone()).or_insert(0);
        let (status_code, latency, body) = match probe {
            Probe::NoResponse { error, .. } => {
                *streak = 0;
                return no_data(signal, format!("no response: {error}"), policy);
            }
            Probe::Response {
                status,
                latency,
                body,
            } => (status, latency, body),
        };
        let ms = latency.as_millis();
        let problem = if status_code != check.status {
            Some(format!("status {status_code}, want {}", check.status))
        } else if latency > check.max_latency {
            Some(format!(
                "answered in {ms} ms, budget {} ms",
                check.max_latency.as_millis()
            ))
        } else {
            check
                .body_contains
                .as_ref()
                .filter(|want| !body.contains(want.as_str()))
                .map(|want| format!("body does not contain {want:?}"))
        };
        if let Some(p) = problem {
            *streak = 0;
            return Reading::new(signal, Status::Failing, p).with_no_data(policy);
        }
        *streak += 1;
        let observed = format!(
            "status {status_code} in {ms} ms ({}/{} consecutive)",
            (*streak).min(check.consecutive),
            check.consecutive
        );
        let st = status(*streak >= check.consecutive);
        Reading::new(signal, st, observed).with_no_data(policy)
    }
}

fn status(ok: bool) -> Status {
    if ok {
        Status::Ok
    } else {
        Status::Failing
    }
}

fn no_data(
    signal: impl Into<String>,
    observed: impl Into<String>,
    policy: crate::config::NoData,
) -> Reading {
    Reading::new(signal, Status::NoData, observed).with_no_data(policy)
}
