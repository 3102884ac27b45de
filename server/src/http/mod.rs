//! HTTP surface outside the Leptos pages: status documents, operations endpoints, assets and middleware.

pub mod assets;
pub mod auth;
pub mod cache;
pub mod client_ip;
pub mod encoding;
pub mod feed;
pub mod health;
pub mod metrics;
pub mod request_id;
pub mod security;
pub mod statements;
pub mod status;
pub mod usage;
