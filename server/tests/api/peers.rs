//! Real peers the tests talk to, started as child processes on loopback: an SMTP server that captures mail
//! (Python aiosmtpd) and an OpenID Connect provider (npm `oidc-provider`). `.ci/setup` installs both.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::eventually;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent").to_owned()
}

/// Starts `program args…`, waits for its `READY <value>` line and returns the child with the value.
async fn start_peer(mut command: Command, what: &str) -> (Child, String) {
    command.stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot start the {what}: {error}. Run .ci/setup"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(value) = line.strip_prefix("READY ") {
                return Some(value.trim().to_owned());
            }
        }
        None
    })
    .await;
    match ready {
        Ok(Some(value)) => {
            // Keep reading so that the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            (child, value)
        }
        _ => panic!("the {what} did not report READY within 20 s"),
    }
}

/// The Python with aiosmtpd: `BERTH_TEST_PYTHON`, else the virtual environment `.ci/setup` makes.
fn python() -> PathBuf {
    std::env::var_os("BERTH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("end2end/.venv/bin/python"))
}

/// A real SMTP server on loopback that writes every message it accepts into a directory.
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (child, port) = Self::spawn(dir.path(), 0).await;
        Self { port, dir, child: Some(child) }
    }

    async fn spawn(dir: &Path, port: u16) -> (Child, u16) {
        let mut command = Command::new(python());
        command.arg(repo_root().join("end2end/peers/smtp_sink.py")).arg(dir).arg(port.to_string());
        let (child, port) = start_peer(command, "SMTP sink").await;
        (child, port.parse().expect("a port number"))
    }

    /// The `mail_url` that delivers to this sink.
    pub fn mail_url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Stops the server: connections to its port are refused.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        let (child, _) = Self::spawn(self.dir.path(), self.port).await;
        self.child = Some(child);
    }

    /// Messages received so far, oldest first, as JSON (`rcpt_tos`, `subject`, `message_id`, `text`, `html`).
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).collect())
            .unwrap_or_default();
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
        paths.sort();
        paths
            .iter()
            .map(|path| serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON"))
            .collect()
    }

    /// Waits until at least `count` messages have arrived, for up to `within`; returns them.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<serde_json::Value> {
        let arrived = eventually(within, || std::future::ready(self.messages().len() >= count)).await;
        assert!(arrived, "{count} message(s) did not arrive within {within:?}; have {}", self.messages().len());
        self.messages()
    }
}
