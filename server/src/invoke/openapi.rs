//! The OpenAPI 3.1 document of the scripts' API, served at `/api/v1/openapi.json`. The
//! integration tests call every operation it lists against the real routes and check the answers
//! against it.

use crate::invoke::Api;
use app::error::ErrorCode;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn handle(State(api): State<Arc<Api>>) -> Response {
    Json(document(&api.infra.public_url)).into_response()
}

fn error_responses(codes: &[ErrorCode]) -> Map<String, Value> {
    let mut out = Map::new();
    for code in codes {
        let key = code.http_status().to_string();
        let entry = out.entry(key).or_insert_with(|| {
            json!({ "description": "", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
        });
        let d = entry["description"].as_str().unwrap_or_default().to_string();
        let line = format!("`{}`: {}", code.as_str(), code.when());
        entry["description"] = Value::String(if d.is_empty() { line } else { format!("{d}; {line}") });
    }
    out
}

/// The codes every call through a connection may answer with.
const CALL_ERRORS: &[ErrorCode] = ErrorCode::API;

pub fn document(public_url: &str) -> Value {
    let link = json!({ "name": "link_name", "in": "path", "required": true,
        "description": "The connection's link name (lower-case letters, digits and underscores).",
        "schema": { "type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$" } });
    let path = json!({ "name": "path", "in": "path", "required": true,
        "description": "The rest of the URL, appended as sent (still percent-encoded) to the service's first API base URL; the query string passes through. A path that leaves the base path once decoded, or carries an encoded slash the service does not need, is refused with `path_not_allowed`.",
        "schema": { "type": "string" } });
    let retries = json!({ "name": "Liaison-Retries", "in": "header", "required": false,
        "description": "Retries on a failed connection, 429, 502, 503 and 504: 0 to 5, or `default` (the service's number in the catalogue, else 2). Only GET, HEAD, OPTIONS, PUT and DELETE are retried unless Liaison-Retry-Non-Idempotent is true. Waits what `Retry-After` says (seconds or an HTTP date; else the service's documented reset header; else an exponential back-off with jitter), never past the call's time limit: the last answer is returned instead. The body is then kept to be sent again, at most 1 MiB. No `Liaison-*` header reaches the service.",
        "schema": { "type": "string", "pattern": "^([0-5]|default)$" } });
    let non_idempotent = json!({ "name": "Liaison-Retry-Non-Idempotent", "in": "header", "required": false,
        "description": "`true`: retry a POST or PATCH too (only when a repeat does no harm, e.g. the service de-duplicates it).",
        "schema": { "type": "string", "enum": ["true", "false"] } });
    let mut proxy_responses = error_responses(CALL_ERRORS);
    proxy_responses.insert(
        "default".into(),
        json!({ "description": "The service's own answer: its status, headers and body, streamed as they are.",
            "headers": { "Liaison-Attempts": { "description": "When the call asked for retries: the requests sent to the service.", "schema": { "type": "integer", "minimum": 1 } } } }),
    );
    let proxy_op = |summary: &str, params: Vec<Value>| {
        json!({
            "summary": summary,
            "description": "Transparent proxy: method, query, headers and body pass through (streamed); hop-by-hop headers are dropped, and so are the service's headers that would set state on Liaison's origin (`Set-Cookie`, `Clear-Site-Data`, `Strict-Transport-Security`, `Alt-Svc`…); TRACE and CONNECT are refused; the connection's credential is attached as the service wants it. Bodies up to 256 KiB are retried once after a refresh when the service answers 401; more retries on rate limits and outages with `Liaison-Retries`.",
            "parameters": params,
            "requestBody": { "required": false, "content": { "*/*": { "schema": {} } } },
            "responses": proxy_responses,
        })
    };
    let mut proxy_item = Map::new();
    let mut proxy_root = Map::new();
    for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
        proxy_item.insert(
            method.into(),
            proxy_op(
                "Call the service through the connection",
                vec![link.clone(), path.clone(), retries.clone(), non_idempotent.clone()],
            ),
        );
        proxy_root.insert(
            method.into(),
            proxy_op(
                "Call the service's base URL through the connection",
                vec![link.clone(), retries.clone(), non_idempotent.clone()],
            ),
        );
    }
    let mut metadata_responses = error_responses(&[
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidRequest,
        ErrorCode::ConnectionNotFound,
        ErrorCode::Forbidden,
        ErrorCode::Internal,
    ]);
    metadata_responses.insert(
        "200".into(),
        json!({ "description": "The connection's metadata (`{}` when none is set).",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Metadata" } } } }),
    );
    let metadata_op = |summary: &str, description: &str, body: bool| {
        let mut op = json!({ "summary": summary, "description": description, "parameters": [link.clone()], "responses": metadata_responses.clone() });
        if body {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Metadata" } } } });
        }
        op
    };
    let mut invoke_responses = error_responses(CALL_ERRORS);
    invoke_responses.insert(
        "200".into(),
        json!({ "description": "The service answered (whatever its status).",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/InvokeResponse" } } } }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Liaison scripts' API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Call third-party APIs through Liaison by a connection's link name. Liaison attaches the credential, refreshes it when due, and never lets it out.",
        },
        "servers": [{ "url": public_url.trim_end_matches('/') }],
        "security": [{ "apiToken": [] }],
        "paths": {
            "/api/v1/connections/{link_name}/proxy/{path}": Value::Object(proxy_item),
            "/api/v1/connections/{link_name}/proxy": Value::Object(proxy_root),
            "/api/v1/connections/{link_name}/metadata": {
                "get": metadata_op("Read the connection's metadata", "Any API token of the organisation may read it.", false),
                "put": metadata_op("Replace the connection's metadata", "Only the token of an admin or of the connection's creator (not an integration's internal connection: the admin API sets those). The whole object is replaced; send {} to clear it. Refused, with nothing saved: anything but a JSON object, more than 4 KiB, more than 4 levels deep, a key named like a credential (password, secret, token, api_key, clientSecret…), or invisible formatting characters (right-to-left overrides, zero-width spaces): metadata is never a place for a secret. One object per connection (shared by the people of a per-user one); the last write wins.", true),
            },
            "/api/v1/invoke": {
                "post": {
                    "summary": "One JSON call in, one JSON answer out",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/InvokeRequest" } } } },
                    "responses": invoke_responses,
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": { "200": { "description": "The OpenAPI document.", "content": { "application/json": { "schema": { "type": "object" } } } } },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiToken": { "type": "http", "scheme": "bearer", "description": "A personal API token (`lsn_…`), created in Liaison." }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "enum": ErrorCode::API.iter().map(|c| c.as_str()).collect::<Vec<_>>() },
                        "message": { "type": "string", "description": "What happened and what to do, for a person." },
                        "authorize_url": { "type": "string", "description": "With `user_not_authorized`: where the caller authorises the connection." },
                    },
                },
                "InvokeRequest": {
                    "type": "object",
                    "required": ["connection", "url"],
                    "additionalProperties": false,
                    "properties": {
                        "connection": { "type": "string", "description": "The link name." },
                        "method": { "type": "string", "default": "GET" },
                        "url": { "type": "string", "description": "An absolute URL under one of the service's API base URLs, or a path under the first one." },
                        "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                        "query": { "type": "object", "additionalProperties": {} },
                        "body": { "description": "A string is sent as its text; any other JSON value is sent as the JSON text written here (Content-Type application/json unless given)." },
                        "retries": { "description": "As the proxy's Liaison-Retries header: 0 to 5, or \"default\". With retries, the body sent to the service may be at most 1 MiB (body_too_large).", "oneOf": [{ "type": "integer", "minimum": 0, "maximum": 5 }, { "const": "default" }] },
                        "retry_non_idempotent": { "type": "boolean", "default": false, "description": "Retry a POST or PATCH too." },
                    },
                },
                "Metadata": {
                    "type": "object",
                    "description": "A small JSON object of your own about the connection (an account id, a region): at most 4 KiB, 4 levels deep, never a secret.",
                    "additionalProperties": {},
                },
                "InvokeResponse": {
                    "type": "object",
                    "required": ["status", "headers", "body"],
                    "properties": {
                        "status": { "type": "integer" },
                        "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                        "body": { "description": "JSON when the service answered JSON, else text, else base64 (see body_encoding)." },
                        "body_encoding": { "type": "string", "enum": ["base64"] },
                        "attempts": { "type": "integer", "minimum": 1, "description": "When the call asked for retries: the requests sent to the service." },
                    },
                },
            },
        },
    })
}
