//! Runtime configuration, read once per container from the environment that template.yaml sets.

use std::time::Duration;

/// Settings every function shares. Built once in `main`, never per request.
#[derive(Clone)]
pub struct Config {
    /// The single DynamoDB table (see `store::schema`).
    pub table_name: String,
    /// The private bucket holding soft copies and import files.
    pub bucket_name: String,
    /// How long a pre-signed download URL stays valid.
    pub download_url_ttl: Duration,
    /// HMAC key that makes continuation keys tamper-evident, at least 32 bytes, given as is
    /// (the dev stack, `sam local`). Empty in AWS, where it is never put in the environment.
    pub continuation_secret: Option<Vec<u8>>,
    /// The Secrets Manager secret holding that key (AWS): set only for the functions that
    /// page, read at init (see `pagination`).
    pub continuation_secret_id: Option<String>,
    /// How long a warm container trusts a client→company grant it has read. Zero disables caching.
    pub grant_cache_ttl: Duration,
    /// Path-style S3 addressing, needed by local S3 engines on 127.0.0.1.
    pub s3_force_path_style: bool,
    /// How long an import job's pre-signed upload URL stays valid.
    pub upload_url_ttl: Duration,
    /// How long after its upload URL expires an upload job that got no file is failed.
    pub import_upload_grace: Duration,
    /// How long a worker may take from picking a file up to finishing it (retries included).
    pub import_processing_deadline: Duration,
    /// How long an import worker's hold on its job lasts unless renewed (it renews it every
    /// few seconds while it works). A worker that died frees its job after this.
    pub import_lease: Duration,
    /// How old an event must be before the feed serves it ([`crate::domain::events::SETTLE`];
    /// not read from the environment: the dev stack's tests shorten it to see a feed in a
    /// moment).
    pub feed_settle: Duration,
    /// Where to verify bearer tokens when an event arrives without authorizer claims (only
    /// under `sam local`, which runs no authorizer; never set in AWS, where such an event is
    /// a 401). Plain `http://` JWKS URL, and the issuer its tokens must name.
    pub token_keys: Option<TokenKeys>,
    /// Where the DynamoDB and S3 clients send their calls instead of AWS's regional endpoints:
    /// the local stack's engines, under `sam local` or the runtime-emulator tests. Unset (empty,
    /// as template.yaml declares them) in AWS.
    pub dynamodb_endpoint: Option<String>,
    pub s3_endpoint: Option<String>,
    /// Which webhook URLs a subscription may name and a delivery may reach: public HTTPS
    /// hosts only in AWS; the dev stack (and `sam local` pointed at it) also allows plain
    /// HTTP to loopback, so a receiver on the laptop can be subscribed.
    pub webhook_urls: crate::domain::webhook::UrlPolicy,
    /// The queue webhook attempts are handed to (SQS, a fair queue by subscription): set for
    /// the functions that fan out, sweep and deliver; unset for every other.
    pub webhook_queue_url: Option<String>,
    /// Where the SQS client sends its calls instead of AWS (the local stack's queue engine).
    pub sqs_endpoint: Option<String>,
}

/// A JWKS to verify tokens against, and their issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKeys {
    pub jwks_url: String,
    pub issuer: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("bucket_name", &self.bucket_name)
            .field("download_url_ttl", &self.download_url_ttl)
            .field(
                "continuation_secret",
                &self.continuation_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("continuation_secret_id", &self.continuation_secret_id)
            .field("grant_cache_ttl", &self.grant_cache_ttl)
            .field("s3_force_path_style", &self.s3_force_path_style)
            .field("upload_url_ttl", &self.upload_url_ttl)
            .field("import_upload_grace", &self.import_upload_grace)
            .field(
                "import_processing_deadline",
                &self.import_processing_deadline,
            )
            .field("import_lease", &self.import_lease)
            .field("feed_settle", &self.feed_settle)
            .field("token_keys", &self.token_keys)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("webhook_urls", &self.webhook_urls)
            .field("webhook_queue_url", &self.webhook_queue_url)
            .field("sqs_endpoint", &self.sqs_endpoint)
            .finish()
    }
}

