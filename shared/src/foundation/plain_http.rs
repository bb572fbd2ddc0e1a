//! A minimal HTTP/1.1 client over plain TCP, for the two peers a function talks to without TLS
//! and without pulling a full HTTP client into every binary: the Lambda Runtime API (its
//! init-error endpoint) and, under `sam local`, the local stack's JWKS.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest answer read (a JWKS is a few KB).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Sends one request to `host:port` and reads the whole answer (`Connection: close`).
/// Returns the status and the body (Content-Length or connection-close delimited).
pub async fn send(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE_BYTES as u64)
        .read_to_end(&mut answer)
        .await?;
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no HTTP response head"))?;
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    // "HTTP/1.1 200 OK": the status is the second word of the first line.
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no HTTP status"))?;
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:"))
    {
        return Err(invalid("chunked answers are not read here"));
    }
    let mut body = answer[head_end + 4..].to_vec();
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if let Some(length) = length {
        body.truncate(length);
    }
    Ok((status, body))
}

/// `http://host:port/path` → (`host:port`, `/path`).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    match rest.find('/') {
        Some(i) => Some((&rest[..i], &rest[i..])),
        None => Some((rest, "/")),
    }
}
