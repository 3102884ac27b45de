//! The GitOps backend (the embedded default): each project's objects as one YAML file (`NAMESPACE.yaml`, the
//! documents separated by `---`) in a directory that Argo CD or Flux syncs. A file is written under a temporary
//! name and renamed, so a reader never sees half of one. Optionally each change is committed to a git repository in
//! that directory, with the `git` binary (no library: the commits are plain `git add` + `git commit`, which every
//! GitOps tool reads).

use std::path::{Path, PathBuf};

use app::projects::ssr::desired::DesiredState;
use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{ApplyContext, DriftReport, ProvisionError, Provisioner};

/// Writes project files into a directory, optionally committing them.
#[derive(Debug)]
pub struct GitOpsProvisioner {
    dir: PathBuf,
    commit: bool,
    // One git command at a time in this process (git's own index lock refuses a second one).
    git: Mutex<()>,
}

impl GitOpsProvisioner {
    /// Files in `dir` (created when missing); with `commit`, each change is also committed to the git repository
    /// there (initialised when missing).
    pub fn new(dir: PathBuf, commit: bool) -> Self {
        Self { dir, commit, git: Mutex::new(()) }
    }

    /// The file of the project whose namespace is `namespace`.
    pub fn file_of(&self, namespace: &str) -> PathBuf {
        self.dir.join(format!("{namespace}.yaml"))
    }

