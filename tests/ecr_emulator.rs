//! ECR tag → digest resolution (`SdkImages`) and the caller identity (`SdkIdentity`) against the
//! emulator. Images are pushed with the ECR API itself (`PutImage` with a Docker v2 schema-2
//! manifest), as a pipeline's `docker push` would leave them.
//!
//! What moto 5.2.1 does, from `moto/ecr/models.py` (getmoto/moto, the version pinned in
//! `scripts/emulator-requirements.txt`):
//! - an image's digest is `sha256:` + the SHA-256 of its layer digests concatenated, not of the
//!   manifest (`Image._create_digest`); so the manifests below differ in their layers;
//! - `PutImage` of a new manifest under a tag another image holds first calls
//!   `batch_delete_image(imageTag=tag)`: when that tag was the old image's only tag, the old
//!   image is DELETED; when it had other tags, only the tag is removed. Real ECR keeps the old
//!   image, untagged. So a test that needs the old digest to survive a re-push gives the old
//!   image a second tag first (as pipelines that also tag by build number do);
//! - `DescribeImages` raises `ImageNotFoundException` for an id no image matches and
//!   `RepositoryNotFoundException` when the repository is missing or `registryId` is not its
//!   account; the account is 123456789012 (`DEFAULT_ACCOUNT_ID`);
//! - `GetCallerIdentity` with credentials moto did not issue answers
//!   `arn:aws:sts::123456789012:user/moto`; with credentials from its `AssumeRole`, the
//!   assumed-role ARN.

mod common;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr as ecr;
use aws_sdk_ecr::config::Credentials;
use bluegreen::aws::{ImageLookupError, Resolved, SdkIdentity, SdkImages};
use bluegreen::domain::image::ImageRef;
use common::Emulator;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn image(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// A small valid Docker image manifest (schema 2) whose one layer's digest is built from `seed`.
fn manifest(seed: u8) -> String {
    let layer = format!("sha256:{}", format!("{seed:02x}").repeat(32));
    let config = format!("sha256:{}", format!("{:02x}", seed ^ 0xff).repeat(32));
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1469,
            "digest": config,
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 3_208_942,
            "digest": layer,
        }],
    })
    .to_string()
}

/// The ECR client of the test itself, in `region`.
fn ecr_in(emulator: &Emulator, region: &str) -> ecr::Client {
    let conf = ecr::config::Builder::from(&emulator.sdk_config())
        .region(Region::new(region.to_string()))
        .build();
    ecr::Client::from_conf(conf)
}

fn create_repository(emulator: &Emulator, region: &str, name: &str) {
    let create = ecr_in(emulator, region)
        .create_repository()
        .repository_name(name)
        .send();
    emulator
        .block_on(create)
        .unwrap_or_else(|e| panic!("CreateRepository {name}: {e:?}"));
}

