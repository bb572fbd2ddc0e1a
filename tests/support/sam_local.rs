//! `sam local start-api` over the workspace's debug function binaries, in Docker, pointed at a
//! dev stack: SAM's own API Gateway emulation and AWS's runtime interface emulator, as a SAM
//! user runs them.
//!
//! No registry image can be pulled here, so the Lambda base image is stood in for by one
//! imported from a minimal root filesystem: busybox (SAM's image build runs `mv` and `chmod`),
//! the host's glibc (the debug binaries link it) and CA certificates (the AWS SDK insists on
//! finding some, as it does in Lambda's own image). SAM adds its runtime emulator on top.
//!
//! SAM's containers sit on Docker's bridge network, so the dev stack listens on the bridge's
//! gateway address, which both the containers and this test reach.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ledgerdock_infra::dev::{DevStack, SAM_ENV_FILE};

use crate::process::Background;

/// The stand-in for `public.ecr.aws/lambda/provided:al2023` (x86_64).
pub const STAND_IN_IMAGE: &str = "ledgerdock/lambda-provided-stand-in:al2023";

/// Why Docker cannot be used here, if it cannot.
pub fn docker_unavailable() -> Option<String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => None,
        Ok(_) => Some(
            "the Docker daemon is not running (start it with `dockerd --storage-driver=vfs &`)"
                .into(),
        ),
        Err(e) => Some(format!(
            "the docker command is not installed ({e}); `apt-get install docker.io`"
        )),
    }
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the stand-in image (once per Docker daemon).
pub fn stand_in_image() -> &'static str {
    let present = Command::new("docker")
        .args(["image", "inspect", STAND_IN_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return STAND_IN_IMAGE;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for dir in [
        "bin",
        "tmp",
        "var/task",
        "var/runtime",
        "opt",
        "etc/ssl/certs",
        "etc/pki/tls/certs",
    ] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox (apt-get install busybox-static)");
    std::fs::copy(busybox, r.join("bin/busybox")).unwrap();
    for applet in ["sh", "mv", "chmod", "cp", "rm", "mkdir", "cat", "ls", "ip"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(applet)).unwrap();
    }
    // The shared libraries a function binary needs, at the paths it asks for them.
    let binary = crate::emulator::function_binaries().join("get-invoice");
    let ldd = run(Command::new("ldd").arg(&binary));
    for path in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let target = r.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(path, &target).unwrap_or_else(|e| panic!("copying {path}: {e}"));
    }
    let certs = std::fs::read("/etc/ssl/certs/ca-certificates.crt").expect("CA certificates");
    std::fs::write(r.join("etc/ssl/certs/ca-certificates.crt"), &certs).unwrap();
    std::fs::write(r.join("etc/pki/tls/certs/ca-bundle.crt"), &certs).unwrap();
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let archive = root.path().with_extension("tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(r)
        .arg("-cf")
        .arg(&archive)
        .arg("."));
    run(Command::new("docker")
        .args(["import"])
        .arg(&archive)
        .arg(STAND_IN_IMAGE));
    let _ = std::fs::remove_file(&archive);
    STAND_IN_IMAGE
}

/// The host's address on Docker's bridge network, as a container sees it (its default route).
pub fn bridge_gateway(image: &str) -> IpAddr {
    let routes = run(Command::new("docker").args(["run", "--rm", image, "/bin/ip", "route"]));
    routes
        .lines()
        .find_map(|l| l.strip_prefix("default via "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ip| ip.parse().ok())
        .unwrap_or_else(|| panic!("no default route in a container: {routes}"))
}

/// What `sam build` would leave: each function's directory holding its `bootstrap` (here the
/// debug binary, hard-linked), and template.yaml with every CodeUri pointing at its own.
pub fn build_dir(into: &Path) -> PathBuf {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let binaries = crate::emulator::function_binaries();
    let mut resource = String::new();
    let mut binary_of = Vec::new();
    let mut out = String::new();
    for line in template.lines() {
        // Resources are the two-space-indented keys; each function names its binary.
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !name.starts_with(' ') {
                resource = name.to_string();
            }
        }
        if let Some(binary) = line.trim().strip_prefix("Binary: ") {
            binary_of.push((resource.clone(), binary.to_string()));
        }
        if line.trim() == "CodeUri: ." {
            out.push_str(&line.replace("CodeUri: .", &format!("CodeUri: {resource}")));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    // Each crate under functions/ is one Lambda, so the template must name as many binaries.
    let function_crates = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().join("Cargo.toml").exists())
        })
        .count();
    assert_eq!(
        binary_of.len(),
        function_crates,
        "every function of template.yaml"
    );
    for (resource, binary) in binary_of {
        let dir = into.join(&resource);
        std::fs::create_dir_all(&dir).unwrap();
        let bootstrap = dir.join("bootstrap");
        let _ = std::fs::remove_file(&bootstrap);
        std::fs::hard_link(binaries.join(&binary), &bootstrap)
            .or_else(|_| std::fs::copy(binaries.join(&binary), &bootstrap).map(|_| ()))
            .unwrap();
    }
    let template = into.join("template.yaml");
    std::fs::write(&template, out).unwrap();
    template
}

/// A running `sam local start-api`; stopped (with its containers) on drop.
pub struct SamApi {
    process: Background,
    pub url: String,
}

impl SamApi {
    /// Starts it over `template`, with the functions' environment from the stack's
    /// sam-env.json and the stack's engine credentials, and waits until it listens.
    pub async fn start(template: &Path, stack: &DevStack, image: &str, port: u16) -> SamApi {
        use ledgerdock_infra::dev::engines::{LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY};
        let log = stack.data_dir.join("sam.log");
        let mut command = Command::new("sam");
        command
            .args(["local", "start-api", "--template"])
            .arg(template)
            .arg("--env-vars")
            .arg(stack.data_dir.join(SAM_ENV_FILE))
            .args([
                "--parameter-overrides",
                "Architecture=x86_64 CognitoDomainPrefix=local BucketName=ledgerdock-local",
                "--invoke-image",
                image,
                "--skip-pull-image",
                "--warm-containers",
                "LAZY",
                "--port",
                &port.to_string(),
            ])
            .env("SAM_CLI_TELEMETRY", "0")
            .env("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY)
            .env("AWS_REGION", LOCAL_REGION)
            .env("AWS_DEFAULT_REGION", LOCAL_REGION);
        let api = SamApi {
            // SIGINT first: SAM then removes its warm containers.
            process: Background::spawn(command, log, "sam (pip install aws-sam-cli)")
                .stopped_with("-INT", Duration::from_secs(20)),
            url: format!("http://127.0.0.1:{port}"),
        };
        api.process
            .wait_until_listening(port, Duration::from_secs(120), "sam local start-api")
            .await;
        api
    }

    pub fn output(&self) -> String {
        self.process.output()
    }
}