pub const ENV_TABLE: &str = "LEDGERDOCK_TABLE";
pub const ENV_BUCKET: &str = "LEDGERDOCK_BUCKET";
pub const ENV_DOWNLOAD_URL_TTL: &str = "LEDGERDOCK_DOWNLOAD_URL_TTL_SECS";
pub const ENV_CONTINUATION_SECRET: &str = "LEDGERDOCK_CONTINUATION_SECRET";
pub const ENV_CONTINUATION_SECRET_ARN: &str = "LEDGERDOCK_CONTINUATION_SECRET_ARN";
pub const ENV_GRANT_CACHE_TTL: &str = "LEDGERDOCK_GRANT_CACHE_TTL_SECS";
pub const ENV_S3_FORCE_PATH_STYLE: &str = "LEDGERDOCK_S3_FORCE_PATH_STYLE";
pub const ENV_UPLOAD_URL_TTL: &str = "LEDGERDOCK_UPLOAD_URL_TTL_SECS";
pub const ENV_IMPORT_UPLOAD_GRACE: &str = "LEDGERDOCK_IMPORT_UPLOAD_GRACE_SECS";
pub const ENV_IMPORT_PROCESSING_DEADLINE: &str = "LEDGERDOCK_IMPORT_PROCESSING_DEADLINE_SECS";
pub const ENV_IMPORT_LEASE: &str = "LEDGERDOCK_IMPORT_LEASE_SECS";
pub const ENV_JWKS_URL: &str = "LEDGERDOCK_JWKS_URL";
pub const ENV_TOKEN_ISSUER: &str = "LEDGERDOCK_TOKEN_ISSUER";
pub const ENV_DYNAMODB_ENDPOINT: &str = "LEDGERDOCK_DYNAMODB_ENDPOINT_URL";
pub const ENV_S3_ENDPOINT: &str = "LEDGERDOCK_S3_ENDPOINT_URL";
pub const ENV_WEBHOOK_QUEUE_URL: &str = "LEDGERDOCK_WEBHOOK_QUEUE_URL";
pub const ENV_SQS_ENDPOINT: &str = "LEDGERDOCK_SQS_ENDPOINT_URL";
/// `true` lets webhooks reach loopback over plain HTTP (the dev stack); unset or `false` in AWS.
pub const ENV_WEBHOOK_ALLOW_LOOPBACK: &str = "LEDGERDOCK_WEBHOOK_ALLOW_LOOPBACK";

