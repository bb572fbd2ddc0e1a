//! The real function binaries, run as Lambda runs them: each under AWS's runtime interface
//! emulator (RIE, the same program `sam local` puts in its containers, shipped in the
//! `aws-sam-cli` Python package), as a plain process on loopback, pointed at a dev stack
//! through the environment `ledgerdock dev` writes to sam-env.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use ledgerdock_infra::dev::DevStack;

use crate::process::{free_port, Background};
use serde_json::Value;

/// Path to the emulator binary, instead of finding it in the aws-sam-cli package.
pub const RIE_ENV: &str = "LEDGERDOCK_RIE";
/// Set (CI does) to fail, not skip, when the emulator cannot be found.
pub const REQUIRE_RIE_ENV: &str = "LEDGERDOCK_REQUIRE_RIE";

/// The emulator for this machine's CPU, or `None` (with the reason printed) where neither
/// `LEDGERDOCK_RIE` nor an installed aws-sam-cli provides it, unless CI requires it.
pub fn runtime_interface_emulator() -> Option<PathBuf> {
    let found = std::env::var_os(RIE_ENV)
        .map(PathBuf::from)
        .or_else(rie_in_sam_cli)
        .filter(|p| p.is_file());
    if found.is_none() {
        let reason = format!(
            "AWS's runtime interface emulator was not found: set {RIE_ENV} or `python3 -m pip install aws-sam-cli`"
        );
        assert!(std::env::var_os(REQUIRE_RIE_ENV).is_none(), "{reason}");
        eprintln!("SKIPPED: {reason}");
    }
    found
}

fn rie_in_sam_cli() -> Option<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    };
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, samcli; print(os.path.dirname(samcli.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let package = String::from_utf8(out.stdout).ok()?;
    Some(
        Path::new(package.trim())
            .join("local/rapid")
            .join(format!("aws-lambda-rie-{arch}")),
    )
}

/// The folder holding the workspace's function binaries, built once per test run (cargo
/// builds a package's binaries for its own integration tests only, and these tests live in
/// another package). Cargo has released its build lock by the time tests run, and the build
/// reuses everything `cargo test` already compiled.
pub fn function_binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--workspace", "--bins"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the function binaries failed");
        // This test runs from <target>/debug/deps; binaries land in <target>/debug.
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().to_path_buf()
    })
}

/// One function binary under the emulator, with its own ports. Killed (with the function
/// process) on drop.
pub struct EmulatedFunction {
    process: Background,
    invoke_url: String,
    pub name: String,
}

impl EmulatedFunction {
    /// Starts `function` pointed at `stack`, with `timeout` as its Lambda timeout, and waits
    /// until the emulator accepts invocations. Nothing of the test's own environment leaks in.
    pub async fn start(
        rie: &Path,
        stack: &DevStack,
        function: &str,
        timeout: Duration,
    ) -> EmulatedFunction {
        Self::start_with_env(rie, stack, function, timeout, &[]).await
    }

    /// [`Self::start`] with some of the stack's variables set otherwise (`overrides`).
    pub async fn start_with_env(
        rie: &Path,
        stack: &DevStack,
        function: &str,
        timeout: Duration,
        overrides: &[(&str, &str)],
    ) -> EmulatedFunction {
        let binary = function_binaries().join(function);
        assert!(binary.is_file(), "{} was not built", binary.display());
        let port = free_port();
        let log = stack.data_dir.join(format!("{function}-{port}.log"));
        let mut command = Command::new(rie);
        command
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg(&binary)
            .env_clear()
            .envs(stack.function_environment())
            .envs(lambda_environment(function, timeout))
            .envs(overrides.iter().copied());
        let running = EmulatedFunction {
            process: Background::spawn(command, log, "the emulator"),
            invoke_url: format!(
                "http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
            ),
            name: function.to_string(),
        };
        running
            .process
            .wait_until_listening(port, Duration::from_secs(20), function)
            .await;
        running
    }

    /// Invokes the function with `event` as Lambda would and returns its answer as the
    /// emulator hands it back (the response payload, or Lambda's error object).
    pub async fn invoke(&self, http: &reqwest::Client, event: &Value) -> Value {
        let resp = http
            .post(&self.invoke_url)
            .json(event)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: invoke failed: {e}: {}", self.name, self.output()));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(
            status,
            200,
            "{}: the emulator answered {status}: {text}\n{}",
            self.name,
            self.output()
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: not JSON: {text}\n{}", self.name, self.output()))
    }

    /// Everything the emulator and the function printed so far.
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// Whether the function process is still running (it must not have crashed).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }
}

/// What Lambda itself sets for a function (the emulator reads the timeout from it too), with
/// the function's own credentials for the local engines, which hold each call to that
/// function's policy in template.yaml (its execution role in AWS).
pub fn lambda_environment(function: &str, timeout: Duration) -> BTreeMap<&'static str, String> {
    use ledgerdock_infra::dev::engines::{LOCAL_REGION, LOCAL_SECRET_KEY};
    use ledgerdock_infra::dev::iam::access_key_of;
    BTreeMap::from([
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.as_secs().to_string()),
        ("AWS_REGION", LOCAL_REGION.into()),
        ("AWS_DEFAULT_REGION", LOCAL_REGION.into()),
        ("AWS_ACCESS_KEY_ID", access_key_of(function)),
        ("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY.into()),
        ("RUST_LOG", "info".into()),
        ("PATH", "/usr/bin:/bin".into()),
    ])
}