/// Pushes `manifest` as `repository:tag` in us-east-1; returns the digest ECR reports.
fn push(emulator: &Emulator, repository: &str, tag: &str, manifest: &str) -> String {
    let put = ecr_in(emulator, "us-east-1")
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(manifest)
        .send();
    let out = emulator
        .block_on(put)
        .unwrap_or_else(|e| panic!("PutImage {repository}:{tag}: {e:?}"));
    let digest = out
        .image()
        .and_then(|i| i.image_id())
        .and_then(|id| id.image_digest())
        .expect("PutImage reports the digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    digest.to_string()
}

fn resolve(emulator: &Emulator, reference: &str) -> Result<Resolved, ImageLookupError> {
    let images = SdkImages::new(&emulator.sdk_config());
    emulator.block_on(images.resolve(&image(reference)))
}

fn exists(emulator: &Emulator, reference: &str) -> bool {
    let images = SdkImages::new(&emulator.sdk_config());
    emulator
        .block_on(images.digest_exists(&image(reference)))
        .unwrap_or_else(|e| panic!("digest_exists {reference}: {e}"))
}

fn not_found_reason(result: Result<Resolved, ImageLookupError>) -> String {
    match result {
        Err(ImageLookupError::NotFound { reason, fix, .. }) => {
            assert!(fix.contains("--region us-east-1"), "{fix}");
            reason
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn a_tag_resolves_to_the_digest_ecr_reports_and_follows_a_re_push() {
    let emulator = Emulator::start();
    create_repository(&emulator, "us-east-1", "team/app");
    let old = push(&emulator, "team/app", "v1", &manifest(1));
    // A second tag on the same image keeps it alive through the re-push (see the module doc).
    assert_eq!(push(&emulator, "team/app", "build-41", &manifest(1)), old);

    let first = resolve(&emulator, &format!("{HOST}/team/app:v1")).unwrap();
    assert_eq!(
        first,
        Resolved {
            requested: format!("{HOST}/team/app:v1"),
            pinned: format!("{HOST}/team/app@{old}"),
            digest: Some(old.clone()),
            tag: Some("v1".into()),
            ecr: true,
        }
    );

    let new = push(&emulator, "team/app", "v1", &manifest(2));
    assert_ne!(new, old);
    let second = resolve(&emulator, &format!("{HOST}/team/app:v1")).unwrap();
    assert_eq!(second.digest.as_deref(), Some(new.as_str()));
    assert_eq!(second.pinned, format!("{HOST}/team/app@{new}"));

    // What was deployed before is still there, and still resolves as a bare digest.
    assert!(exists(&emulator, &first.pinned));
    assert!(exists(&emulator, &second.pinned));
    let by_digest = resolve(&emulator, &first.pinned).unwrap();
    assert_eq!(
        (by_digest.pinned, by_digest.digest, by_digest.tag),
        (first.pinned.clone(), Some(old.clone()), None)
    );

    // Tag and digest together: the tag must still point there.
    let agreeing = resolve(&emulator, &format!("{HOST}/team/app:v1@{new}")).unwrap();
    assert_eq!(agreeing.pinned, second.pinned);
    assert_eq!(agreeing.tag.as_deref(), Some("v1"));
    match resolve(&emulator, &format!("{HOST}/team/app:v1@{old}")) {
        Err(e @ ImageLookupError::TagMoved { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&old) && msg.contains(&new), "{msg}");
        }
        other => panic!("expected TagMoved, got {other:?}"),
    }
}

#[test]
fn no_tag_means_latest() {
    let emulator = Emulator::start();
    create_repository(&emulator, "us-east-1", "app");
    let v1 = push(&emulator, "app", "v1", &manifest(1));
    let reason = not_found_reason(resolve(&emulator, &format!("{HOST}/app")));
    assert!(reason.contains("tag `latest`"), "{reason}");

    let latest = push(&emulator, "app", "latest", &manifest(3));
    assert_ne!(latest, v1);
    let r = resolve(&emulator, &format!("{HOST}/app")).unwrap();
    assert_eq!(r.tag.as_deref(), Some("latest"));
    assert_eq!(r.pinned, format!("{HOST}/app@{latest}"));
}

#[test]
fn a_missing_tag_digest_or_repository_is_not_found_and_named() {
    let emulator = Emulator::start();
    create_repository(&emulator, "us-east-1", "app");
    push(&emulator, "app", "v1", &manifest(1));

    let reason = not_found_reason(resolve(&emulator, &format!("{HOST}/app:v2")));
    assert_eq!(
        reason,
        "tag `v2` not found in repository `app` (account 123456789012, region us-east-1)"
    );

    let absent = format!("sha256:{}", "0".repeat(64));
    let reason = not_found_reason(resolve(&emulator, &format!("{HOST}/app@{absent}")));
    assert!(reason.contains(&format!("digest `{absent}`")), "{reason}");
    assert!(!exists(&emulator, &format!("{HOST}/app@{absent}")));

    let reason = not_found_reason(resolve(&emulator, &format!("{HOST}/nope:v1")));
    assert_eq!(
        reason,
        "repository `nope` (account 123456789012, region us-east-1) does not exist"
    );
    assert!(!exists(&emulator, &format!("{HOST}/nope@{absent}")));

    // The account is part of the address: the same repository name in another registry.
    let elsewhere = "210987654321.dkr.ecr.us-east-1.amazonaws.com/app:v1";
    let reason = not_found_reason(resolve(&emulator, elsewhere));
    assert!(
        reason.contains("repository `app` (account 210987654321"),
        "{reason}"
    );
}

/// moto deletes an image whose only tag moves to a new push (real ECR keeps it untagged):
/// `digest_exists` then answers false, not an error, for the old pinned reference.
#[test]
fn digest_exists_is_false_once_the_image_is_gone() {
    let emulator = Emulator::start();
    create_repository(&emulator, "us-east-1", "app");
    let old = push(&emulator, "app", "v1", &manifest(1));
    let old_pinned = format!("{HOST}/app@{old}");
    assert!(exists(&emulator, &old_pinned));

    push(&emulator, "app", "v1", &manifest(2));
    assert!(!exists(&emulator, &old_pinned));
    let reason = not_found_reason(resolve(&emulator, &old_pinned));
    assert!(reason.contains(&old), "{reason}");
}

#[test]
fn the_registry_region_is_the_one_in_the_host_name() {
    let emulator = Emulator::start();
    // The shared configuration is us-east-1; the repository is only in us-west-2.
    create_repository(&emulator, "us-west-2", "app");
    let put = ecr_in(&emulator, "us-west-2")
        .put_image()
        .repository_name("app")
        .image_tag("v1")
        .image_manifest(manifest(7))
        .send();
    let digest = emulator
        .block_on(put)
        .unwrap()
        .image()
        .and_then(|i| i.image_id())
        .and_then(|id| id.image_digest())
        .unwrap()
        .to_string();

    let west = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
    let r = resolve(&emulator, &format!("{west}:v1")).unwrap();
    assert_eq!(r.pinned, format!("{west}@{digest}"));
    assert!(exists(&emulator, &r.pinned));

    let reason = not_found_reason(resolve(&emulator, &format!("{HOST}/app:v1")));
    assert!(reason.contains("does not exist"), "{reason}");
}

/// An SDK configuration whose endpoint is `port` on loopback, with one attempt per call and a
/// short timeout.
fn config_for(rt: &tokio::runtime::Runtime, port: u16) -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_timeout(Duration::from_secs(2))
        .build();
    rt.block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(timeouts)
            .load(),
    )
}

/// Other registries pass through without a call; an ECR reference whose endpoint does not
/// answer is an AWS error, never "not found".
#[test]
fn other_registries_pass_through_and_network_failures_are_aws_errors() {
    // A listening socket that never answers: a connection attempt lands in its backlog.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let images = SdkImages::new(&config_for(&rt, listener.local_addr().unwrap().port()));

    let sha = format!("sha256:{}", "a".repeat(64));
    for reference in [
        "nginx:1.27".to_string(),
        "public.ecr.aws/nginx/nginx:1.27".to_string(),
        format!("ghcr.io/org/app:2@{sha}"),
        "localhost:5000/app".to_string(),
    ] {
        let image = image(&reference);
        let r = rt.block_on(images.resolve(&image)).unwrap();
        assert_eq!(r, Resolved::unchanged(&image));
        assert_eq!((r.pinned.as_str(), r.ecr), (reference.as_str(), false));
        assert!(rt.block_on(images.digest_exists(&image)).unwrap());
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "a non-ECR reference made a network call"
    );

    let ecr_ref = image(&format!("{HOST}/app:v1"));
    match rt.block_on(images.resolve(&ecr_ref)) {
        Err(ImageLookupError::Aws(e)) => {
            assert_eq!(e.operation, "DescribeImages");
            assert!(e.resource.contains("repository `app`"), "{e}");
        }
        other => panic!("expected an AWS error, got {other:?}"),
    }
    assert!(
        rt.block_on(images.digest_exists(&ecr_ref)).is_err(),
        "an unanswered call is not a missing image"
    );
    assert!(listener.accept().is_ok(), "the ECR reference was looked up");
}

#[test]
fn caller_arn_is_the_identity_of_the_credentials() {
    let emulator = Emulator::start();
    let identity = SdkIdentity::new(&emulator.sdk_config());
    let arn = emulator.block_on(identity.caller_arn()).unwrap();
    assert_eq!(arn, "arn:aws:sts::123456789012:user/moto");

    // With a role's credentials, the role session: the ARN follows the credentials.
    let assume = aws_sdk_sts::Client::new(&emulator.sdk_config())
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/deploy")
        .role_session_name("pipeline")
        .send();
    let out = emulator.block_on(assume).unwrap();
    let creds = out.credentials().expect("AssumeRole returns credentials");
    let conf = emulator.block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "assumed",
            ))
            .load(),
    );
    let arn = emulator
        .block_on(SdkIdentity::new(&conf).caller_arn())
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:sts::123456789012:assumed-role/deploy/pipeline"
    );
}
