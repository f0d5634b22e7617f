//! CloudWatch alarms: the narrow view the health signals need, and its SDK implementation.
//!
//! The crate is pinned to the last release that speaks the awsQuery protocol (see
//! `docs/aws-sdk.md`); `tests/cloudwatch_emulator.rs` fails when that stops being true.

use std::collections::BTreeSet;

use aws_sdk_cloudwatch as cloudwatch;
use cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use cloudwatch::types::{AlarmType, StateValue};

use super::AwsError;
use crate::domain::ports::{AlarmState, Alarms};

/// DescribeAlarms takes at most 100 alarm names per call, and returns at most 100 per page.
const MAX_NAMES_PER_CALL: usize = 100;

#[derive(Clone)]
pub struct SdkAlarms {
    client: cloudwatch::Client,
}

impl SdkAlarms {
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        SdkAlarms {
            client: cloudwatch::Client::new(conf),
        }
    }

    /// One DescribeAlarms call (following NextToken) for at most [`MAX_NAMES_PER_CALL`] names.
    async fn describe_batch(
        &self,
        batch: &[String],
        states: &mut Vec<AlarmState>,
    ) -> Result<(), AwsError> {
        let mut pages = self
            .client
            .describe_alarms()
            .set_alarm_names(Some(batch.to_vec()))
            // Without AlarmTypes, DescribeAlarms returns metric alarms only.
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(MAX_NAMES_PER_CALL as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::sdk("DescribeAlarms", describe(batch), e))?;
            states.extend(states_in(&page));
        }
        Ok(())
    }
}

impl Alarms for SdkAlarms {
    async fn alarm_states(&self, names: &[String]) -> Result<Vec<AlarmState>, AwsError> {
        // Never call with no names: DescribeAlarms without AlarmNames lists every alarm.
        let unique: Vec<String> = names
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        let mut states = Vec::new();
        for batch in unique.chunks(MAX_NAMES_PER_CALL) {
            self.describe_batch(batch, &mut states).await?;
        }
        Ok(states)
    }
}

fn states_in(page: &DescribeAlarmsOutput) -> Vec<AlarmState> {
    let metric = page
        .metric_alarms()
        .iter()
        .map(|a| (a.alarm_name(), a.state_value(), a.state_reason()));
    let composite = page
        .composite_alarms()
        .iter()
        .map(|a| (a.alarm_name(), a.state_value(), a.state_reason()));
    metric
        .chain(composite)
        .filter_map(|(name, state, reason)| {
            Some(AlarmState {
                name: name?.to_string(),
                state: state
                    .map(StateValue::as_str)
                    .unwrap_or_default()
                    .to_string(),
                reason: reason.map(str::to_string),
            })
        })
        .collect()
}

/// The resource named in an error: the alarms of the failed call, abbreviated.
fn describe(batch: &[String]) -> String {
    const SHOWN: usize = 3;
    let shown = batch
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match batch.len() {
        1 => format!("alarm {shown}"),
        n if n <= SHOWN => format!("alarms {shown}"),
        n => format!("alarms {shown} and {} more", n - SHOWN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudwatch::types::{CompositeAlarm, MetricAlarm};

    #[test]
    fn metric_and_composite_alarms_both_count() {
        let page = DescribeAlarmsOutput::builder()
            .metric_alarms(
                MetricAlarm::builder()
                    .alarm_name("api-5xx")
                    .state_value(StateValue::Ok)
                    .state_reason("Threshold Crossed: no datapoints were received")
                    .build(),
            )
            .composite_alarms(
                CompositeAlarm::builder()
                    .alarm_name("api-any")
                    .state_value(StateValue::Alarm)
                    .build(),
            )
            // An alarm without a name cannot be matched to the config; it is dropped.
            .metric_alarms(
                MetricAlarm::builder()
                    .state_value(StateValue::Alarm)
                    .build(),
            )
            .build();
        assert_eq!(
            states_in(&page),
            vec![
                AlarmState {
                    name: "api-5xx".into(),
                    state: "OK".into(),
                    reason: Some("Threshold Crossed: no datapoints were received".into()),
                },
                AlarmState {
                    name: "api-any".into(),
                    state: "ALARM".into(),
                    reason: None,
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_alarms_of_the_failed_call() {
        let names = |n: usize| (1..=n).map(|i| format!("a{i}")).collect::<Vec<_>>();
        assert_eq!(describe(&names(1)), "alarm a1");
        assert_eq!(describe(&names(3)), "alarms a1, a2, a3");
        assert_eq!(describe(&names(100)), "alarms a1, a2, a3 and 97 more");
    }

    /// DescribeAlarms without names would list every alarm in the account and region; no names
    /// must mean no call. The endpoint is a closed port, so a call would fail the test.
    #[tokio::test]
    async fn no_names_make_no_call() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(cloudwatch::config::SharedCredentialsProvider::new(
                cloudwatch::config::Credentials::new("test", "test", None, None, "test"),
            ))
            .build();
        let states = SdkAlarms::new(&conf).alarm_states(&[]).await;
        assert_eq!(states.unwrap(), vec![]);
    }
}
