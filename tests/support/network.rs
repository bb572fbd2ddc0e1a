//! TCP proxies in front of a real endpoint, standing in for the network between a function and
//! an AWS service: [`DistantProxy`] puts the endpoint a fixed delay away each way (DynamoDB a
//! few milliseconds off, as it is from a Lambda in its region), [`StallingProxy`] can be told to
//! stop answering (a hung endpoint), [`TimedProxy`] keeps the time requests through it were in
//! flight (the SDK time of a function running in a process of its own).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// `host:port` of an endpoint given as `http://host:port/` or `host:port`.
fn host_and_port(endpoint: &str) -> String {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

// ------------------------------------------------------------------ an endpoint a network away

/// A proxy that delivers every byte `one_way` after it was sent, in each direction. Bytes in
/// flight do not queue behind each other's delay (a request and the next on the same
/// connection each arrive `one_way` after they left), so calls side by side each pay one
/// round trip, as they would over a real network.
///
/// It runs on threads of its own with blocking sockets: the OS sleeps to within tens of
/// microseconds, where tokio's timer rounds each wait up to the next millisecond (which made
/// a nominal 4 ms round trip cost 7).
pub struct DistantProxy {
    pub url: String,
    closed: Arc<AtomicBool>,
}

impl DistantProxy {
    pub fn start(upstream: &str, one_way: Duration) -> Self {
        let upstream = host_and_port(upstream);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let closed = Arc::new(AtomicBool::new(false));
        let stop = closed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let (Ok(client), Ok(server)) = (client, std::net::TcpStream::connect(&upstream))
                else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (Ok(server), Ok(client)),
                ] {
                    if let (Ok(from), Ok(to)) = (from, to) {
                        delayed(from, to, one_way);
                    }
                }
            }
        });
        Self { url, closed }
    }
}

impl Drop for DistantProxy {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Copies `from` to `to` on two threads, each chunk written `delay` after it was read.
fn delayed(mut from: std::net::TcpStream, mut to: std::net::TcpStream, delay: Duration) {
    use std::io::{Read, Write};
    let _ = to.set_nodelay(true);
    let (sent, arriving) = std::sync::mpsc::channel::<(std::time::Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0
                || sent
                    .send((std::time::Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((due, bytes)) = arriving.recv() {
            std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

// ------------------------------------------------------------------ a dependency that stalls

/// A proxy that can be told to stall: from then on it accepts connections and swallows every
/// byte without ever answering, the way a hung DynamoDB or S3 endpoint behaves.
pub struct StallingProxy {
    pub url: String,
    stalled: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl StallingProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = host_and_port(upstream);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (flag, upstream) = (flag.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        unless_stalled(client_read, server_write, flag.clone()),
                        unless_stalled(server_read, client_write, flag)
                    );
                });
            }
        });
        Self { url, stalled, task }
    }

    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Passes bytes on again. A connection that was stalled mid-request has lost bytes: its
    /// client times out on it and reconnects, as after a real outage.
    pub fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` until `stalled`; then reads on and writes nothing: the request goes
/// nowhere and no answer ever comes.
async fn unless_stalled(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalled: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if !stalled.load(Ordering::SeqCst) && to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

// ------------------------------------------------------------------ time spent in calls

/// Where one connection through a [`TimedProxy`] is: the request in flight started at
/// `started`, and its answer's last byte so far went back at `answered`.
#[derive(Default)]
struct Exchange {
    started: Option<Instant>,
    answered: Option<Instant>,
}

impl Exchange {
    /// The span of the exchange that ended, if one did.
    fn finish(&mut self) -> Option<(Instant, Instant)> {
        let span = self.started.zip(self.answered);
        if span.is_some() {
            *self = Self::default();
        }
        span
    }
}

/// A proxy that passes bytes on at once and keeps when each call through it was in flight:
/// from a request's first byte to its answer's last. HTTP/1.1 sends one request at a time on a
/// connection, so a connection's next request starts the next span. The benches put it in
/// front of the engines to measure a function process's SDK time from outside it.
pub struct TimedProxy {
    pub url: String,
    exchanges: Arc<Mutex<Vec<Arc<Mutex<Exchange>>>>>,
    spans: Arc<Mutex<Vec<(Instant, Instant)>>>,
    task: JoinHandle<()>,
}

impl TimedProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = host_and_port(upstream);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let exchanges: Arc<Mutex<Vec<Arc<Mutex<Exchange>>>>> = Arc::default();
        let spans: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
        let (all, done) = (exchanges.clone(), spans.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let exchange = Arc::new(Mutex::new(Exchange::default()));
                all.lock().unwrap().push(exchange.clone());
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let done = done.clone();
                tokio::spawn(async move {
                    let requests = {
                        let exchange = exchange.clone();
                        copy_noting(client_read, server_write, move || {
                            let mut e = exchange.lock().unwrap();
                            if let Some(span) = e.finish() {
                                done.lock().unwrap().push(span);
                            }
                            e.started.get_or_insert_with(Instant::now);
                        })
                    };
                    let answers = copy_noting(server_read, client_write, move || {
                        exchange.lock().unwrap().answered = Some(Instant::now());
                    });
                    tokio::join!(requests, answers);
                });
            }
        });
        Self {
            url,
            exchanges,
            spans,
            task,
        }
    }

    /// When each call since the last `take_spans` was in flight. Call it when the caller is
    /// idle: every call has had its answer.
    pub fn take_spans(&self) -> Vec<(Instant, Instant)> {
        let mut spans = std::mem::take(&mut *self.spans.lock().unwrap());
        for exchange in self.exchanges.lock().unwrap().iter() {
            spans.extend(exchange.lock().unwrap().finish());
        }
        spans
    }

    /// The time calls were in flight since the last `take` (calls side by side count once).
    pub fn take(&self) -> Duration {
        crate::stats::union_length(self.take_spans())
    }
}

impl Drop for TimedProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, calling `noted` as each chunk arrives (before it is passed on).
async fn copy_noting(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, noted: impl Fn()) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        noted();
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
