//! Access applications: a signed-in user applies for a project on the container cloud, and an admin decides.
//! `model` holds the fields and their checks, `state` the lifecycle; both are shared by the browser and the server.

pub mod admin;
pub mod api;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod state;
pub mod view;
