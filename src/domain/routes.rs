//! Listener weights as bluegreen sees them: a route's action reduced to the two colors' weights,
//! and what a change must read back as. Reading and writing them is `crate::flow::traffic`.

use super::color::{Color, Weights};
use super::ports::{AwsError, ListenerAction};
use std::time::Duration;

/// The two target groups of an environment, by color.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroups {
    pub blue: String,
    pub green: String,
}

impl TargetGroups {
    pub fn of(&self, color: Color) -> &str {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }
}

/// What a listener currently does with traffic, in blue/green terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerView {
    /// No weighted forward yet (the modules' 503 fixed response before the first deploy).
    NotForwarding { action: String },
    Forwarding {
        weights: Weights,
        stickiness: Option<(bool, Option<i32>)>,
    },
}

impl ListenerView {
    pub fn weights(&self) -> Weights {
        match self {
            ListenerView::NotForwarding { .. } => Weights::default(),
            ListenerView::Forwarding { weights, .. } => *weights,
        }
    }

    /// Stickiness settings to carry over when the weights are rewritten.
    pub fn stickiness(&self) -> Option<(bool, Option<i32>)> {
        match self {
            ListenerView::NotForwarding { .. } => None,
            ListenerView::Forwarding { stickiness, .. } => *stickiness,
        }
    }
}

/// Interprets a listener action against our two target groups. A forward to any other target
/// group is an error: bluegreen never rewrites an action it does not fully understand.
pub fn view_of(action: &ListenerAction, tgs: &TargetGroups) -> Result<ListenerView, String> {
    match action {
        ListenerAction::FixedResponse { status } => Ok(ListenerView::NotForwarding {
            action: format!("fixed-response {status}"),
        }),
        ListenerAction::Other { kind } => Err(format!(
            "its default action is `{kind}`, not a forward to the blue/green target groups"
        )),
        ListenerAction::Forward {
            targets,
            stickiness,
        } => {
            let mut w = Weights::default();
            for (arn, weight) in targets {
                if arn == &tgs.blue {
                    w.blue = *weight;
                } else if arn == &tgs.green {
                    w.green = *weight;
                } else {
                    return Err(format!(
                        "it forwards to target group {arn}, which is neither the blue ({}) nor the green ({}) one",
                        tgs.blue, tgs.green
                    ));
                }
            }
            Ok(ListenerView::Forwarding {
                weights: w,
                stickiness: *stickiness,
            })
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("listener {listener} cannot be shifted: {reason}")]
    Unsupported { listener: String, reason: String },
    #[error(
        "listener {listener} did not read back {wanted} within {timeout:?} \
         (last read: {last}, {attempts} reads)"
    )]
    NotConverged {
        listener: String,
        wanted: Weights,
        last: Weights,
        attempts: u32,
        timeout: Duration,
    },
}

/// Whether a route reads as `wanted`. Stickiness is carried over, not verified: only the split
/// of traffic is.
pub fn matches(read: &ListenerView, wanted: &ListenerView) -> bool {
    match (read, wanted) {
        (ListenerView::NotForwarding { .. }, ListenerView::NotForwarding { .. }) => true,
        (
            ListenerView::Forwarding { weights: a, .. },
            ListenerView::Forwarding { weights: b, .. },
        ) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgs() -> TargetGroups {
        TargetGroups {
            blue: "tg/blue".into(),
            green: "tg/green".into(),
        }
    }

    #[test]
    fn fixed_response_is_not_forwarding() {
        let v = view_of(
            &ListenerAction::FixedResponse {
                status: "503".into(),
            },
            &tgs(),
        )
        .unwrap();
        assert_eq!(v.weights(), Weights::default());
        assert_eq!(v.weights().live_color(), None);
    }

    #[test]
    fn weighted_forward_maps_to_colors() {
        let a = ListenerAction::Forward {
            targets: vec![("tg/green".into(), 100), ("tg/blue".into(), 0)],
            stickiness: None,
        };
        let v = view_of(&a, &tgs()).unwrap();
        assert_eq!(
            v.weights(),
            Weights {
                blue: 0,
                green: 100
            }
        );
    }

    /// A listener whose reads lag its writes by `stale_reads` reads (a scripted fake of the
    #[test]
    fn foreign_target_group_or_action_is_refused() {
        let a = ListenerAction::Forward {
            targets: vec![("tg/other".into(), 100)],
            stickiness: None,
        };
        assert!(view_of(&a, &tgs()).unwrap_err().contains("tg/other"));
        let r = ListenerAction::Other {
            kind: "redirect".into(),
        };
        assert!(view_of(&r, &tgs()).unwrap_err().contains("redirect"));
    }
}