/// Default lifetime of a download URL: five minutes.
pub const DEFAULT_DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);
/// Default grant cache lifetime in AWS. Revocations apply within this time.
pub const DEFAULT_GRANT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Default lifetime of an import upload URL: fifteen minutes.
pub const DEFAULT_UPLOAD_URL_TTL: Duration = Duration::from_secs(900);
/// Default grace after an upload URL expires before its job is failed.
pub const DEFAULT_IMPORT_UPLOAD_GRACE: Duration = Duration::from_secs(300);
/// Default processing deadline: two full 15-minute Lambda runs (a first try and a retry).
pub const DEFAULT_IMPORT_PROCESSING_DEADLINE: Duration = Duration::from_secs(1800);
/// Default import lease: long enough to span a slow batch, short enough that Lambda's first
/// retry of a failed invocation (a minute later, at the earliest) finds it lapsed.
pub const DEFAULT_IMPORT_LEASE: Duration = Duration::from_secs(45);
/// SigV4 pre-signed URLs may live at most seven days; we cap far lower on purpose.
pub const MAX_DOWNLOAD_URL_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let seconds =
            |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
                match lookup(name) {
                    None => Ok(default),
                    Some(v) => v.parse::<u64>().map(Duration::from_secs).map_err(|_| {
                        ConfigError::Invalid {
                            name,
                            reason: format!("{v:?} is not a whole number of seconds"),
                        }
                    }),
                }
            };
        let download_url_ttl = seconds(ENV_DOWNLOAD_URL_TTL, DEFAULT_DOWNLOAD_URL_TTL)?;
        if download_url_ttl.is_zero() || download_url_ttl > MAX_DOWNLOAD_URL_TTL {
            return Err(ConfigError::Invalid {
                name: ENV_DOWNLOAD_URL_TTL,
                reason: format!(
                    "must be between 1 and {} seconds",
                    MAX_DOWNLOAD_URL_TTL.as_secs()
                ),
            });
        }
        let upload_url_ttl = seconds(ENV_UPLOAD_URL_TTL, DEFAULT_UPLOAD_URL_TTL)?;
        if upload_url_ttl.is_zero() || upload_url_ttl > MAX_DOWNLOAD_URL_TTL {
            return Err(ConfigError::Invalid {
                name: ENV_UPLOAD_URL_TTL,
                reason: format!(
                    "must be between 1 and {} seconds",
                    MAX_DOWNLOAD_URL_TTL.as_secs()
                ),
            });
        }
        let continuation_secret = lookup(ENV_CONTINUATION_SECRET)
            .filter(|v| !v.is_empty())
            .map(String::into_bytes);
        if continuation_secret
            .as_ref()
            .is_some_and(|s| s.len() < crate::edge::continuation::MIN_SECRET_BYTES)
        {
            return Err(ConfigError::Invalid {
                name: ENV_CONTINUATION_SECRET,
                reason: format!(
                    "must be at least {} bytes",
                    crate::edge::continuation::MIN_SECRET_BYTES
                ),
            });
        }
        Ok(Self {
            table_name: required(ENV_TABLE)?,
            bucket_name: required(ENV_BUCKET)?,
            download_url_ttl,
            continuation_secret,
            continuation_secret_id: lookup(ENV_CONTINUATION_SECRET_ARN).filter(|v| !v.is_empty()),
            grant_cache_ttl: seconds(ENV_GRANT_CACHE_TTL, DEFAULT_GRANT_CACHE_TTL)?,
            s3_force_path_style: lookup(ENV_S3_FORCE_PATH_STYLE)
                .is_some_and(|v| v == "true" || v == "1"),
            upload_url_ttl,
            import_upload_grace: seconds(ENV_IMPORT_UPLOAD_GRACE, DEFAULT_IMPORT_UPLOAD_GRACE)?,
            import_processing_deadline: seconds(
                ENV_IMPORT_PROCESSING_DEADLINE,
                DEFAULT_IMPORT_PROCESSING_DEADLINE,
            )?,
            import_lease: seconds(ENV_IMPORT_LEASE, DEFAULT_IMPORT_LEASE)?,
            feed_settle: crate::domain::events::SETTLE,
            token_keys: token_keys(&lookup)?,
            dynamodb_endpoint: endpoint(&lookup, ENV_DYNAMODB_ENDPOINT)?,
            s3_endpoint: endpoint(&lookup, ENV_S3_ENDPOINT)?,
            webhook_queue_url: endpoint(&lookup, ENV_WEBHOOK_QUEUE_URL)?,
            sqs_endpoint: endpoint(&lookup, ENV_SQS_ENDPOINT)?,
            webhook_urls: match lookup(ENV_WEBHOOK_ALLOW_LOOPBACK).as_deref() {
                None | Some("" | "false" | "0") => crate::domain::webhook::UrlPolicy::Public,
                Some("true" | "1") => crate::domain::webhook::UrlPolicy::AllowLoopback,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: ENV_WEBHOOK_ALLOW_LOOPBACK,
                        reason: format!("{other:?} is neither true nor false"),
                    })
                }
            },
        })
    }
}

/// An endpoint override: unset or empty (AWS), else an absolute http(s) URL.
fn endpoint(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match lookup(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(Some(url)),
        Some(url) => Err(ConfigError::Invalid {
            name,
            reason: format!("{url:?} is not an http:// or https:// URL"),
        }),
    }
}

