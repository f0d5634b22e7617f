//! How an ALB listener picks an action for a request, as plain data: rules by priority
//! (path-pattern and host-header conditions), then the default action; a weighted `forward`
//! picks one target group. No I/O here.

/// One listener as the emulator describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerRoute {
    pub rules: Vec<Rule>,
    pub default: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Any of the patterns matches the path (case-sensitive, `*` and `?` wildcards).
    Path(Vec<String>),
    /// Any of the patterns matches the host without its port (case-insensitive).
    Host(Vec<String>),
    /// A condition this data plane does not evaluate (http-header, query-string, ...):
    /// the rule never matches, so it is visible as "not routed here" rather than misrouting.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Weighted target groups (ARN, weight); a plain `TargetGroupArn` is one group at weight 1.
    Forward(Vec<(String, u32)>),
    Fixed {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    /// redirect, authenticate-*: answered 501 with the action's name.
    Unsupported(String),
}

impl ListenerRoute {
    /// The action for a request: the matching rule with the lowest priority, else the default.
    pub fn action_for(&self, path: &str, host: Option<&str>) -> &Action {
        let mut rules: Vec<&Rule> = self.rules.iter().collect();
        rules.sort_by_key(|r| r.priority);
        rules
            .into_iter()
            .find(|r| r.conditions.iter().all(|c| c.matches(path, host)))
            .map_or(&self.default, |r| &r.action)
    }
}

impl Condition {
    fn matches(&self, path: &str, host: Option<&str>) -> bool {
        match self {
            Condition::Path(patterns) => patterns.iter().any(|p| wildcard(p, path)),
            Condition::Host(patterns) => {
                let Some(host) = host else { return false };
                let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
                patterns
                    .iter()
                    .any(|p| wildcard(&p.to_ascii_lowercase(), &host))
            }
            Condition::Unsupported(_) => false,
        }
    }
}

/// ALB pattern matching: `*` any run of characters, `?` exactly one, everything else literal.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The target group for the `n`-th request of a listener: a low-discrepancy sequence
/// (golden-ratio steps), so every window of a few hundred requests carries each group's share
/// to within a fraction of a point, with no shared state beyond the counter.
pub fn pick_weighted(groups: &[(String, u32)], n: u64) -> Option<&str> {
    let total: u64 = groups.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    const PHI_FRAC: f64 = 0.618_033_988_749_894_9;
    let u = ((n as f64) * PHI_FRAC).fract();
    let mut point = (u * total as f64) as u64;
    for (arn, w) in groups {
        let w = u64::from(*w);
        if point < w {
            return Some(arn);
        }
        point -= w;
    }
    groups
        .iter()
        .rev()
        .find(|(_, w)| *w > 0)
        .map(|(a, _)| a.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(arn: &str) -> Action {
        Action::Forward(vec![(arn.into(), 1)])
    }

    #[test]
    fn wildcards_match_as_alb_does() {
        for (p, t, want) in [
            ("/api/*", "/api/x/y", true),
            ("/api/*", "/apix", false),
            ("/a?c", "/abc", true),
            ("/a?c", "/ac", false),
            ("*", "", true),
            ("/exact", "/exact", true),
            ("/exact", "/exact/", false),
            ("*.example.com", "a.example.com", true),
        ] {
            assert_eq!(wildcard(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn lowest_priority_matching_rule_wins_then_default() {
        let route = ListenerRoute {
            rules: vec![
                Rule {
                    priority: 20,
                    conditions: vec![Condition::Path(vec!["/api/*".into()])],
                    action: fwd("b"),
                },
                Rule {
                    priority: 10,
                    conditions: vec![
                        Condition::Path(vec!["/api/*".into()]),
                        Condition::Host(vec!["admin.*".into()]),
                    ],
                    action: fwd("a"),
                },
                Rule {
                    priority: 5,
                    conditions: vec![Condition::Unsupported("http-header".into())],
                    action: fwd("never"),
                },
            ],
            default: fwd("default"),
        };
        assert_eq!(route.action_for("/api/x", Some("ADMIN.x:80")), &fwd("a"));
        assert_eq!(route.action_for("/api/x", Some("www.x")), &fwd("b"));
        assert_eq!(route.action_for("/api/x", None), &fwd("b"));
        assert_eq!(route.action_for("/", Some("admin.x")), &fwd("default"));
    }

    #[test]
    fn weighted_pick_keeps_shares_in_every_window() {
        let groups = vec![("blue".to_string(), 80), ("green".to_string(), 20)];
        for start in [0u64, 7, 1000, 123_456] {
            let green = (start..start + 500)
                .filter(|&n| pick_weighted(&groups, n) == Some("green"))
                .count();
            assert!(
                (95..=105).contains(&green),
                "window at {start}: {green}/500"
            );
        }
        let zero = vec![("blue".to_string(), 0), ("green".to_string(), 100)];
        assert!((0..1000).all(|n| pick_weighted(&zero, n) == Some("green")));
        assert_eq!(pick_weighted(&[("x".to_string(), 0)], 3), None);
    }
}
