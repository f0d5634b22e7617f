//! Container image references (`[registry/]repo[:tag][@sha256:…]`), validated before any work
//! starts so a typo never reaches Terraform or AWS.
//!
//! Resolving an ECR tag to the digest it points to (`repo@sha256:…`, what gets deployed) is
//! `crate::aws::SdkImages::resolve`; references to other registries pass through unchanged.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (with port), if the reference names one.
    pub registry: Option<String>,
    /// Repository path, e.g. `nginx/nginx`.
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, e.g. `sha256:…`.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{input}` (--image): {reason}\n  fix: {fix}")]
pub struct ImageError {
    pub input: String,
    pub reason: String,
    pub fix: String,
}

const FIX: &str = "pass `[registry/]repository[:tag][@sha256:<64 hex>]`, e.g. \
                   `123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.4.2` or `nginx:1.27`";

impl ImageRef {
    /// The same registry and repository pinned to `digest`, without a tag: the immutable form
    /// ECS task definitions take (`registry/repository@sha256:…`).
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        }
    }

    pub fn parse(input: &str) -> Result<ImageRef, ImageError> {
        let err = |reason: String| ImageError {
            input: input.to_string(),
            reason,
            fix: FIX.to_string(),
        };
        if input.is_empty() {
            return Err(err("it is empty".into()));
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(format!("it contains the character {c:?}")));
        }
        if input.len() > 1024 {
            return Err(err("it is longer than 1024 characters".into()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (r, Some(parse_digest(d).map_err(err)?)),
            None => (input, None),
        };
        // A ':' after the last '/' separates the tag; one before it is a registry port.
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|s| i > s) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            check_tag(t).map_err(err)?;
        }
        let (registry, repository) = split_registry(name);
        if let Some(r) = registry {
            check_registry(r).map_err(err)?;
        }
        check_repository(repository).map_err(err)?;
        Ok(ImageRef {
            registry: registry.map(str::to_string),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        // Docker's rule: the first component is a registry when it looks like a host.
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn parse_digest(d: &str) -> Result<String, String> {
    let Some((algo, hex)) = d.split_once(':') else {
        return Err(format!(
            "digest `{d}` has no algorithm (expected `sha256:<64 hex>`)"
        ));
    };
    if algo != "sha256" && algo != "sha512" {
        return Err(format!("digest algorithm `{algo}` is not sha256 or sha512"));
    }
    let want = if algo == "sha256" { 64 } else { 128 };
    if hex.len() != want
        || !hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return Err(format!(
            "{algo} digest must be {want} lowercase hex characters"
        ));
    }
    Ok(d.to_string())
}

fn check_tag(t: &str) -> Result<(), String> {
    let ok_first = t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let ok_rest = t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if t.is_empty() || t.len() > 128 || !ok_first || !ok_rest {
        return Err(format!(
            "tag `{t}` must be 1–128 of [A-Za-z0-9_.-] and not start with `.` or `-`"
        ));
    }
    Ok(())
}

fn check_registry(r: &str) -> Result<(), String> {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (r, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    if !host_ok || !port_ok {
        return Err(format!(
            "registry `{r}` is not a host name with an optional port"
        ));
    }
    Ok(())
}

fn check_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("the repository name is empty".into());
    }
    for comp in repo.split('/') {
        if !path_component_ok(comp) {
            return Err(format!(
                "repository component `{comp}` must be lowercase letters and digits, \
                 separated by `.`, `_`, `__` or `-`"
            ));
        }
    }
    Ok(())
}

fn path_component_ok(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let run = bytes[i..].iter().take_while(|b| !is_alnum(**b)).count();
        let sep = &c[i..i + run];
        if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|ch| ch == '-')) {
            return false;
        }
        i += run;
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_the_common_forms_and_round_trips() {
        let ok = [
            "nginx",
            "nginx:1.27",
            "public.ecr.aws/nginx/nginx:1.27",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1.4.2",
            "localhost:5000/app",
            "registry.example.com:5000/a/b-c__d.e:latest",
        ];
        for s in ok {
            let r = ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(r.to_string(), s);
        }
        let with_digest = format!("repo/app:1.0@{SHA}");
        let r = ImageRef::parse(&with_digest).unwrap();
        assert_eq!(r.digest.as_deref(), Some(SHA));
        assert_eq!(r.tag.as_deref(), Some("1.0"));
    }

    #[test]
    fn with_digest_drops_the_tag_and_replaces_the_digest() {
        let other = SHA.replace("0123", "4567");
        for (s, pinned) in [
            (
                "host.io:443/team/app:9",
                format!("host.io:443/team/app@{other}"),
            ),
            (&format!("app:1@{SHA}"), format!("app@{other}")),
            ("app", format!("app@{other}")),
        ] {
            let r = ImageRef::parse(s).unwrap().with_digest(&other);
            assert_eq!(r.to_string(), pinned);
            assert_eq!(ImageRef::parse(&pinned).unwrap(), r);
        }
    }

    #[test]
    fn splits_registry_port_from_tag() {
        let r = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.tag, None);
        let r = ImageRef::parse("host.io:443/app:9").unwrap();
        assert_eq!(r.registry.as_deref(), Some("host.io:443"));
        assert_eq!(r.tag.as_deref(), Some("9"));
    }

    #[test]
    fn rejects_bad_references_with_a_fix() {
        let bad = [
            "",
            "UPPER/app",
            "app:",
            "app:-x",
            "app@sha256:abc",
            "app@md5:0123",
            "app name",
            "app;rm -rf /",
            "app$(id)",
            "a//b",
            "-app",
            "app-:1",
            "app:tag:more",
            &format!("app@{}", SHA.to_uppercase().replace("SHA256", "sha256")),
        ];
        for s in bad {
            let e = ImageRef::parse(s).expect_err(s);
            let msg = e.to_string();
            assert!(msg.contains("--image") && msg.contains("fix:"), "{msg}");
        }
    }
}

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registry {
    /// A private ECR registry, `<account>.dkr.ecr.<region>.amazonaws.com`.
    Ecr { account: String, region: String },
    /// Anything else (Docker Hub, ECR Public, a self-hosted registry): not resolved.
    Other,
}

/// `<12 digits>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` → [`Registry::Ecr`]; a host with a
/// port, ECR Public (`public.ecr.aws`) or no registry at all → [`Registry::Other`].
pub fn classify(image: &ImageRef) -> Registry {
    let Some(host) = image.registry.as_deref() else {
        return Registry::Other;
    };
    let host = host.to_ascii_lowercase(); // host names are case-insensitive
    let labels: Vec<&str> = host.split('.').collect();
    let (account, region, china) = match labels.as_slice() {
        [account, "dkr", "ecr" | "ecr-fips", region, "amazonaws", "com"] => {
            (*account, *region, false)
        }
        [account, "dkr", "ecr" | "ecr-fips", region, "amazonaws", "com", "cn"] => {
            (*account, *region, true)
        }
        _ => return Registry::Other,
    };
    // `.com.cn` is the China partition: its regions, and only its regions, start with `cn-`.
    if !is_account(account) || !is_region(region) || region.starts_with("cn-") != china {
        return Registry::Other;
    }
    Registry::Ecr {
        account: account.to_string(),
        region: region.to_string(),
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`, …
fn is_region(s: &str) -> bool {
    s.contains('-')
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.ends_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An image reference after resolution: what the user asked for and what gets deployed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolved {
    /// What the user passed (`--image`).
    pub requested: String,
    /// What gets deployed: for ECR `registry/repository@sha256:…` (the tag dropped: ECS task
    /// definitions take `repo@digest`), for other registries the reference unchanged.
    pub pinned: String,
    /// The digest, when known (ECR always; others only if the reference carried one).
    pub digest: Option<String>,
    /// The tag that was resolved, if any.
    pub tag: Option<String>,
    pub ecr: bool,
}

impl Resolved {
    /// A reference that is deployed as given (not ECR): no lookup, nothing changed.
    pub fn unchanged(image: &ImageRef) -> Resolved {
        Resolved {
            requested: image.to_string(),
            pinned: image.to_string(),
            digest: image.digest.clone(),
            tag: image.tag.clone(),
            ecr: false,
        }
    }

    /// An ECR reference pinned to `digest`; `tag` is the tag that led there, if any.
    pub fn pinned_ecr(image: &ImageRef, tag: Option<&str>, digest: &str) -> Resolved {
        Resolved {
            requested: image.to_string(),
            pinned: image.with_digest(digest).to_string(),
            digest: Some(digest.to_string()),
            tag: tag.map(str::to_string),
            ecr: true,
        }
    }
}
