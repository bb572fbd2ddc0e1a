//! Continuation keys: opaque, bound to the company that received them, tamper-evident, and
//! signed with a secret that can rotate without breaking a poll in progress.
//!
//! A key is `base64url(payload) "." base64url(HMAC-SHA256(secret, domain || payload))` where the
//! payload is `{"v":2,"k":"<key id>","c":"<companyId>","p":"<position>"}`. The position is the
//! sort key of the last item returned (not an offset), so items that leave the queue between
//! pages shift nothing. The key id names the secret that signed it (a digest of the secret,
//! never the secret), so that after a rotation a key signed with the previous secret still
//! opens. Keys from before key ids (`"v":1`) open with any secret the container holds.
//!
//! In AWS the secret lives in Secrets Manager, read at init by the functions that page (and by
//! no other): its `AWSCURRENT` version signs, `AWSPREVIOUS` still opens. A container that meets
//! a key id it does not know (signed by a newer container after a rotation) reads the secret
//! again, at most once per [`REFRESH_INTERVAL`].

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::CompanyId;
use crate::foundation::error::ApiError;

const DOMAIN: &[u8] = b"ledgerdock/continuation-key/v1\0";
const KEY_ID_DOMAIN: &[u8] = b"ledgerdock/continuation-key-id\0";
/// Longest key we even try to decode: real keys are ~200 bytes.
const MAX_KEY_LEN: usize = 1024;
/// Shortest secret accepted, from the environment or from Secrets Manager.
pub const MIN_SECRET_BYTES: usize = 32;
/// How often at most a container reads the secret again on meeting an unknown key id.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    c: String,
    p: String,
}

/// One secret and the id that names it in the keys it signs.
#[derive(Clone)]
pub struct SigningSecret {
    id: String,
    secret: Vec<u8>,
}

impl SigningSecret {
    pub fn new(secret: Vec<u8>) -> Self {
        let digest = Sha256::new()
            .chain_update(KEY_ID_DOMAIN)
            .chain_update(&secret)
            .finalize();
        Self {
            id: digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
            secret,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!());
        mac.update(DOMAIN);
        mac.update(payload);
        mac
    }
}

/// The secrets a container holds: the one that signs, and older ones that still open keys.
#[derive(Clone)]
pub struct Keyring {
    pub current: SigningSecret,
    pub previous: Vec<SigningSecret>,
}

