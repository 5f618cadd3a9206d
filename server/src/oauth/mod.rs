//! OAuth: the authorisation-code dance (flow), token endpoint calls with providers' quirks
//! (token), issuer metadata (discovery), and the browser routes (http).

pub mod discovery;
pub mod flow;
pub mod http;
pub mod token;
