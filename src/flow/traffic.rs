//! Reading and moving listener weights. Every change is read back until the listener reports
//! exactly what was written; if it never does, the caller restores the last verified weights.
//!
//! Several routes move in rounds: one read of all of them ([`read_views`]: one
//! DescribeListeners for every listener, one DescribeRules for every rule), every write at
//! once ([`write_views`]), then one read-back round at a time.

use crate::domain::color::Weights;
use crate::domain::ports::{AwsError, Traffic};
use crate::domain::routes::{matches, view_of, ListenerView, TargetGroups, TrafficError};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

pub async fn read_view<T: Traffic>(
    traffic: &T,
    listener: &str,
    tgs: &TargetGroups,
) -> Result<ListenerView, TrafficError> {
    let action = traffic.read_default_action(listener).await?;
    view_of(&action, tgs).map_err(|reason| TrafficError::Unsupported {
        listener: listener.to_string(),
        reason,
    })
}

/// Every route's view, read in one round ([`Traffic::read_actions`]), in the order of `arns`.
pub async fn read_views<T: Traffic>(
    traffic: &T,
    arns: &[String],
    tgs: &TargetGroups,
) -> Result<Vec<ListenerView>, TrafficError> {
    let actions = traffic.read_actions(arns).await?;
    arns.iter()
        .zip(&actions)
        .map(|(arn, action)| {
            view_of(action, tgs).map_err(|reason| TrafficError::Unsupported {
                listener: arn.clone(),
                reason,
            })
        })
        .collect()
}

/// Writes every route's view at once; each result in the order of `routes`.
pub async fn write_views<T: Traffic>(
    traffic: &T,
    routes: &[(String, ListenerView)],
    tgs: &TargetGroups,
) -> Vec<Result<(), AwsError>> {
    join_all(
        routes
            .iter()
            .map(|(route, view)| write_view(traffic, route, tgs, view)),
    )
    .await
}

/// Runs every future at once on this task and returns their outputs in order (a few routes:
/// no task per write, no extra dependency).
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut running: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in running.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// Writes `wanted` and reads the listener back every `interval` until it reports exactly
/// `wanted` or `timeout` passes. Returns the number of reads it took.
pub async fn set_and_verify<T: Traffic>(
    traffic: &T,
    listener: &str,
    tgs: &TargetGroups,
    wanted: Weights,
    stickiness: Option<(bool, Option<i32>)>,
    timeout: Duration,
    interval: Duration,
) -> Result<u32, TrafficError> {
    let view = ListenerView::Forwarding {
        weights: wanted,
        stickiness,
    };
    set_all_and_verify(
        traffic,
        &[(listener.to_string(), view)],
        tgs,
        timeout,
        interval,
    )
    .await
}

/// Puts `view` on one route (a listener's default action or a rule's action).
pub async fn write_view<T: Traffic>(
    traffic: &T,
    route: &str,
    tgs: &TargetGroups,
    view: &ListenerView,
) -> Result<(), AwsError> {
    match view {
        ListenerView::Forwarding {
            weights,
            stickiness,
        } => {
            let targets = vec![
                (tgs.blue.clone(), weights.blue),
                (tgs.green.clone(), weights.green),
            ];
            traffic.set_forward(route, &targets, *stickiness).await
        }
        // The only non-forwarding state bluegreen writes is the modules' initial 503.
        ListenerView::NotForwarding { .. } => traffic.set_fixed_response(route, "503").await,
    }
}

/// Writes every route's view (all at once), then reads all of them back every `interval` until
/// each reports exactly what was written, or `timeout` passes. All or nothing: the caller
/// restores every route when this fails (a write that failed fails it, once every write has
/// answered). Returns the number of read rounds it took.
pub async fn set_all_and_verify<T: Traffic>(
    traffic: &T,
    routes: &[(String, ListenerView)],
    tgs: &TargetGroups,
    timeout: Duration,
    interval: Duration,
) -> Result<u32, TrafficError> {
    for written in write_views(traffic, routes, tgs).await {
        written?;
    }
    verify_all(traffic, routes, tgs, timeout, interval).await
}