    async fn git(&self, args: &[&str]) -> Result<String, ProvisionError> {
        let output = tokio::process::Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .await
            .map_err(|error| ProvisionError::Transient(format!("cannot run git: {error}")))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(ProvisionError::Transient(format!(
                "git {} failed: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    /// Commits the change to `file` (added or removed), when there is one.
    async fn commit_change(&self, file: &Path, message: &str) -> Result<(), ProvisionError> {
        if !self.commit {
            return Ok(());
        }
        let _one_at_a_time = self.git.lock().await;
        if !self.dir.join(".git").exists() {
            self.git(&["init", "--quiet"]).await?;
        }
        let name = file.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        self.git(&["add", "--all", "--", name]).await?;
        if self.git(&["status", "--porcelain", "--", name]).await?.trim().is_empty() {
            return Ok(());
        }
        self.git(&[
            "-c",
            "user.name=Berth",
            "-c",
            "user.email=berth@localhost",
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
            "--",
            name,
        ])
        .await?;
        Ok(())
    }
}

/// The first line of every file Berth writes; a file without it was not written by Berth and is never replaced.
const MARKER: &str = "# Written by Berth; changes made here are overwritten.";

/// The project's file: each object as a YAML document, in the order they are applied.
pub fn render_yaml(desired: &DesiredState) -> Result<String, ProvisionError> {
    let mut text = format!("{MARKER}\n");
    for manifest in desired.manifests() {
        let document = serde_norway::to_string(&manifest.body)
            .map_err(|error| ProvisionError::Permanent(format!("cannot write {:?} as YAML: {error}", manifest.kind)))?;
        text.push_str("---\n");
        text.push_str(&document);
    }
    Ok(text)
}

fn io_error(what: &str, path: &Path, error: &std::io::Error) -> ProvisionError {
    ProvisionError::Transient(format!("cannot {what} {}: {error}", path.display()))
}

#[async_trait]
impl Provisioner for GitOpsProvisioner {
    fn backend(&self) -> &'static str {
        "gitops"
    }

    async fn apply(&self, desired: &DesiredState, context: &ApplyContext) -> Result<(), ProvisionError> {
        let text = render_yaml(desired)?;
        let file = self.file_of(desired.namespace_name());
        tokio::fs::create_dir_all(&self.dir).await.map_err(|error| io_error("create", &self.dir, &error))?;
        let current = tokio::fs::read_to_string(&file).await.ok();
        if let Some(current) = &current
            && !current.starts_with(MARKER)
        {
            return Err(ProvisionError::Permanent(format!(
                "{} exists and was not written by Berth; Berth does not take it over (move it away, then reprovision)",
                file.display()
            )));
        }
        let unchanged = current.is_some_and(|current| current == text);
        if !unchanged {
            // Unique per writer: several Berth processes may write into one directory.
            let temporary = self.dir.join(format!(
                ".{}.{}.{}.tmp",
                desired.namespace_name(),
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            let write = async {
                let mut handle = tokio::fs::File::create(&temporary).await?;
                tokio::io::AsyncWriteExt::write_all(&mut handle, text.as_bytes()).await?;
                handle.sync_all().await?;
                tokio::fs::rename(&temporary, &file).await
            };
            if let Err(error) = write.await {
                let _ = tokio::fs::remove_file(&temporary).await;
                return Err(io_error("write", &file, &error));
            }
        }
        self.commit_change(
            &file,
            &format!(
                "Provision {} (project {}, generation {})",
                desired.namespace_name(),
                context.project_id,
                context.generation
            ),
        )
        .await
    }

    async fn remove(&self, namespace: &str, context: &ApplyContext) -> Result<(), ProvisionError> {
        let file = self.file_of(namespace);
        match tokio::fs::remove_file(&file).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error("remove", &file, &error)),
        }
        self.commit_change(&file, &format!("Remove {namespace} (project {})", context.project_id)).await
    }

    async fn check_drift(&self, desired: &DesiredState) -> Result<Option<DriftReport>, ProvisionError> {
        let file = self.file_of(desired.namespace_name());
        let differences = match tokio::fs::read_to_string(&file).await {
            Ok(current) if current == render_yaml(desired)? => Vec::new(),
            Ok(_) => vec![format!("{} was changed outside Berth", file.display())],
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                vec![format!("{} is missing", file.display())]
            }
            Err(error) => return Err(io_error("read", &file, &error)),
        };
        Ok(Some(DriftReport { differences }))
    }
}

#[cfg(test)]
mod tests {
    use app::applications::model::Quota;
    use app::projects::model::{MemberRole, ProjectState};
    use app::projects::ssr::desired::{ClusterSettings, ProjectMember, ProjectSpec, desired_state};

    use super::*;

    fn desired(pods: u32) -> DesiredState {
        let spec = ProjectSpec {
            id: 1,
            name: "demo".to_owned(),
            title: "Demo: \"quoted\" # not a comment".to_owned(),
            owner_id: 2,
            owner_email: "ada@example.org".to_owned(),
            quota: Quota { pods, ..Quota::STANDARD },
            state: ProjectState::Provisioning,
            members: vec![ProjectMember {
                user_id: 2,
                username: "ada@example.org".to_owned(),
                role: MemberRole::Manager,
            }],
        };
        desired_state(&spec, &ClusterSettings { openshift: true, ..ClusterSettings::default() })
    }

    #[tokio::test]
    async fn the_file_holds_every_object_and_reads_back_as_the_same_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let gitops = GitOpsProvisioner::new(dir.path().join("projects"), false);
        let state = desired(50);
        gitops.apply(&state, &ApplyContext::new(1, 1)).await.unwrap();
        let text = std::fs::read_to_string(gitops.file_of("demo")).unwrap();
        let documents: Vec<serde_json::Value> =
            text.split("\n---\n").skip(1).map(|document| serde_norway::from_str(document).unwrap()).collect();
        let expected: Vec<serde_json::Value> = state.manifests().into_iter().map(|m| m.body).collect();
        assert_eq!(documents, expected);
        assert_eq!(gitops.check_drift(&state).await.unwrap().unwrap().differences, Vec::<String>::new());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("projects")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[tokio::test]
    async fn applying_again_rewrites_nothing_and_a_change_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let gitops = GitOpsProvisioner::new(dir.path().to_owned(), false);
        gitops.apply(&desired(50), &ApplyContext::new(1, 1)).await.unwrap();
        let first = std::fs::metadata(gitops.file_of("demo")).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        gitops.apply(&desired(50), &ApplyContext::new(1, 1)).await.unwrap();
        assert_eq!(std::fs::metadata(gitops.file_of("demo")).unwrap().modified().unwrap(), first, "not rewritten");
        gitops.apply(&desired(80), &ApplyContext::new(1, 2)).await.unwrap();
        assert!(std::fs::read_to_string(gitops.file_of("demo")).unwrap().contains("pods: '80'"));
        let drift = gitops.check_drift(&desired(50)).await.unwrap().unwrap();
        assert_eq!(drift.differences.len(), 1, "the file no longer matches the older state");
        gitops.remove("demo", &ApplyContext::new(1, 3)).await.unwrap();
        assert!(!gitops.file_of("demo").exists());
        gitops.remove("demo", &ApplyContext::new(1, 3)).await.expect("removing what is gone is fine");
        assert!(gitops.check_drift(&desired(50)).await.unwrap().unwrap().differences[0].contains("missing"));
    }

    #[tokio::test]
    async fn a_file_berth_did_not_write_is_not_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let gitops = GitOpsProvisioner::new(dir.path().to_owned(), false);
        std::fs::write(gitops.file_of("demo"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n").unwrap();
        let error = gitops.apply(&desired(50), &ApplyContext::new(1, 1)).await.unwrap_err();
        assert!(error.is_permanent() && error.to_string().contains("not written by Berth"), "{error}");
        assert!(std::fs::read_to_string(gitops.file_of("demo")).unwrap().starts_with("apiVersion"), "left alone");
    }

    #[tokio::test]
    async fn with_commits_each_change_is_one_commit_and_an_unchanged_apply_makes_none() {
        let dir = tempfile::tempdir().unwrap();
        let gitops = GitOpsProvisioner::new(dir.path().to_owned(), true);
        gitops.apply(&desired(50), &ApplyContext::new(1, 1)).await.unwrap();
        gitops.apply(&desired(50), &ApplyContext::new(1, 1)).await.unwrap();
        gitops.apply(&desired(60), &ApplyContext::new(1, 2)).await.unwrap();
        gitops.remove("demo", &ApplyContext::new(1, 3)).await.unwrap();
        let log = gitops.git(&["log", "--format=%s"]).await.unwrap();
        assert_eq!(
            log.lines().collect::<Vec<_>>(),
            [
                "Remove demo (project 1)",
                "Provision demo (project 1, generation 2)",
                "Provision demo (project 1, generation 1)"
            ]
        );
    }
}