/// Both settings or neither (an empty value counts as unset, as template.yaml declares them).
fn token_keys(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<TokenKeys>, ConfigError> {
    let get = |name| lookup(name).filter(|v| !v.is_empty());
    match (get(ENV_JWKS_URL), get(ENV_TOKEN_ISSUER)) {
        (None, None) => Ok(None),
        (Some(jwks_url), Some(issuer)) => {
            if !jwks_url.starts_with("http://") {
                return Err(ConfigError::Invalid {
                    name: ENV_JWKS_URL,
                    reason: "must be a plain http:// URL (the local stack's JWKS); in AWS the authorizer verifies tokens".into(),
                });
            }
            Ok(Some(TokenKeys { jwks_url, issuer }))
        }
        (Some(_), None) => Err(ConfigError::Missing(ENV_TOKEN_ISSUER)),
        (None, Some(_)) => Err(ConfigError::Missing(ENV_JWKS_URL)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply() {
        let c = Config::from_lookup(env(&[
            (ENV_TABLE, "t"),
            (ENV_BUCKET, "b"),
            (ENV_CONTINUATION_SECRET, SECRET),
        ]))
        .unwrap();
        assert_eq!(c.download_url_ttl, Duration::from_secs(300));
        assert_eq!(c.grant_cache_ttl, Duration::from_secs(30));
        assert!(!format!("{c:?}").contains(SECRET));
    }

    #[test]
    fn a_jwks_for_claimless_events_needs_its_issuer_and_plain_http() {
        let base = [
            (ENV_TABLE, "t"),
            (ENV_BUCKET, "b"),
            (ENV_CONTINUATION_SECRET, SECRET),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_lookup(env(&pairs))
        };
        // template.yaml declares both empty in AWS: no verification in the function.
        let aws = with(&[(ENV_JWKS_URL, ""), (ENV_TOKEN_ISSUER, "")]).unwrap();
        assert_eq!(aws.token_keys, None);
        let local = with(&[
            (ENV_JWKS_URL, "http://127.0.0.1:3000/.well-known/jwks.json"),
            (ENV_TOKEN_ISSUER, "http://127.0.0.1:3000"),
        ])
        .unwrap();
        assert_eq!(local.token_keys.unwrap().issuer, "http://127.0.0.1:3000");
        assert!(with(&[(ENV_JWKS_URL, "http://127.0.0.1:3000/jwks")]).is_err());
        assert!(with(&[(ENV_TOKEN_ISSUER, "http://127.0.0.1:3000")]).is_err());
        assert!(with(&[
            (ENV_JWKS_URL, "https://cognito-idp.example/jwks.json"),
            (ENV_TOKEN_ISSUER, "x")
        ])
        .is_err());
    }

    #[test]
    fn endpoint_overrides_are_absent_when_empty_and_must_be_urls() {
        let with = |value: &'static str| {
            Config::from_lookup(env(&[
                (ENV_TABLE, "t"),
                (ENV_BUCKET, "b"),
                (ENV_CONTINUATION_SECRET, SECRET),
                (ENV_DYNAMODB_ENDPOINT, value),
                (ENV_S3_ENDPOINT, value),
            ]))
        };
        let aws = with("").unwrap();
        assert_eq!((aws.dynamodb_endpoint, aws.s3_endpoint), (None, None));
        let local = with("http://127.0.0.1:3002").unwrap();
        assert_eq!(
            local.dynamodb_endpoint.as_deref(),
            Some("http://127.0.0.1:3002")
        );
        assert_eq!(local.s3_endpoint.as_deref(), Some("http://127.0.0.1:3002"));
        let err = with("127.0.0.1:3002").unwrap_err().to_string();
        assert!(err.contains(ENV_DYNAMODB_ENDPOINT), "{err}");
    }

    #[test]
    fn the_continuation_secret_is_given_as_is_or_named_in_secrets_manager_or_absent() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![(ENV_TABLE, "t"), (ENV_BUCKET, "b")];
            pairs.extend_from_slice(extra);
            Config::from_lookup(env(&pairs))
        };
        // A function that never pages has neither (template.yaml declares the value empty).
        let none = with(&[(ENV_CONTINUATION_SECRET, "")]).unwrap();
        assert_eq!(
            (none.continuation_secret, none.continuation_secret_id),
            (None, None)
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:ck";
        let aws = with(&[
            (ENV_CONTINUATION_SECRET, ""),
            (ENV_CONTINUATION_SECRET_ARN, arn),
        ])
        .unwrap();
        assert_eq!(aws.continuation_secret_id.as_deref(), Some(arn));
        let local = with(&[(ENV_CONTINUATION_SECRET, SECRET)]).unwrap();
        assert_eq!(
            local.continuation_secret.as_deref(),
            Some(SECRET.as_bytes())
        );
        assert!(with(&[(ENV_CONTINUATION_SECRET, "short")]).is_err());
    }

    #[test]
    fn rejects_short_secret_and_bad_ttl() {
        assert!(Config::from_lookup(env(&[
            (ENV_TABLE, "t"),
            (ENV_BUCKET, "b"),
            (ENV_CONTINUATION_SECRET, "short")
        ]))
        .is_err());
        let bad_ttl = env(&[
            (ENV_TABLE, "t"),
            (ENV_BUCKET, "b"),
            (ENV_CONTINUATION_SECRET, SECRET),
            (ENV_DOWNLOAD_URL_TTL, "0"),
        ]);
        assert!(Config::from_lookup(bad_ttl).is_err());
    }
}
