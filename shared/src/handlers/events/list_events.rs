//! `GET /v1/events?after&types&limit`: the company's events, oldest first, each exactly once to
//! a reader that pages on with the cursor it was handed (one Query). Kept 30 days; an event is
//! served once it is [`SETTLE`](crate::domain::events::SETTLE) old (see `store::events` for why).
//!
//! The caller reads the event types its request is admitted to read: `invoice.*` by
//! `invoices.read`, `import_job.*` by `imports.read`, each carried by the token and held by
//! the grant, as a webhook subscription is told only what its client may read.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::webhook::EventType;
use crate::domain::{FeedCursor, Scope, Timestamp};
use crate::edge;
use crate::foundation::error::{ApiError, FieldError};
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "list-events",
    method: "GET",
    path: "/v1/events",
    scopes: &[Scope::InvoicesRead, Scope::ImportsRead],
    pages: false,
    query: &["after", "types", "limit"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

/// Events per page at most: 500 events of under 1 KB each stay far inside Lambda's 6 MB
/// answer (and a Query reads at most 1 MB anyway).
pub const MAX_FEED_PAGE: usize = 500;
pub const DEFAULT_FEED_PAGE: usize = 100;

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let asked = FeedRequest::parse(&req, &tenant)?;
    let page = state
        .events
        .read(
            tenant.company,
            asked.after.as_ref(),
            &asked.types,
            i32::try_from(asked.limit).unwrap_or(i32::MAX),
            Timestamp::now(),
        )
        .await?;
    let items = page
        .entries
        .into_iter()
        .map(|entry| {
            let mut event: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&entry.body).map_err(ApiError::internal)?;
            event.insert("cursor".into(), serde_json::json!(entry.cursor));
            Ok(event)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    edge::ok(&serde_json::json!({
        "items": items,
        "nextCursor": page.next,
        "hasMore": page.more,
    }))
}

/// What a feed request asks for, parsed.
struct FeedRequest {
    after: Option<FeedCursor>,
    /// The types to read; empty reads every type (the caller may read them all).
    types: Vec<EventType>,
    limit: usize,
}

impl FeedRequest {
    fn parse(req: &Request, tenant: &Tenant) -> Result<Self, ApiError> {
        let after = edge::query(req, "after")
            .map(FeedCursor::try_from)
            .transpose()?;
        let limit = edge::limit_between(req, DEFAULT_FEED_PAGE, MAX_FEED_PAGE)?;
        let readable: Vec<EventType> = EventType::ALL
            .into_iter()
            .filter(|event| tenant.admitted.contains(&event.read_scope()))
            .collect();
        let types = match edge::query(req, "types") {
            None => readable,
            Some(raw) => {
                let names: Vec<String> = raw.split(',').map(str::to_string).collect();
                let types = EventType::parse_list("types", &names).map_err(|e| {
                    FieldError::new(e.field, format!("{} (comma-separated)", e.message))
                })?;
                if let Some((event, scope)) = EventType::first_unreadable(&types, &tenant.admitted)
                {
                    return Err(ApiError::Forbidden(format!(
                        "reading {} events needs the {} scope in the access token and in this \
                         client's grant for company {}",
                        event.as_str(),
                        scope.oauth_name(),
                        tenant.company
                    )));
                }
                types
            }
        };
        // Every type readable: no filter at all, so every page is full.
        let types = if types.len() == EventType::ALL.len() {
            Vec::new()
        } else {
            types
        };
        Ok(Self {
            after,
            types,
            limit,
        })
    }
}
