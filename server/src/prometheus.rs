//! Usage read from a Prometheus server's HTTP API: one instant query per billed resource, evaluated at the end of
//! the hour (or now, for the current hour), each giving the hour's mean by `namespace` (a project's namespace is
//! its name).

use app::billing::model::BilledResource;
use app::billing::ssr::{Reading, SourceError, UsageSource};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::PrometheusConfig;

/// How long one query may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads hourly usage from Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusSource {
    client: reqwest::Client,
    config: PrometheusConfig,
}

impl PrometheusSource {
    /// A source over the configured server and queries.
    pub fn new(config: PrometheusConfig) -> Self {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default();
        Self { client, config }
    }

    fn failed(reason: impl std::fmt::Display) -> SourceError {
        SourceError { source_name: "prometheus", reason: reason.to_string() }
    }

    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Vec<(String, f64)>, SourceError> {
        let url = self.config.url.join("api/v1/query").map_err(Self::failed)?;
        let time = format!("{:.3}", at.timestamp_millis() as f64 / 1000.0);
        let response = self
            .client
            .get(url)
            .query(&[("query", query), ("time", time.as_str())])
            .send()
            .await
            .map_err(|error| Self::failed(app::error::cause_chain(&error)))?;
        let status = response.status();
        let answer: QueryAnswer = response.json().await.map_err(|error| Self::failed(format!("{status}: {error}")))?;
        if answer.status != "success" {
            return Err(Self::failed(format!("{status}: {}", answer.error.unwrap_or_default())));
        }
        let data = answer.data.ok_or_else(|| Self::failed("the answer has no data"))?;
        if data.result_type != "vector" {
            return Err(Self::failed(format!("the query gives a {}, not a vector by namespace", data.result_type)));
        }
        Ok(data
            .result
            .into_iter()
            .filter_map(|series| {
                let namespace = series.metric.namespace?;
                let value: f64 = series.value.1.parse().ok()?;
                Some((namespace, value))
            })
            .collect())
    }
}

#[async_trait]
impl UsageSource for PrometheusSource {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    async fn hour_usage(&self, _hour: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<Reading>, SourceError> {
        let mut readings = Vec::new();
        for (resource, query) in BilledResource::ALL.into_iter().zip(&self.config.queries) {
            for (project, value) in self.query(query, until).await? {
                // NaN (no samples in the window) and negative values are no usage.
                if value.is_finite() && value >= 0.0 {
                    readings.push(Reading { project, resource, value });
                }
            }
        }
        Ok(readings)
    }
}

#[derive(Debug, Deserialize)]
struct QueryAnswer {
    status: String,
    data: Option<QueryData>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<Series>,
}

#[derive(Debug, Deserialize)]
struct Series {
    metric: SeriesLabels,
    value: (f64, String),
}

#[derive(Debug, Deserialize)]
struct SeriesLabels {
    namespace: Option<String>,
}
