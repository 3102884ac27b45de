//! Usage read from a real Prometheus server (Debian's `prometheus` package, started here on loopback) that scrapes
//! a metrics target this test serves: cAdvisor's and the kubelet's series for the project's namespace, a second
//! namespace Berth does not know, and a pod-level CPU series the default query leaves out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::process::{Child, Command};

use crate::helpers::{Backend, TestOptions, eventually};
use crate::members::project_with;
use crate::on_both_backends;

on_both_backends!(
    each_hours_usage_is_read_from_prometheus_once_and_charged,
    an_unreachable_prometheus_stops_the_rollup
);

/// A Prometheus server scraping `target` every second, with its data in a directory of its own; stopped on drop.
struct Prometheus {
    url: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: std::net::SocketAddr) -> Self {
        let binary = std::env::var("BERTH_TEST_PROMETHEUS").unwrap_or_else(|_| "prometheus".to_owned());
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: cluster\n    honor_labels: true\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary} ({error}); .ci/setup installs Debian's prometheus"));
        let url = format!("http://127.0.0.1:{port}");
        let ready = eventually(Duration::from_secs(30), || async {
            reqwest::get(format!("{url}/-/ready")).await.is_ok_and(|response| response.status().is_success())
        })
        .await;
        assert!(ready, "Prometheus did not start at {url}");
        Self { url, _child: child, _dir: dir }
    }

    /// Waits until Prometheus holds at least `scrapes` samples of the memory series.
    async fn scraped(&self, scrapes: u32) {
        let query = "count_over_time(container_memory_working_set_bytes{namespace=\"climate\"}[1h])";
        let enough = eventually(Duration::from_secs(30), || async {
            let Ok(response) = reqwest::Client::new()
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", query)])
                .send()
                .await
            else {
                return false;
            };
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            body["data"]["result"][0]["value"][1].as_str().and_then(|count| count.parse::<u32>().ok()) >= Some(scrapes)
        })
        .await;
        assert!(enough, "Prometheus did not scrape the target {scrapes} times");
    }
}

/// Serves cAdvisor- and kubelet-style series: the project's container uses 1.5 cores and 2 GiB, its volume holds
/// 10 GiB; another namespace, and the pod-level CPU series (`container=""`), must not count.
async fn metrics_target() -> std::net::SocketAddr {
    let started = Instant::now();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move {
            let cpu = 1.5 * started.elapsed().as_secs_f64();
            format!(
                "container_cpu_usage_seconds_total{{namespace=\"climate\",container=\"app\"}} {cpu}\n\
                 container_cpu_usage_seconds_total{{namespace=\"climate\",container=\"\"}} {}\n\
                 container_memory_working_set_bytes{{namespace=\"climate\",container=\"app\"}} 2147483648\n\
                 container_memory_working_set_bytes{{namespace=\"elsewhere\",container=\"app\"}} 1073741824\n\
                 kubelet_volume_stats_capacity_bytes{{namespace=\"climate\",persistentvolumeclaim=\"data\"}} 10737418240\n",
                cpu * 100.0
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn source(url: &str) -> Arc<server::prometheus::PrometheusSource> {
    let queries = server::config::DEFAULT_PROMETHEUS_QUERIES.map(str::to_owned);
    Arc::new(server::prometheus::PrometheusSource::new(server::config::PrometheusConfig {
        url: url::Url::parse(url).unwrap(),
        queries,
    }))
}

async fn each_hours_usage_is_read_from_prometheus_once_and_charged(backend: Backend) {
    let target = metrics_target().await;
    let prometheus = Prometheus::start(target).await;
    // Berth itself reads from it too: its rollup job at startup queries Prometheus and must not fail.
    let options = TestOptions {
        config_toml: Some(format!("prometheus_url = \"{}\"\n", prometheus.url)),
        ..TestOptions::default()
    };
    let (app, project_id, _ada, _boss) = project_with(backend, options).await;
    crate::billing::rollups_done(&app).await;
    prometheus.scraped(4).await;

    let billing = crate::billing::billing_of(&app).await.with_source(source(&prometheus.url));
    let hour = app::billing::ssr::hour_of(Utc::now());
    let pulled = billing.pull(hour).await.unwrap();
    assert_eq!(pulled, 3, "cpu, memory and storage of the known project");
    let value = |resource: &'static str| {
        let app = &app;
        async move {
            app.scalar(&format!(
                "SELECT CAST(value_milli AS TEXT) FROM usage_samples WHERE project_id = {project_id} \
                 AND resource = '{resource}' AND source = 'prometheus'"
            ))
            .await
            .map(|value| value.parse::<i64>().unwrap())
        }
    };
    assert_eq!(value("memory").await, Some(2000), "2 GiB working set");
    assert_eq!(value("storage").await, Some(10_000), "10 GiB of volume capacity");
    // The rate over the hour: the container ran for seconds of it at 1.5 cores (the pod-level series would be 100
    // times more).
    let cpu = value("cpu").await.unwrap();
    assert!((1..=1500).contains(&cpu), "the hour's mean CPU, {cpu} millicores");
    assert_eq!(billing.pull(hour).await.unwrap(), 0, "an hour read again adds nothing");

    // The rollup charges the hour with that usage (memory: 2 GiB used of 16 reserved).
    billing.rollup(hour).await.unwrap();
    let memory = app
        .scalar(&format!(
            "SELECT CAST(usage_milli AS TEXT) || ' ' || CAST(amount_mbu AS TEXT) FROM billing_ledger \
             WHERE project_id = {project_id} AND resource = 'memory' AND hour = '{}'",
            hour.to_rfc3339()
        ))
        .await;
    assert_eq!(memory.as_deref(), Some("2000 25600"));
}

async fn an_unreachable_prometheus_stops_the_rollup(backend: Backend) {
    let (app, project_id, _ada, _boss) = project_with(backend, TestOptions::default()).await;
    crate::billing::rollups_done(&app).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let billing = crate::billing::billing_of(&app).await.with_source(source(&format!("http://{closed}")));
    let hour = app::billing::ssr::hour_of(Utc::now());
    let error = billing.rollup(hour).await.unwrap_err();
    assert!(error.to_string().contains("cannot read usage from prometheus"), "{error}");
    let rows =
        app.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM billing_ledger WHERE project_id = {project_id}")).await;
    assert_eq!(rows.as_deref(), Some("0"), "no hour is charged without the usage it should have read");
}
