//! ECR image resolution: a tag becomes the digest it points to now, so a plan pins an immutable
//! image (`registry/repository@sha256:…`, the form ECS task definitions take).
//!
//! Only ECR references are resolved; any other registry's reference passes through unchanged,
//! without a call. The ECR client for a reference uses the region in its host name, whatever the
//! region of the shared configuration; the endpoint still comes from the SDK's own chain
//! (`AWS_ENDPOINT_URL` for the local emulator).

use aws_config::{Region, SdkConfig};
use aws_sdk_ecr as ecr;
use ecr::operation::describe_images::DescribeImagesError;
use ecr::types::ImageIdentifier;

use super::AwsError;
use crate::domain::image::{classify, ImageRef, Registry, Resolved};
use crate::domain::ports::{ImageLookupError, Images};

/// Docker's rule: a reference with neither tag nor digest means this tag.
const DEFAULT_TAG: &str = "latest";

/// One ECR repository, as the API addresses it.
struct Repo<'a> {
    account: &'a str,
    region: &'a str,
    name: &'a str,
}

impl Repo<'_> {
    fn describe(&self) -> String {
        format!(
            "repository `{}` (account {}, region {})",
            self.name, self.account, self.region
        )
    }

    fn not_found(&self, image: &ImageRef, missing: Missing, what: &str) -> ImageLookupError {
        let (reason, fix) = match missing {
            Missing::Repository => (
                format!("{} does not exist", self.describe()),
                format!(
                    "check the account, region and repository in the reference, or list the \
                     repositories with `aws ecr describe-repositories --registry-id {} --region {}`",
                    self.account, self.region
                ),
            ),
            Missing::Image => (
                format!("{what} not found in {}", self.describe()),
                format!(
                    "push the image first, or check the tag with `aws ecr describe-images \
                     --registry-id {} --repository-name {} --region {}`",
                    self.account, self.name, self.region
                ),
            ),
        };
        ImageLookupError::NotFound {
            image: image.to_string(),
            reason,
            fix,
        }
    }
}

/// What DescribeImages reported missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Repository,
    Image,
}

#[derive(Clone)]
pub struct SdkImages {
    conf: SdkConfig,
}

impl SdkImages {
    pub fn new(conf: &SdkConfig) -> Self {
        SdkImages { conf: conf.clone() }
    }

    /// ECR: tag → digest with DescribeImages (registryId = the account from the host,
    /// repositoryName, imageIds = [tag or digest]). A reference with a digest is checked to
    /// exist; if it also has a tag, the tag must still point to that digest
    /// ([`ImageLookupError::TagMoved`] names both digests otherwise). No tag and no digest means
    /// tag `latest` (Docker's rule). Other registries: returned unchanged, no call.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Resolved, ImageLookupError> {
        let Registry::Ecr { account, region } = classify(image) else {
            return Ok(Resolved::unchanged(image));
        };
        let repo = Repo {
            account: &account,
            region: &region,
            name: &image.repository,
        };
        let client = self.client(&region);
        if let Some(digest) = &image.digest {
            let found = describe(&client, &repo, by_digest(digest)).await?;
            found.map_err(|m| repo.not_found(image, m, &format!("digest `{digest}`")))?;
        }
        let tag = match (image.tag.as_deref(), image.digest.as_deref()) {
            (Some(tag), _) => tag,
            (None, Some(digest)) => return Ok(Resolved::pinned_ecr(image, None, digest)),
            (None, None) => DEFAULT_TAG,
        };
        let current = describe(&client, &repo, by_tag(tag))
            .await?
            .map_err(|m| repo.not_found(image, m, &format!("tag `{tag}`")))?;
        match &image.digest {
            Some(requested) if *requested != current => Err(ImageLookupError::TagMoved {
                image: image.to_string(),
                tag: tag.to_string(),
                fix: format!(
                    "deploy `{}` (what `{tag}` is now) or `{}` (the digest given), without the tag",
                    image.with_digest(&current),
                    image.with_digest(requested),
                ),
                requested: requested.clone(),
                current,
            }),
            _ => Ok(Resolved::pinned_ecr(image, Some(tag), &current)),
        }
    }

    /// Whether the image `image` names still exists in ECR: by its digest (a pinned
    /// `repo@digest`), or by its tag (or `latest`) when it has no digest. A missing repository
    /// is `false` too. `Ok(true)` for non-ECR references, without a call.
    pub async fn digest_exists(&self, image: &ImageRef) -> Result<bool, ImageLookupError> {
        let Registry::Ecr { account, region } = classify(image) else {
            return Ok(true);
        };
        let repo = Repo {
            account: &account,
            region: &region,
            name: &image.repository,
        };
        let id = match (&image.digest, &image.tag) {
            (Some(digest), _) => by_digest(digest),
            (None, tag) => by_tag(tag.as_deref().unwrap_or(DEFAULT_TAG)),
        };
        let found = describe(&self.client(&region), &repo, id).await?;
        Ok(found.is_ok())
    }

    /// An ECR client for `region` (ECR's API is regional: the registry's region decides).
    fn client(&self, region: &str) -> ecr::Client {
        let conf = ecr::config::Builder::from(&self.conf)
            .region(Region::new(region.to_string()))
            .build();
        ecr::Client::from_conf(conf)
    }
}

