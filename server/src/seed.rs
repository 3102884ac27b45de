//! Content written on first start: the status page as the source documents describe the service (Rahti's maturity
//! matrix and work remaining, Catalyst Cloud's known issue), in our own words.

use app::error::StoreError;
use app::status::model::{Health, IssueStatus, MaturityIndicator, RatedValue, ServiceSummary, WorkArea};
use app::status::ssr::{KnownIssueSeed, StatusSeed, StatusStore};
use chrono::Utc;

/// Name of the status seed in the seed ledger; a new seed needs a new name.
pub const STATUS_SEED: &str = "status-2026-11";
/// Name of the components' seed in the seed ledger.
pub const COMPONENTS_SEED: &str = "components-2026-12";

/// The components a container cloud's users tell apart, with what each is.
pub const COMPONENTS: [(&str, &str); 5] = [
    ("Web console", "The browser interface for projects, builds and deployments."),
    ("API", "The Kubernetes and OpenShift API that the command-line tools and pipelines use."),
    ("Image registry", "The integrated registry that builds push to and deployments pull from."),
    ("Storage", "Persistent volumes."),
    ("Routers", "Routes and load balancing of traffic into the cluster."),
];

fn rated(value: &str, state: Health) -> RatedValue {
    RatedValue { value: value.to_owned(), state }
}

fn indicator(indicator: &str, current: RatedValue, best_feasible: RatedValue) -> MaturityIndicator {
    MaturityIndicator { indicator: indicator.to_owned(), current, best_feasible }
}

fn area(area: &str, description: &str) -> WorkArea {
    WorkArea { area: area.to_owned(), description: description.to_owned() }
}

/// The first-start status content.
pub fn status_seed() -> StatusSeed {
    StatusSeed {
        service: ServiceSummary {
            stage: "Beta".into(),
            service_level: "Level A: 97% availability, with support on weekdays from 8 to 16.".into(),
        },
        maturity: vec![
            indicator(
                "OpenShift version",
                rated("3.11 (Kubernetes 1.11)", Health::Ok),
                rated("3.11 (Kubernetes 1.11)", Health::Ok),
            ),
            indicator(
                "Service level",
                rated("Level A: 97%, weekdays 8–16", Health::Ok),
                rated("Level B: 99%, weekdays 7–19", Health::Ok),
            ),
            indicator(
                "GlusterFS storage class",
                rated("Technical preview", Health::Warn),
                rated("Technical preview", Health::Warn),
            ),
        ],
        work_remaining: vec![
            area(
                "Storage",
                "Persistent volumes live on GlusterFS, a technology preview that replicates on top of Ceph: six \
                 copies of every byte, and some instability under heavy load. A scalable production storage class \
                 will come first; GlusterFS stays for a while, with instructions for moving data, and may remain \
                 the option for ReadWriteMany volumes.",
            ),
            area(
                "Networking",
                "All traffic into and out of the cluster passes through one virtual machine. That is enough for a \
                 few users but will become a bottleneck as use grows, so a scalable load-balancing setup is needed.",
            ),
            area(
                "Billing",
                "Use is free for now. Before production, use will be charged in the same billing units as the \
                 other compute services; the work has started.",
            ),
            area(
                "Customer processes",
                "People need a public page about the service and a way to apply for access online, tied into the \
                 customer processes. Berth is that way in.",
            ),
        ],
        known_issues: vec![KnownIssueSeed {
            title: "Clusters take a long time to deploy".into(),
            description: "Deploying a cluster from the command line or the dashboard takes about 15–25 minutes.".into(),
            status: IssueStatus::Identified,
            workaround: None,
        }],
    }
}

/// Seeds the status content, and the components, unless each was seeded before. Returns whether this call seeded
/// the status content.
pub async fn seed_status(store: &dyn StatusStore) -> Result<bool, StoreError> {
    let seeded = store.seed_status_once(STATUS_SEED, &status_seed(), Utc::now()).await?;
    if seeded {
        tracing::info!(seed = STATUS_SEED, "status content seeded");
    }
    if store.seed_components_once(COMPONENTS_SEED, &COMPONENTS, Utc::now()).await? {
        tracing::info!(seed = COMPONENTS_SEED, "status components seeded");
    }
    if store.ensure_first_revision(Utc::now()).await? {
        tracing::info!("status content recorded as revision 1");
    }
    Ok(seeded)
}
