//! Programs the tests run beside the dev stack (AWS's runtime interface emulator, `sam local
//! start-api`): each in a process group of its own with its output in a log file, waited on
//! until it listens, and stopped, group and all, when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// This process's resident memory now, in MiB (Linux's VmRSS).
pub fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// A program running in the background.
pub struct Background {
    child: Child,
    log: PathBuf,
    /// Sent to the group first on drop, with time to act on it (SAM removes its containers on
    /// SIGINT); then, or at once without it, SIGKILL.
    polite_stop: Option<(&'static str, Duration)>,
}

impl Background {
    /// Spawns `command` in its own process group, its stdout and stderr going to `log`.
    pub fn spawn(mut command: Command, log: PathBuf, what: &str) -> Self {
        let out = std::fs::File::create(&log).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        Self {
            child,
            log,
            polite_stop: None,
        }
    }

    /// On drop, send `signal` and wait up to `grace` before killing the group.
    pub fn stopped_with(mut self, signal: &'static str, grace: Duration) -> Self {
        self.polite_stop = Some((signal, grace));
        self
    }

    /// Waits until something accepts connections on `port`; panics with the program's output
    /// if nothing does `within`.
    pub async fn wait_until_listening(&self, port: u16, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "{what} did not listen within {within:?}: {}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its peak resident memory so far, in KiB (Linux's VmHWM), while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Whether it is still running (it must not have crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        if let Some((signal, grace)) = self.polite_stop {
            let _ = Command::new("kill").args([signal, "--", &group]).status();
            let deadline = Instant::now() + grace;
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