/// Reads every route back until each reports its wanted view, or `timeout` passes: one read
/// round ([`read_views`]) of the routes not yet confirmed every `interval`.
pub async fn verify_all<T: Traffic>(
    traffic: &T,
    routes: &[(String, ListenerView)],
    tgs: &TargetGroups,
    timeout: Duration,
    interval: Duration,
) -> Result<u32, TrafficError> {
    let deadline = Instant::now() + timeout;
    let mut attempts = 0;
    let mut done = vec![false; routes.len()];
    loop {
        attempts += 1;
        let mut last = None;
        let pending: Vec<usize> = (0..routes.len()).filter(|i| !done[*i]).collect();
        let arns: Vec<String> = pending.iter().map(|i| routes[*i].0.clone()).collect();
        let reads = read_views(traffic, &arns, tgs).await?;
        for (i, read) in pending.into_iter().zip(reads) {
            let (route, wanted) = &routes[i];
            if matches(&read, wanted) {
                done[i] = true;
            } else if last.is_none() {
                last = Some((route, wanted, read));
            }
        }
        let Some((route, wanted, read)) = last else {
            return Ok(attempts);
        };
        if Instant::now() + interval > deadline {
            return Err(TrafficError::NotConverged {
                listener: route.clone(),
                wanted: wanted.weights(),
                last: read.weights(),
                attempts,
                timeout,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::color::{Color, Weights};
    use crate::domain::ports::ListenerAction;

    fn tgs() -> TargetGroups {
        TargetGroups {
            blue: "tg/blue".into(),
            green: "tg/green".into(),
        }
    }

    /// eventual consistency the real ELB API shows).
    struct LaggingListener {
        state: std::sync::Mutex<(ListenerAction, ListenerAction, u32)>,
        stale_reads: u32,
    }

    impl LaggingListener {
        fn new(stale_reads: u32) -> Self {
            let start = ListenerAction::Forward {
                targets: vec![("tg/blue".into(), 100), ("tg/green".into(), 0)],
                stickiness: None,
            };
            LaggingListener {
                state: std::sync::Mutex::new((start.clone(), start, 0)),
                stale_reads,
            }
        }
    }

    impl Traffic for LaggingListener {
        async fn read_actions(&self, arns: &[String]) -> Result<Vec<ListenerAction>, AwsError> {
            let mut out = Vec::new();
            for arn in arns {
                out.push(self.read_default_action(arn).await?);
            }
            Ok(out)
        }
        async fn read_default_action(&self, _: &str) -> Result<ListenerAction, AwsError> {
            let mut s = self.state.lock().unwrap();
            s.2 += 1;
            Ok(if s.2 > self.stale_reads {
                s.1.clone()
            } else {
                s.0.clone()
            })
        }
        async fn set_forward(
            &self,
            _: &str,
            targets: &[(String, u16)],
            stickiness: Option<(bool, Option<i32>)>,
        ) -> Result<(), AwsError> {
            let mut s = self.state.lock().unwrap();
            s.1 = ListenerAction::Forward {
                targets: targets.to_vec(),
                stickiness,
            };
            s.2 = 0;
            Ok(())
        }
        async fn set_fixed_response(&self, _: &str, _: &str) -> Result<(), AwsError> {
            unimplemented!()
        }
        async fn target_health(&self, _: &str) -> Result<Vec<crate::aws::TargetHealth>, AwsError> {
            Ok(vec![])
        }
    }

    #[tokio::test]
    async fn stale_reads_are_retried_until_the_weights_converge() {
        let l = LaggingListener::new(3);
        let want = Weights::all_on(Color::Green);
        let reads = set_and_verify(
            &l,
            "l",
            &tgs(),
            want,
            None,
            Duration::from_secs(5),
            Duration::from_millis(1),
        )
        .await
        .unwrap();
        assert_eq!(reads, 4, "three stale reads, then the written weights");
    }

    #[tokio::test]
    async fn weights_that_never_converge_fail_with_what_was_read() {
        let l = LaggingListener::new(u32::MAX);
        let want = Weights::all_on(Color::Green);
        let err = set_and_verify(
            &l,
            "l",
            &tgs(),
            want,
            None,
            Duration::from_millis(50),
            Duration::from_millis(5),
        )
        .await
        .unwrap_err();
        match err {
            TrafficError::NotConverged {
                wanted,
                last,
                attempts,
                ..
            } => {
                assert_eq!(wanted, want);
                assert_eq!(last, Weights::all_on(Color::Blue));
                assert!(attempts >= 2, "{attempts}");
            }
            other => panic!("{other}"),
        }
    }
}
