//! The real binary, started as Lambda starts it but without its settings: it reports the
//! problem through the Runtime API's init-error endpoint and exits, with one readable line and
//! no debug dump.

use std::io::{Read, Write};
use std::process::Command;

#[test]
fn a_function_missing_its_settings_reports_an_init_error_and_exits() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let runtime_api = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    break;
                }
            }
        }
        socket
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8(request).unwrap()
    });
    let out = Command::new(env!("CARGO_BIN_EXE_get-invoice"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_REGION", "eu-west-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let request = runtime_api.join().unwrap();
    assert!(
        request.starts_with("POST /2018-06-01/runtime/init/error HTTP/1.1"),
        "{request}"
    );
    assert!(request.contains("Lambda-Runtime-Function-Error-Type: Runtime.ConfigError"));
    assert!(
        request.contains("LEDGERDOCK_TABLE must be set"),
        "{request}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stderr.contains("Missing(") && !stdout.contains("Missing("),
        "{stderr}{stdout}"
    );
    let line: serde_json::Value = stdout
        .lines()
        .find(|l| l.contains("function cannot start"))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no log line in {stdout}"));
    assert_eq!(
        line["reason"],
        "environment variable LEDGERDOCK_TABLE must be set"
    );
}
