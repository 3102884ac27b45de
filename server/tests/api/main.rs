//! Integration tests of the server: one binary, a fresh database per test, every storage case on SQLite and on
//! PostgreSQL (`BERTH_TEST_POSTGRES_URL`; `.ci/test` provides one).

// Test code may panic on what it does not expect; that is how it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod application_store;
mod applications;
mod billing;
mod binary;
mod feedback;
mod hardening;
mod helpers;
mod http;
mod kubernetes;
mod lifecycle;
mod members;
mod oidc;
mod outage;
mod peers;
mod prometheus;
mod provisioning;
mod status_content;
mod status_notify;
mod status_ops;
mod storage;
