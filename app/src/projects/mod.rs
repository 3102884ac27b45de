//! Projects: what an approved application becomes on the cluster. `model` holds the states and roles both sides
//! share, `pages` the project list and page; the server side (`ssr`) holds the desired state every provisioning
//! backend applies.

pub mod api;
pub mod member_pages;
pub mod members;
pub mod model;
pub mod pages;
pub mod request_pages;
pub mod requests;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod view;
