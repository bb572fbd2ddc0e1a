//! The embedded engines the real AWS SDK clients talk to over loopback HTTP:
//! DynamoDB (dynoxide, SQLite-backed) and S3 (s3s + s3s-fs, files on disk).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The one access key the local S3 engine accepts; the dev stack's SDK clients sign with it,
/// so pre-signed URLs are verified exactly as S3 would (signature and expiry).
pub const LOCAL_ACCESS_KEY: &str = "ledgerdock-local";
pub const LOCAL_SECRET_KEY: &str = "ledgerdock-local-secret";
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

/// Serves S3 over files under `root` on `listener` until `shutdown` flips.
pub async fn start_s3(
    listener: TcpListener,
    root: &Path,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("S3 file store at {}: {e:?}", root.display()))?;
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY));
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
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service);
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
