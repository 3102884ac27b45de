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
    options: Vec<String>,
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a sink with extra options of `smtp_sink.py` (`--tls CERT KEY`, `--auth USER:PASSWORD`).
    pub async fn start_with(options: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options: Vec<String> = options.iter().map(|option| (*option).to_owned()).collect();
        let (child, port) = Self::spawn(dir.path(), 0, &options).await;
        Self { port, dir, child: Some(child), options }
    }

    async fn spawn(dir: &Path, port: u16, options: &[String]) -> (Child, u16) {
        let mut command = Command::new(python());
        command.arg(repo_root().join("end2end/peers/smtp_sink.py")).arg(dir).arg(port.to_string()).args(options);
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
        let (child, _) = Self::spawn(self.dir.path(), self.port, &self.options).await;
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

    /// Messages received so far, oldest first, as received (headers and all).
    pub fn raw_messages(&self) -> Vec<String> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).collect())
            .unwrap_or_default();
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "eml"));
        paths.sort();
        paths.iter().map(|path| std::fs::read_to_string(path).unwrap_or_default()).collect()
    }

    /// Waits until at least `count` messages have arrived, for up to `within`; returns them.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<serde_json::Value> {
        let arrived = eventually(within, || std::future::ready(self.messages().len() >= count)).await;
        assert!(arrived, "{count} message(s) did not arrive within {within:?}; have {}", self.messages().len());
        self.messages()
    }
}

/// A user of the test provider.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    /// Login name on the provider's form.
    pub username: &'static str,
    /// Password.
    pub password: &'static str,
    /// Subject.
    pub sub: &'static str,
    /// Address.
    pub email: &'static str,
    /// Whether the provider vouches for the address.
    pub email_verified: bool,
}

/// A real OpenID Connect provider (npm `oidc-provider`) on loopback with one client, Berth.
pub struct OidcProvider {
    /// Its issuer URL.
    pub issuer: String,
    _child: Child,
}

/// The client secret the test provider knows Berth by.
pub const CLIENT_SECRET: &str = "berth-test-secret";

impl OidcProvider {
    /// Starts a provider whose client `berth` redirects to `{berth}/auth/oidc/{id}/callback`.
    pub async fn start(berth: &str, id: &str, users: &[ProviderUser]) -> Self {
        let users: serde_json::Map<String, serde_json::Value> = users
            .iter()
            .map(|user| {
                let record = serde_json::json!({
                    "password": user.password, "sub": user.sub, "email": user.email,
                    "email_verified": user.email_verified, "name": user.username,
                });
                (user.username.to_owned(), record)
            })
            .collect();
        let config = serde_json::json!({
            "clients": [{
                "client_id": "berth",
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [format!("{berth}/auth/oidc/{id}/callback")],
            }],
            "users": users,
        });
        let mut command = Command::new("node");
        command.arg(repo_root().join("end2end/peers/oidc_provider.mjs")).arg(config.to_string());
        let (child, issuer) = start_peer(command, "OpenID Connect provider").await;
        Self { issuer, _child: child }
    }

    /// The `[[oidc_providers]]` table that points Berth at this provider as `id`.
    pub fn config_toml(&self, id: &str, name: &str) -> String {
        format!(
            "[[oidc_providers]]\nid = \"{id}\"\ndisplay_name = \"{name}\"\nissuer_url = \"{}\"\nclient_id = \
             \"berth\"\nclient_secret = \"{CLIENT_SECRET}\"\n",
            self.issuer
        )
    }

    /// Logs in on the provider's own form as a browser would, starting from `authorize_url`; returns the URL the
    /// provider sends the browser back to.
    pub async fn login(&self, authorize_url: &str, username: &str, password: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("a client");
        let absolute = |location: &str| {
            if location.starts_with("http") { location.to_owned() } else { format!("{}{location}", self.issuer) }
        };
        let mut url = authorize_url.to_owned();
        for _ in 0..10 {
            let response = client.get(&url).send().await.expect("the provider answers");
            let location = response.headers().get("location").map(|value| value.to_str().unwrap().to_owned());
            let Some(location) = location else { panic!("the provider answered {} at {url}", response.status()) };
            if !location.starts_with(&self.issuer) && location.starts_with("http") {
                return location;
            }
            url = absolute(&location);
            if let Some(uid) = url.strip_prefix(&format!("{}/interaction/", self.issuer)) {
                let response = client
                    .post(format!("{}/interaction/{uid}/login", self.issuer))
                    .form(&[("username", username), ("password", password)])
                    .send()
                    .await
                    .expect("the login form answers");
                let location = response.headers().get("location").map(|value| value.to_str().unwrap().to_owned());
                url = absolute(&location.unwrap_or_else(|| panic!("login refused: {}", response.status())));
            }
        }
        panic!("the provider did not send the browser back")
    }
}

/// A throwaway certificate authority and a server certificate it signed for 127.0.0.1, made with the openssl CLI.
pub struct TestCertificates {
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCertificates {
    /// Makes them in a temporary directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = |name: &str| dir.path().join(name);
        std::fs::write(
            path("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("the extensions file is written");
        let steps: [Vec<&str>; 3] = [
            vec![
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Berth Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            vec![
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
            vec![
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
        ];
        for args in steps {
            let output = std::process::Command::new("openssl")
                .args(&args)
                .current_dir(dir.path())
                .output()
                .expect("openssl runs");
            assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        Self { ca: path("ca.pem"), cert: path("leaf.pem"), key: path("leaf.key"), _dir: dir }
    }
}