impl Keyring {
    pub fn single(secret: Vec<u8>) -> Self {
        Self {
            current: SigningSecret::new(secret),
            previous: Vec::new(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &SigningSecret> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

/// Where a keyring is read from, and read again after a rotation.
#[derive(Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// `AWSCURRENT` signs; `AWSPREVIOUS`, when there is one (after a rotation), still opens.
    pub async fn read(&self) -> Result<Keyring, String> {
        let (current, previous) =
            tokio::join!(self.version("AWSCURRENT"), self.version("AWSPREVIOUS"));
        let current = current?
            .ok_or_else(|| format!("secret {} has no AWSCURRENT version", self.secret_id))?;
        Ok(Keyring {
            current: SigningSecret::new(current),
            previous: previous?.map(SigningSecret::new).into_iter().collect(),
        })
    }

    async fn version(&self, stage: &str) -> Result<Option<Vec<u8>>, String> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let secret = match answer {
            Ok(out) => out.secret_string.map(String::into_bytes),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                    && stage != "AWSCURRENT" =>
            {
                return Ok(None)
            }
            Err(e) => {
                return Err(format!(
                    "reading secret {} ({stage}): {}",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            }
        };
        match secret {
            Some(bytes) if bytes.len() >= MIN_SECRET_BYTES => Ok(Some(bytes)),
            _ => Err(format!(
                "secret {} ({stage}) must be a string of at least {MIN_SECRET_BYTES} bytes",
                self.secret_id
            )),
        }
    }
}

#[derive(Clone)]
pub struct ContinuationKeys {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` in a function that never pages (it is given no secret).
    ring: RwLock<Option<Keyring>>,
    source: Option<SecretsManagerSource>,
    last_read: Mutex<Option<Instant>>,
}

/// What a key's signature came to.
enum Checked {
    Opened(Payload),
    Invalid,
    /// Well formed, signed with a secret this container does not hold (yet).
    UnknownKeyId,
}

fn invalid() -> ApiError {
    ApiError::InvalidContinuationKey(
        "continuationKey is not a key this API issued to this company; start again without one"
            .into(),
    )
}

impl ContinuationKeys {
    /// With one fixed secret (the dev stack, tests, `sam local`).
    pub fn new(secret: Vec<u8>) -> Self {
        Self::with(Some(Keyring::single(secret)), None)
    }

    /// For a function that never pages: sealing or opening a key is an internal error.
    pub fn none() -> Self {
        Self::with(None, None)
    }

    /// Reads the keyring from Secrets Manager now, and again after a rotation.
    pub async fn from_secrets_manager(source: SecretsManagerSource) -> Result<Self, String> {
        let ring = source.read().await?;
        // The first unknown key id may read again at once: a rotation can have happened
        // just after this container started.
        Ok(Self::with(Some(ring), Some(source)))
    }

    fn with(ring: Option<Keyring>, source: Option<SecretsManagerSource>) -> Self {
        Self {
            inner: Arc::new(Inner {
                ring: RwLock::new(ring),
                source,
                last_read: Mutex::new(None),
            }),
        }
    }

    fn ring(&self) -> Result<Keyring, ApiError> {
        self.inner
            .ring
            .read()
            .ok()
            .and_then(|ring| ring.clone())
            .ok_or_else(|| ApiError::internal("this function has no continuation secret"))
    }

    /// Seals a position for `company` with the current secret.
    pub fn seal(&self, company: CompanyId, position: &str) -> Result<String, ApiError> {
        let ring = self.ring()?;
        let payload = serde_json::to_vec(&Payload {
            v: 2,
            k: Some(ring.current.id.clone()),
            c: company.to_string(),
            p: position.to_string(),
        })
        .map_err(ApiError::internal)?;
        let tag = ring.current.mac(&payload).finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Opens a key that `company` sent back, returning the position it carries.
    /// Any forged, garbled or foreign key is `INVALID_CONTINUATION_KEY`.
    pub async fn open(&self, company: CompanyId, key: &str) -> Result<String, ApiError> {
        if key.len() > MAX_KEY_LEN {
            return Err(invalid());
        }
        let (payload_b64, tag_b64) = key.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| invalid())?;
        let mut checked = Self::check(&self.ring()?, &payload, &tag);
        if matches!(checked, Checked::UnknownKeyId) && self.read_again().await? {
            checked = Self::check(&self.ring()?, &payload, &tag);
        }
        match checked {
            Checked::Opened(opened) if opened.c == company.to_string() => Ok(opened.p),
            _ => Err(invalid()),
        }
    }

    fn check(ring: &Keyring, payload: &[u8], tag: &[u8]) -> Checked {
        // The claimed key id picks the secret; the signature then proves the whole payload.
        let Ok(claimed) = serde_json::from_slice::<Payload>(payload) else {
            return Checked::Invalid;
        };
        let candidates: Vec<&SigningSecret> = match (claimed.v, &claimed.k) {
            (2, Some(id)) => ring.all().filter(|s| &s.id == id).collect(),
            (1, None) => ring.all().collect(),
            _ => return Checked::Invalid,
        };
        if candidates.is_empty() {
            return Checked::UnknownKeyId;
        }
        if candidates
            .iter()
            .any(|secret| secret.mac(payload).verify_slice(tag).is_ok())
        {
            Checked::Opened(claimed)
        } else {
            Checked::Invalid
        }
    }

    /// Reads the keyring from its source again, unless that happened less than
    /// [`REFRESH_INTERVAL`] ago (so forged key ids cannot make a container hammer Secrets
    /// Manager). Whether a new keyring was read.
    async fn read_again(&self) -> Result<bool, ApiError> {
        let Some(source) = &self.inner.source else {
            return Ok(false);
        };
        {
            let Ok(mut last) = self.inner.last_read.lock() else {
                return Ok(false);
            };
            if last.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        let ring = source.read().await.map_err(ApiError::internal)?;
        tracing::info!(key_id = ring.current.id(), "continuation secret read again");
        if let Ok(mut slot) = self.inner.ring.write() {
            *slot = Some(ring);
        }
        Ok(true)
    }
}

/// The page a list route was asked for: up to `limit` items after `after`, the position the
/// request's continuation key carried (none: from the start).
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

impl ContinuationKeys {
    /// The page `req` asks for (`limit`, `continuationKey`), its key opened for `company` and
    /// its position checked by `valid` (see [`Self::from_query`]).
    pub async fn page_request(
        &self,
        req: &lambda_http::Request,
        company: CompanyId,
        valid: impl Fn(&str) -> bool,
    ) -> Result<PageRequest, ApiError> {
        let limit = crate::edge::page_limit(req)?;
        let after = self.from_query(req, company, valid).await?;
        Ok(PageRequest { limit, after })
    }

    /// A list route's answer, `{"items": [...], "continuationKey": ...}`: the key seals `next`
    /// (the position after the last item) for `company`, and is null exactly when nothing is
    /// left.
    pub fn page_answer<T: serde::Serialize>(
        &self,
        company: CompanyId,
        items: &[T],
        next: Option<String>,
    ) -> Result<lambda_http::Response<lambda_http::Body>, ApiError> {
        let continuation_key = self.seal_next(company, next)?;
        crate::edge::ok(&serde_json::json!({
            "items": items,
            "continuationKey": continuation_key,
        }))
    }

    /// The `continuationKey` of a page: `next`, the position after its last item, sealed for
    /// `company`; null when the list is done.
    pub fn seal_next(
        &self,
        company: CompanyId,
        next: Option<String>,
    ) -> Result<Option<String>, ApiError> {
        next.map(|position| self.seal(company, &position))
            .transpose()
    }

    /// The position in the request's `continuationKey`, if any. A correctly signed key always
    /// carries a valid position; `valid` checks it anyway before it reaches a query (and keeps
    /// one list's key from being used on another).
    pub async fn from_query(
        &self,
        req: &lambda_http::Request,
        company: CompanyId,
        valid: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, ApiError> {
        let Some(key) = crate::edge::query(req, "continuationKey").filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        let position = self.open(company, &key).await?;
        if !valid(&position) {
            return Err(ApiError::InvalidContinuationKey(
                "continuationKey does not belong to this list; start again without one".into(),
            ));
        }
        Ok(Some(position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> ContinuationKeys {
        ContinuationKeys::new(SECRET.to_vec())
    }

    fn payload_of(key: &str) -> serde_json::Value {
        let (payload, _) = key.split_once('.').unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn round_trips_for_the_same_company_and_names_its_secret_not_the_secret() {
        let company = CompanyId::new_random();
        let key = keys()
            .seal(company, "2026-01-01T00:00:00.000Z#abc")
            .unwrap();
        assert_eq!(
            keys().open(company, &key).await.unwrap(),
            "2026-01-01T00:00:00.000Z#abc"
        );
        let payload = payload_of(&key);
        assert_eq!(payload["v"], 2);
        assert_eq!(payload["k"], SigningSecret::new(SECRET.to_vec()).id());
        assert_eq!(payload["k"].as_str().unwrap().len(), 12);
        assert!(!key.contains("0123456789abcdef"));
    }

    #[tokio::test]
    async fn refuses_foreign_forged_and_garbled_keys() {
        let (a, b) = (CompanyId::new_random(), CompanyId::new_random());
        let key = keys().seal(a, "pos").unwrap();
        assert!(keys().open(b, &key).await.is_err(), "another company's key");
        let other_secret = ContinuationKeys::new(b"another-secret-another-secret-123".to_vec());
        assert!(
            other_secret.open(a, &key).await.is_err(),
            "signed with another secret"
        );
        // Flip one character of the payload: the tag no longer matches.
        let mut forged = key.clone().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        assert!(keys()
            .open(a, &String::from_utf8(forged).unwrap())
            .await
            .is_err());
        for garbage in ["", ".", "abc", "a.b", "%%%.###", &"x".repeat(5000)] {
            assert!(keys().open(a, garbage).await.is_err(), "{garbage}");
        }
    }

    #[tokio::test]
    async fn a_key_signed_before_a_rotation_still_opens_after_it() {
        let company = CompanyId::new_random();
        let old = b"old-secret-old-secret-old-secret-0".to_vec();
        let new = b"new-secret-new-secret-new-secret-1".to_vec();
        let before = ContinuationKeys::new(old.clone());
        let key = before.seal(company, "p1").unwrap();
        let after = ContinuationKeys::with(
            Some(Keyring {
                current: SigningSecret::new(new.clone()),
                previous: vec![SigningSecret::new(old)],
            }),
            None,
        );
        assert_eq!(after.open(company, &key).await.unwrap(), "p1");
        // New keys are signed with the new secret, which the old container cannot know.
        let fresh = after.seal(company, "p2").unwrap();
        assert_eq!(payload_of(&fresh)["k"], SigningSecret::new(new).id());
        assert!(before.open(company, &fresh).await.is_err());
    }

    #[tokio::test]
    async fn a_key_id_cannot_stand_in_for_the_signature() {
        // A payload naming the real key id, signed with another secret, is refused.
        let company = CompanyId::new_random();
        let real = keys();
        let id = SigningSecret::new(SECRET.to_vec()).id().to_string();
        let mut impostor = SigningSecret::new(b"impostor-impostor-impostor-impostor".to_vec());
        impostor.id = id;
        let forged = ContinuationKeys::with(
            Some(Keyring {
                current: impostor,
                previous: vec![],
            }),
            None,
        )
        .seal(company, "p")
        .unwrap();
        assert!(real.open(company, &forged).await.is_err());
    }

    #[tokio::test]
    async fn keys_from_before_key_ids_still_open() {
        let company = CompanyId::new_random();
        let payload =
            serde_json::to_vec(&serde_json::json!({"v": 1, "c": company.to_string(), "p": "pos"}))
                .unwrap();
        let tag = SigningSecret::new(SECRET.to_vec())
            .mac(&payload)
            .finalize()
            .into_bytes();
        let v1 = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        );
        assert_eq!(keys().open(company, &v1).await.unwrap(), "pos");
    }

    #[tokio::test]
    async fn a_function_without_a_secret_refuses_to_page_as_an_internal_error() {
        let none = ContinuationKeys::none();
        let err = none.seal(CompanyId::new_random(), "p").unwrap_err();
        assert_eq!(err.code(), "INTERNAL");
    }

    /// A stand-in for Secrets Manager's GetSecretValue (AWS JSON 1.1), answering from
    /// `versions` by the requested stage, and counting calls.
    fn secrets_manager(
        versions: Arc<Mutex<Vec<(&'static str, &'static str)>>>,
        calls: Arc<Mutex<Vec<String>>>,
    ) -> aws_sdk_secretsmanager::Client {
        let http = aws_smithy_http_client::test_util::infallible_client_fn(move |req| {
            let body: serde_json::Value =
                serde_json::from_slice(req.body().bytes().unwrap_or_default()).unwrap();
            let stage = body["VersionStage"].as_str().unwrap().to_string();
            assert_eq!(
                body["SecretId"],
                "arn:aws:secretsmanager:eu-west-1:1:secret:ck"
            );
            calls.lock().unwrap().push(stage.clone());
            let found = versions
                .lock()
                .unwrap()
                .iter()
                .find(|(s, _)| *s == stage)
                .map(|(_, v)| *v);
            let (status, answer) = match found {
                Some(secret) => (
                    200,
                    serde_json::json!({"Name": "ck", "SecretString": secret, "VersionStages": [stage]}),
                ),
                None => (
                    400,
                    serde_json::json!({"__type": "ResourceNotFoundException", "Message": "no such version"}),
                ),
            };
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .body(answer.to_string())
                .unwrap()
        });
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
                .region(aws_sdk_secretsmanager::config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    None,
                    None,
                    "test",
                ))
                .http_client(http)
                .build(),
        )
    }

    #[tokio::test]
    async fn a_container_reads_the_secret_again_once_on_meeting_a_newer_key_id() {
        const A: &str = "secret-a-secret-a-secret-a-secret-a";
        const B: &str = "secret-b-secret-b-secret-b-secret-b";
        let versions = Arc::new(Mutex::new(vec![("AWSCURRENT", A)]));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let source = || {
            SecretsManagerSource::new(
                secrets_manager(versions.clone(), calls.clone()),
                "arn:aws:secretsmanager:eu-west-1:1:secret:ck",
            )
        };
        let company = CompanyId::new_random();
        let old_container = ContinuationKeys::from_secrets_manager(source())
            .await
            .unwrap();
        let key_a = old_container.seal(company, "p1").unwrap();
        assert_eq!(
            calls.lock().unwrap().len(),
            2,
            "AWSCURRENT and AWSPREVIOUS at init"
        );

        // Rotation: put-secret-value moves AWSCURRENT to B and AWSPREVIOUS to A.
        *versions.lock().unwrap() = vec![("AWSCURRENT", B), ("AWSPREVIOUS", A)];
        let new_container = ContinuationKeys::from_secrets_manager(source())
            .await
            .unwrap();
        let key_b = new_container.seal(company, "p2").unwrap();
        assert_eq!(payload_of(&key_b)["k"], SigningSecret::new(B.into()).id());
        // A poll that began before the rotation goes on in a new container...
        assert_eq!(new_container.open(company, &key_a).await.unwrap(), "p1");
        // ...and one served by a new container goes on in an old one, which reads again.
        calls.lock().unwrap().clear();
        assert_eq!(old_container.open(company, &key_b).await.unwrap(), "p2");
        assert_eq!(calls.lock().unwrap().len(), 2);
        // Key ids nobody issued do not make it read again within the interval.
        let forged = {
            let payload = serde_json::to_vec(&serde_json::json!({"v": 2, "k": "000000000000", "c": company.to_string(), "p": "x"})).unwrap();
            format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(&payload),
                URL_SAFE_NO_PAD.encode([0u8; 32])
            )
        };
        for _ in 0..5 {
            let err = old_container.open(company, &forged).await.unwrap_err();
            assert_eq!(err.code(), "INVALID_CONTINUATION_KEY");
        }
        assert_eq!(calls.lock().unwrap().len(), 2, "no further reads");
    }

    #[tokio::test]
    async fn a_missing_or_short_secret_fails_init_naming_the_secret() {
        let versions = Arc::new(Mutex::new(vec![("AWSCURRENT", "short")]));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let source = SecretsManagerSource::new(
            secrets_manager(versions.clone(), calls.clone()),
            "arn:aws:secretsmanager:eu-west-1:1:secret:ck",
        );
        let err = ContinuationKeys::from_secrets_manager(source.clone())
            .await
            .err()
            .unwrap();
        assert!(
            err.contains("at least 32 bytes") && err.contains(":secret:ck"),
            "{err}"
        );
        versions.lock().unwrap().clear();
        let err = ContinuationKeys::from_secrets_manager(source)
            .await
            .err()
            .unwrap();
        assert!(err.contains("ResourceNotFoundException"), "{err}");
    }
}
