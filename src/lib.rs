//! guildhall: a multi-tenant identity platform. `startup::Application` is the service;
//! `main.rs` is a thin CLI over it.
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dns;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod service;
pub mod services;
pub mod startup;
pub mod store;
pub mod token;
