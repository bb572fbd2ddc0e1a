//! Reading the master data import jobs wrote: a paged list and one record of each kind. Each
//! route's module is a few lines naming its kind; the work is here, generic over the kind.

pub mod get_gl_account;
pub mod get_purchase_order;
pub mod get_tax_code;
pub mod get_tracking_category;
pub mod list_gl_accounts;
pub mod list_purchase_orders;
pub mod list_tax_codes;
pub mod list_tracking_categories;

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::{storage_key, MasterKind};
use crate::domain::CompanyId;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::store::master_data::{is_position, sort_key};

/// `GET /v1/<kind>?limit&continuationKey`: a page of the company's records of `K` in key
/// order (one Query), paged like the export queue; with `within` (storage-key parts), only
/// the records under them, and a 404 when there are none.
pub async fn list<K: MasterKind>(
    state: &AppState,
    company: CompanyId,
    req: &Request,
    within: Option<&[&str]>,
) -> Result<Response<Body>, ApiError> {
    // A key of another list (another kind, another category) is refused, never queried.
    // The key parts under which to list, each escaped as a part followed by another is.
    let prefix = within.map(|parts| {
        let mut outer: Vec<&str> = parts.to_vec();
        outer.push("");
        storage_key(&outer)
    });
    let start = sort_key::<K>(prefix.as_deref().unwrap_or_default());
    let asked = state
        .continuation
        .page_request(req, company, |position| {
            is_position::<K>(position) && position.starts_with(&start)
        })
        .await?;
    let first_page = asked.after.is_none();
    let page = state
        .master_data
        .list::<K>(company, prefix.as_deref(), asked.after, asked.limit)
        .await?;
    if let (Some(parts), true, true) = (within, first_page, page.records.is_empty()) {
        // Nothing under the key named in the path: it names nothing there is.
        return Err(ApiError::not_found(format!(
            "no {} under {:?}",
            K::NOUN,
            crate::domain::master_data::key_label(parts)
        )));
    }
    let items: Vec<_> = page.records.iter().map(|r| r.view::<K>()).collect();
    state
        .continuation
        .page_answer(company, &items, page.next_position)
}

/// `GET /v1/<kind>/{key}`: one record (one GetItem), or a 404 naming it.
pub async fn get<K: MasterKind>(
    state: &AppState,
    company: CompanyId,
    key_parts: &[&str],
) -> Result<Response<Body>, ApiError> {
    match state.master_data.get::<K>(company, key_parts).await? {
        Some(record) => edge::ok(&record.view::<K>()),
        None => Err(ApiError::not_found(format!(
            "{} {:?} not found",
            K::NOUN,
            crate::domain::master_data::key_label(key_parts)
        ))),
    }
}
