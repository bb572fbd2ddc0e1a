//! The embedded engines the real AWS SDK clients talk to over loopback HTTP:
//! DynamoDB (dynoxide, SQLite-backed) and S3 (s3s + s3s-fs, files on disk).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The one access key the local S3 engine accepts; the dev stack's SDK clients sign with it,
/// so pre-signed URLs are verified exactly as S3 would (signature and expiry). Letters and
/// digits only: official DynamoDB Local (the fidelity run) refuses any other access key.
pub const LOCAL_ACCESS_KEY: &str = "ledgerdocklocal";
pub const LOCAL_SECRET_KEY: &str = "ledgerdocklocalsecret";
pub const LOCAL_REGION: &str = "us-east-1";

/// Serves the DynamoDB JSON API on `listener` until `shutdown` flips.
/// `db_path` None keeps everything in memory.
pub async fn start_dynamodb(
    listener: TcpListener,
    db_path: Option<&Path>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let db = match db_path {
        Some(path) => dynoxide::Database::new(&path.to_string_lossy())
            .with_context(|| format!("opening DynamoDB data file {}", path.display()))?,
        None => dynoxide::Database::memory().context("starting in-memory DynamoDB engine")?,
    };
    Ok(tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, stop).await {
            tracing::error!(error = %e, "embedded DynamoDB engine stopped");
        }
    }))
}

/// Plays S3's event notification: the key of every object created in `bucket` under
/// `prefix` is sent on `sender` once the engine has stored it.
#[derive(Clone)]
pub struct ObjectCreatedHook {
    pub bucket: String,
    pub prefix: &'static str,
    pub sender: tokio::sync::mpsc::UnboundedSender<String>,
}

impl ObjectCreatedHook {
    /// The key a request creates an object under, if it is a matching PutObject (also through
    /// a pre-signed URL), CopyObject or CompleteMultipartUpload. Path-style addressing.
    fn created_key(&self, method: &http::Method, uri: &http::Uri) -> Option<String> {
        let query = uri.query().unwrap_or_default();
        let creates = match *method {
            http::Method::PUT => !query.contains("partNumber="),
            http::Method::POST => query.contains("uploadId="),
            _ => false,
        };
        if !creates {
            return None;
        }
        let path = uri.path().strip_prefix('/')?;
        let (bucket, key) = path.split_once('/')?;
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8()
            .ok()?
            .into_owned();
        (bucket == self.bucket && key.starts_with(self.prefix)).then_some(key)
    }
}

/// The bucket a request reads one object of (GetObject or HeadObject, path-style).
fn object_read_bucket<'a>(method: &http::Method, uri: &'a http::Uri) -> Option<&'a str> {
    let reads = *method == http::Method::GET || *method == http::Method::HEAD;
    let (bucket, key) = uri.path().strip_prefix('/')?.split_once('/')?;
    (reads && !key.is_empty()).then_some(bucket)
}

/// S3's 403 AccessDenied: a call the caller's policy does not allow, or a read of a missing
/// key by a caller that may not list the bucket.
fn access_denied(head: bool) -> http::Response<s3s::Body> {
    let body = if head {
        s3s::Body::empty()
    } else {
        s3s::Body::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
             <Message>Access Denied</Message></Error>"
                .to_string(),
        )
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

/// Serves S3 over files under `root` on `listener` until `shutdown` flips, telling `hook`
/// about objects created. Every request is first checked against its signer's policy
/// (`iam`; see [`super::iam`]), and a read of a missing key is a 403 AccessDenied instead of
/// a 404 for a caller that may not list the bucket, as AWS answers.
pub async fn start_s3(
    listener: TcpListener,
    root: &Path,
    mut shutdown: watch::Receiver<bool>,
    hook: Option<ObjectCreatedHook>,
    iam: std::sync::Arc<super::iam::Iam>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("S3 file store at {}: {e:?}", root.display()))?;
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        // The operator and every function sign with keys of their own.
        let mut auth = SimpleAuth::from_single(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY);
        for function in iam.functions() {
            auth.register(
                super::iam::access_key_of(function),
                LOCAL_SECRET_KEY.to_string().into(),
            );
        }
        builder.set_auth(auth);
        builder.build()
    };
    Ok(tokio::spawn(async move {
        loop {
            let (socket, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "S3 engine accept failed");
                        continue;
                    }
                },
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let service = service.clone();
            let hook = hook.clone();
            let iam = iam.clone();
            let notifying = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let service = service.clone();
                let created = hook.as_ref().and_then(|h| {
                    Some((h.sender.clone(), h.created_key(req.method(), req.uri())?))
                });
                let head = req.method() == http::Method::HEAD;
                let needed =
                    super::iam::requests::s3(&iam.account, req.method(), req.uri(), req.headers());
                let checked = iam.check(
                    super::iam::access_key(req.headers(), req.uri()).as_deref(),
                    &needed,
                );
                let denies = match &checked {
                    Ok(caller) => object_read_bucket(req.method(), req.uri())
                        .is_some_and(|bucket| !iam.may_learn_missing_keys(caller, bucket)),
                    Err(_) => true,
                };
                async move {
                    if let Err(denied) = checked {
                        denied.log();
                        return Ok(access_denied(head));
                    }
                    let response = hyper::service::Service::call(&service, req).await?;
                    if denies && response.status() == http::StatusCode::NOT_FOUND {
                        return Ok(access_denied(head));
                    }
                    if let Some((sender, key)) = created.filter(|_| response.status().is_success())
                    {
                        let _ = sender.send(key);
                    }
                    Ok::<_, s3s::HttpError>(response)
                }
            });
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), notifying);
                let _ = conn.await;
            });
        }
    }))
}

/// Binds a loopback listener; port 0 picks a free one (tests).
pub async fn bind(
    host: std::net::IpAddr,
    port: u16,
    what: &str,
) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding the {what} to {host}:{port} (is another ledgerdock running? try another --*-port)"))?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
