//! The `berth` binary: help, configuration errors, startup failures, logs and signals.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::{Backend, TestDatabase, berth_binary, client};

/// A `berth` command with a clean environment: no inherited `BERTH_*` or `RUST_LOG`.
pub(crate) fn berth() -> Command {
    let mut command = Command::new(berth_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("BERTH_") || key.starts_with("LEPTOS_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("berth runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_documents_every_setting() {
    let (code, stdout, _) = run(berth().arg("--help"));
    assert_eq!(code, 0);
    for flag in [
        "--config",
        "--listen",
        "--database-url",
        "--base-url",
        "--log-level",
        "--log-format",
        "--admin-emails",
        "--status-refresh-seconds",
    ] {
        assert!(stdout.contains(flag), "--help lacks {flag}:\n{stdout}");
    }
    for env in [
        "BERTH_CONFIG",
        "BERTH_LISTEN",
        "BERTH_DATABASE_URL",
        "BERTH_BASE_URL",
        "BERTH_LOG_LEVEL",
        "BERTH_LOG_FORMAT",
        "BERTH_ADMIN_EMAILS",
        "BERTH_STATUS_REFRESH_SECONDS",
    ] {
        assert!(stdout.contains(env), "--help lacks {env}:\n{stdout}");
    }
}

#[test]
fn a_bad_value_stops_startup_naming_the_setting() {
    let (code, _, stderr) = run(berth().env("BERTH_LISTEN", "everywhere"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`listen`"), "{stderr}");

    let (code, _, stderr) = run(berth().args(["--base-url", "ftp://example.org"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`base-url`"), "{stderr}");

    let (code, _, stderr) = run(berth().args(["--log-format", "xml"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--log-format"), "{stderr}");
}

#[test]
fn an_unknown_key_stops_startup_naming_it() {
    let (code, _, stderr) = run(berth().env("BERTH_LISTNE", "127.0.0.1:1"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("BERTH_LISTNE"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\ndatabase_ulr = \"sqlite://x.db\"\n").unwrap();
    let (code, _, stderr) = run(berth().arg("--config").arg(&file));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("database_ulr"), "{stderr}");
}

#[test]
fn check_config_hides_secrets() {
    let (code, stdout, stderr) =
        run(berth().args(["check-config", "--database-url", "postgres://berth:hunter2@db.example.org/berth"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("db.example.org"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn an_unreachable_database_at_startup_is_a_clear_error_and_a_failed_exit() {
    // Port 1 on loopback refuses connections.
    let (code, stdout, stderr) = run(berth().args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "postgres://berth:s3cret-password@127.0.0.1:1/berth",
    ]));
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot open the database at postgres://berth:"), "{stderr}");
    assert!(!stderr.contains("s3cret-password") && !stdout.contains("s3cret-password"), "the password leaked");
}

/// A `berth serve` child whose stdout (JSON log lines) is read on a thread.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(database_url: &str) -> Self {
        Self::start_with_format(database_url, "json")
    }

    fn start_with_format(database_url: &str, format: &str) -> Self {
        let mut child = berth()
            .args(["--listen", "127.0.0.1:0", "--log-format", format, "--log-level", "info,tower_http=debug"])
            .env("BERTH_DATABASE_URL", database_url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("berth starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for a log line containing `needle` and returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        if let Some(line) = self.seen.iter().find(|line| line.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line with {needle:?} within 30 s; saw:\n{}", self.seen.join("\n")));
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The `http://…` address from the "listening" line of text logs.
    fn text_address(&mut self) -> String {
        let line = self.wait_for("listening");
        let start = line.find("address=").expect("an address field") + "address=".len();
        line[start..].split_whitespace().next().expect("an address").to_owned()
    }

    /// The `http://…` address from the "listening" line.
    fn address(&mut self) -> String {
        let line = self.wait_for("\"listening\"");
        let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        json["address"].as_str().expect("an address field").to_owned()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Collect the last lines.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status.code().unwrap_or(-1);
            }
            assert!(std::time::Instant::now() < deadline, "berth did not exit within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_gracefully_and_log_lines_carry_the_request_id() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let mut berth = Running::start(db.url());
    let address = berth.address();
    let response =
        client().get(format!("{address}/status")).header("x-request-id", "e2e-trace-7").send().await.unwrap();
    assert_eq!(response.status(), 200);

    let finished = berth.wait_for("finished processing request");
    assert!(finished.contains("e2e-trace-7"), "the request's log line lacks its id: {finished}");
    let request_lines: Vec<_> =
        berth.seen.iter().filter(|line| line.contains("\"path\":\"/status\"")).cloned().collect();
    assert!(request_lines.len() >= 2, "{request_lines:?}");
    assert!(request_lines.iter().all(|line| line.contains("e2e-trace-7")), "{request_lines:?}");

    berth.signal("TERM");
    assert_eq!(berth.wait_exit(), 0);
    assert!(berth.seen.iter().any(|line| line.contains("SIGTERM received")), "{:?}", berth.seen);
    assert!(berth.seen.iter().any(|line| line.contains("\"stopped\"")), "{:?}", berth.seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_server_too() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let mut berth = Running::start(db.url());
    berth.address();
    berth.signal("INT");
    assert_eq!(berth.wait_exit(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_starting_at_once_on_one_postgres_both_serve() {
    let db = TestDatabase::new(Backend::Postgres).await;
    // A password in the URL must never reach the logs (trust authentication ignores it).
    let url = {
        let mut url = url::Url::parse(db.url()).unwrap();
        url.set_password(Some("never-logged-secret")).unwrap();
        url.to_string()
    };
    let mut first = Running::start(&url);
    let mut second = Running::start(&url);
    let (a, b) = (first.address(), second.address());
    for address in [a, b] {
        let ready = client().get(format!("{address}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let json: serde_json::Value =
            client().get(format!("{address}/status.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(json["known_issues"].as_array().unwrap().len(), 1, "seeded once, not twice");
    }
    first.signal("TERM");
    second.signal("TERM");
    assert_eq!(first.wait_exit(), 0);
    assert_eq!(second.wait_exit(), 0);
    for line in first.seen.iter().chain(&second.seen) {
        assert!(!line.contains("never-logged-secret"), "a secret reached the log: {line}");
    }
}

/// Values from a request are logged debug-quoted: a provider id with an encoded line break cannot start a log line
/// of its own (text logs, where a raw newline would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_log_line_stays_one_line() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let mut berth = Running::start_with_format(db.url(), "text");
    let address = berth.text_address();
    let response = client()
        .post(format!("{address}/auth/oidc/x%0A2026-01-01T00:00:00Z%20INFO%20forged:%20admin%20granted/start"))
        .header("origin", &address)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let line = berth.wait_for("cannot start a provider sign-in");
    assert!(line.contains(r#"provider="x\n2026-01-01T00:00:00Z INFO forged: admin granted""#), "{line}");
    berth.signal("TERM");
    berth.wait_exit();
    let forged: Vec<_> = berth.seen.iter().filter(|line| line.starts_with("2026-01-01T00:00:00Z")).collect();
    assert!(forged.is_empty(), "a request forged a log line: {forged:?}");
}
