//! The inventory API: routes, handlers and the in-memory store.
//!
//! Every route is behind the guard's layer (a valid access token for this
//! API's audience, not revoked); each method adds the scope it needs:
//! `GET /items` needs `inventory:read`, `POST /items` needs `inventory:write`.
//! The RFC 9728 metadata route is merged after the layer, so it stays public.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_guard::{Authenticated, Guard, require_scopes};
use tokio::sync::RwLock;

pub const READ: &str = "inventory:read";
pub const WRITE: &str = "inventory:write";

/// Far above any valid item; bigger bodies are refused before parsing.
const MAX_BODY: usize = 16 * 1024;
const MAX_NAME_CHARS: usize = 100;
const MAX_QUANTITY: u32 = 1_000_000;
/// The store lives in memory: bound it.
const MAX_ITEMS: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub quantity: u32,
    /// The token's subject (for client credentials, the client id).
    pub added_by: String,
}

/// The body of `POST /items`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub name: String,
    pub quantity: u32,
}

impl NewItem {
    /// The name to store (trimmed), or why the item is refused.
    pub fn validate(&self) -> Result<String, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("name must not be empty".into());
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(format!("name must be at most {MAX_NAME_CHARS} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("name must not contain control characters".into());
        }
        if self.quantity > MAX_QUANTITY {
            return Err(format!("quantity must be from 0 to {MAX_QUANTITY}"));
        }
        Ok(name.to_string())
    }
}

/// The items, shared by all requests.
#[derive(Debug, Clone, Default)]
pub struct Store {
    items: Arc<RwLock<Vec<Item>>>,
}

/// An error answer: `{"error": "...", "error_description": "..."}`, the
/// shape the guard's own refusals have.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl ApiError {
    fn bad_request(description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: "invalid_request", description: description.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "error_description": self.description });
        (self.status, Json(body)).into_response()
    }
}

/// A bad body is a 400 whatever was wrong with it (not JSON, wrong
/// content type, wrong fields); only an oversized one keeps its 413.
impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let mut e = Self::bad_request(r.body_text());
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            e.status = StatusCode::PAYLOAD_TOO_LARGE;
        }
        e
    }
}

/// The whole application: protected routes, then the public metadata.
pub fn router(guard: &Guard, store: Store) -> Router {
    let items =
        get(list_items).route_layer(require_scopes([READ])).merge(post(add_item).route_layer(require_scopes([WRITE])));
    Router::new()
        .route("/items", items)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(guard.layer())
        .with_state(store)
        .merge(guard.metadata_router())
}

fn scopes(who: &Authenticated) -> String {
    who.scopes().collect::<Vec<_>>().join(" ")
}

async fn list_items(who: Authenticated, State(store): State<Store>) -> Json<Vec<Item>> {
    let items = store.items.read().await.clone();
    tracing::info!(
        subject = who.subject(),
        client_id = who.client_id(),
        scope = scopes(&who),
        count = items.len(),
        "listed items"
    );
    Json(items)
}

async fn add_item(
    who: Authenticated,
    State(store): State<Store>,
    body: Result<Json<NewItem>, JsonRejection>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let Json(new) = body?;
    let name = new.validate().map_err(ApiError::bad_request)?;
    let item = {
        let mut items = store.items.write().await;
        if items.len() >= MAX_ITEMS {
            return Err(ApiError {
                status: StatusCode::INSUFFICIENT_STORAGE,
                error: "store_full",
                description: format!("the store holds at most {MAX_ITEMS} items"),
            });
        }
        let id = items.last().map_or(1, |i| i.id + 1);
        let item = Item { id, name, quantity: new.quantity, added_by: who.subject().to_string() };
        items.push(item.clone());
        item
    };
    tracing::info!(
        subject = who.subject(),
        client_id = who.client_id(),
        scope = scopes(&who),
        id = item.id,
        name = %item.name,
        quantity = item.quantity,
        "added an item"
    );
    Ok((StatusCode::CREATED, Json(item)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, quantity: u32) -> NewItem {
        NewItem { name: name.into(), quantity }
    }

    #[test]
    fn valid_items_are_trimmed() {
        assert_eq!(new("  bolts ", 250).validate(), Ok("bolts".to_string()));
        assert_eq!(new("écrous", 0).validate(), Ok("écrous".to_string()));
        assert!(new(&"x".repeat(MAX_NAME_CHARS), MAX_QUANTITY).validate().is_ok());
    }

    #[test]
    fn invalid_items_are_refused() {
        for (name, qty) in [("", 1), ("   ", 1), ("a\nb", 1), ("tab\there", 1), ("ok", MAX_QUANTITY + 1)] {
            assert!(new(name, qty).validate().is_err(), "{name:?} {qty}");
        }
        assert!(new(&"x".repeat(MAX_NAME_CHARS + 1), 1).validate().is_err());
    }

    #[test]
    fn body_shape_is_strict() {
        let parse = serde_json::from_str::<NewItem>;
        assert!(parse(r#"{"name":"bolts","quantity":3}"#).is_ok());
        for bad in [
            r#"{"name":"bolts"}"#,
            r#"{"name":"bolts","quantity":-1}"#,
            r#"{"name":"bolts","quantity":1.5}"#,
            r#"{"name":"bolts","quantity":"3"}"#,
            r#"{"name":"bolts","quantity":3,"price":9}"#,
            r#"{"name":7,"quantity":3}"#,
            r#"[]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn errors_are_json() {
        let r = ApiError::bad_request("name must not be empty").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["error_description"], "name must not be empty");
    }
}
