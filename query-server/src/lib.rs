//! cpor-server: the website and JSON API over the live snapshot.
//!
//! Data flows one way: `live` (the snapshot CURRENT names, read-only) and
//! the accounts database (`accounts`, `sessions`) → `routes` / `api`
//! (authorisation: a user sees exactly the queryable cases granted to
//! their address) → `pages` (askama templates) or JSON. Credentials are
//! `auth`'s (argon2 in `password`, `captcha`, `throttle`); the website's
//! mail goes through the shared outbox (`mail::web`). The server
//! never writes a snapshot and knows nothing of Big5.

pub mod api;
pub mod app;
pub mod auth;
pub mod captcha;
pub mod changes;
pub mod config;
pub mod device;
pub mod encoding;
pub mod failure;
pub mod http;
pub mod ics;
pub mod live;
pub mod metrics;
pub mod pages;
pub mod password;
pub mod prosecutors;
pub mod rate;
pub mod retention;
pub mod routes;
pub mod server;
pub mod sessions;
pub mod sso;
pub mod stats;
pub mod throttle;
