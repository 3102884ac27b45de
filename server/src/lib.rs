//! Berth's server: configuration, storage, sessions, the cached status documents and operations endpoints, around
//! the Leptos app in the `app` crate.
#![forbid(unsafe_code)]

pub mod admin_cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod notify;
pub mod oidc;
pub mod prometheus;
pub mod provision;
pub mod seed;
pub mod sessions;
pub mod startup;
pub mod storage;
pub mod telemetry;

pub use startup::{Application, StartupError};