impl Images for SdkImages {
    async fn resolve(&self, image: &ImageRef) -> Result<Resolved, ImageLookupError> {
        SdkImages::resolve(self, image).await
    }

    async fn digest_exists(&self, image: &ImageRef) -> Result<bool, ImageLookupError> {
        SdkImages::digest_exists(self, image).await
    }
}

fn by_tag(tag: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(tag).build()
}

fn by_digest(digest: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_digest(digest).build()
}

/// One DescribeImages call for one image id: `Ok(Ok(digest))` when it exists, `Ok(Err(what is
/// missing))` when ECR says the image or the repository does not exist, `Err` for every other
/// failure (access denied, throttling, network), which must never read as "not found".
async fn describe(
    client: &ecr::Client,
    repo: &Repo<'_>,
    id: ImageIdentifier,
) -> Result<Result<String, Missing>, AwsError> {
    let out = client
        .describe_images()
        .registry_id(repo.account)
        .repository_name(repo.name)
        .image_ids(id)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            return match e.as_service_error() {
                Some(DescribeImagesError::ImageNotFoundException(_)) => Ok(Err(Missing::Image)),
                Some(DescribeImagesError::RepositoryNotFoundException(_)) => {
                    Ok(Err(Missing::Repository))
                }
                _ => Err(AwsError::sdk("DescribeImages", repo.describe(), e)),
            };
        }
    };
    // ECR answers a missing id with ImageNotFoundException; an empty list means the same.
    let Some(detail) = out.image_details().first() else {
        return Ok(Err(Missing::Image));
    };
    detail
        .image_digest()
        .map(|d| Ok(d.to_string()))
        .ok_or_else(|| AwsError::new("DescribeImages", repo.describe(), "no imageDigest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn classified(s: &str) -> Registry {
        classify(&ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    fn ecr(account: &str, region: &str) -> Registry {
        Registry::Ecr {
            account: account.into(),
            region: region.into(),
        }
    }

    #[test]
    fn private_ecr_hosts_are_ecr_with_their_account_and_region() {
        let cases = [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "us-east-1",
            ),
            (
                "123456789012.dkr.ecr.eu-west-3.amazonaws.com/team/app",
                "eu-west-3",
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app:1",
                "us-gov-west-1",
            ),
            (
                "123456789012.dkr.ecr-fips.us-east-2.amazonaws.com/app",
                "us-east-2",
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1",
                "cn-north-1",
            ),
            (
                "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/a/b",
                "cn-northwest-1",
            ),
            (
                &format!("123456789012.dkr.ecr.ap-southeast-5.amazonaws.com/app@{SHA}"),
                "ap-southeast-5",
            ),
            (
                "123456789012.DKR.ECR.us-east-1.AmazonAWS.com/app",
                "us-east-1",
            ),
        ];
        for (image, region) in cases {
            assert_eq!(classified(image), ecr("123456789012", region), "{image}");
        }
    }

    #[test]
    fn everything_else_is_another_registry() {
        let other = [
            "nginx",
            "nginx:1.27",
            "library/nginx:1.27",
            "docker.io/library/nginx:1.27",
            "public.ecr.aws/nginx/nginx:1.27",
            "localhost:5000/app",
            "registry.example.com/app:1",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com/app", // 11 digits
            "1234567890123.dkr.ecr.us-east-1.amazonaws.com/app", // 13 digits
            "12345678901a.dkr.ecr.us-east-1.amazonaws.com/app", // not digits
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:443/app", // a port
            "123456789012.dkr.ecr.amazonaws.com/app",          // no region
            "123456789012.dkr.ecr.us-east-1.amazonaws.org/app",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app",
            "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com/app", // China region, global domain
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn/app", // global region, .cn
            "123456789012.dkr.ecr-public.us-east-1.amazonaws.com/app",
            "123456789012.dkr.ecr.useast1.amazonaws.com/app",
        ];
        for image in other {
            assert_eq!(classified(image), Registry::Other, "{image}");
        }
    }

    #[test]
    fn ecr_pins_drop_the_tag_and_keep_registry_and_repository() {
        let image =
            ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1").unwrap();
        let r = Resolved::pinned_ecr(&image, Some("v1"), SHA);
        assert_eq!(
            r,
            Resolved {
                requested: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1".into(),
                pinned: format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@{SHA}"),
                digest: Some(SHA.into()),
                tag: Some("v1".into()),
                ecr: true,
            }
        );
        // The pinned form is itself a valid reference naming the same repository.
        let again = ImageRef::parse(&r.pinned).unwrap();
        assert_eq!(again.repository, "team/app");
        assert_eq!((again.tag, again.digest), (None, Some(SHA.to_string())));
    }

    #[test]
    fn other_registries_are_deployed_as_given() {
        for s in [
            "nginx:1.27",
            "public.ecr.aws/nginx/nginx",
            &format!("ghcr.io/o/app:2@{SHA}"),
        ] {
            let image = ImageRef::parse(s).unwrap();
            let r = Resolved::unchanged(&image);
            assert_eq!(
                (r.requested.as_str(), r.pinned.as_str(), r.ecr),
                (s, s, false)
            );
            assert_eq!(r.digest, image.digest);
            assert_eq!(r.tag, image.tag);
        }
    }

    #[test]
    fn not_found_names_the_repository_the_account_and_the_region() {
        let image = ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v9").unwrap();
        let repo = Repo {
            account: "123456789012",
            region: "eu-west-1",
            name: "app",
        };
        let tag = repo
            .not_found(&image, Missing::Image, "tag `v9`")
            .to_string();
        assert!(
            tag.contains("tag `v9` not found in repository `app` (account 123456789012, region eu-west-1)")
                && tag.contains("aws ecr describe-images --registry-id 123456789012 --repository-name app --region eu-west-1"),
            "{tag}"
        );
        let missing = repo
            .not_found(&image, Missing::Repository, "tag `v9`")
            .to_string();
        assert!(
            missing.contains(
                "repository `app` (account 123456789012, region eu-west-1) does not exist"
            ) && missing.contains("fix: "),
            "{missing}"
        );
    }

    #[test]
    fn a_moved_tag_names_both_digests() {
        let other = SHA.replace("0123", "4567");
        let e = ImageLookupError::TagMoved {
            image: format!("r.example/app:v1@{SHA}"),
            tag: "v1".into(),
            requested: SHA.into(),
            current: other.clone(),
            fix: "f".into(),
        };
        let msg = e.to_string();
        assert!(msg.contains(SHA) && msg.contains(&other), "{msg}");
    }
}
