//! OAuth: the authorisation-code dance (flow), token endpoint calls with providers' quirks
//! (token), issuer metadata (discovery), the browser routes (http) and their one-time start links (start).

pub mod discovery;
pub mod flow;
pub mod http;
pub mod start;
pub mod token;
