//! Liaison's integration tests: one binary that spawns the real `liaison` server on port 0 with a
//! fresh database (a SQLite file, and PostgreSQL when TEST_DATABASE_URL is set) and talks to it
//! over HTTP, as a browser would.

mod harness;

mod api;
mod api_listen;
mod cli;
mod doctor;
mod faults;
mod foundation;
mod hardening;
mod keep_alive;
mod lifecycle;
mod metadata;
mod metrics;
mod operator_clients;
mod provider;
mod quirks;
mod reconnect_links;
mod retries;
mod webhooks;
mod webhooks_delivery;
mod webhooks_events;
