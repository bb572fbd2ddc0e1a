//! One module per operation, grouped by the feature it belongs to (`invoices`, `imports`,
//! `suppliers`, `master_data`, `webhooks`, `events`). An API operation's module declares its `ROUTE` (method, path,
//! scope, handler), which its Lambda binary in functions/ runs as its whole job and the dev
//! stack serves in-process, both through [`crate::gate`]. Event functions' modules expose
//! `handle(&AppState, Event)`.

pub mod events;
pub mod imports;
pub mod invoices;
pub mod master_data;
pub mod suppliers;
pub mod webhooks;

use crate::gate::Route;

/// Every public API route, each declared beside its handler. The dev stack routes by it and
/// template.yaml declares the same (a test checks); a Lambda function serves exactly one,
/// named in its `main`.
pub static ROUTES: &[&Route] = &[
    &invoices::list_exportable_invoices::ROUTE,
    &invoices::get_invoice::ROUTE,
    &invoices::get_invoice_download_url::ROUTE,
    &invoices::get_invoice_history::ROUTE,
    &invoices::complete_invoice_export::ROUTE,
    &invoices::reject_invoice_export::ROUTE,
    &invoices::bulk_complete_invoice_exports::ROUTE,
    &invoices::bulk_reject_invoice_exports::ROUTE,
    &invoices::claim_invoice_exports::ROUTE,
    &imports::start_import_job::ROUTE,
    &imports::get_import_job::ROUTE,
    &suppliers::list_suppliers::ROUTE,
    &suppliers::get_supplier::ROUTE,
    &master_data::list_gl_accounts::ROUTE,
    &master_data::get_gl_account::ROUTE,
    &master_data::list_tax_codes::ROUTE,
    &master_data::get_tax_code::ROUTE,
    &master_data::list_tracking_categories::ROUTE,
    &master_data::get_tracking_category::ROUTE,
    &master_data::list_purchase_orders::ROUTE,
    &master_data::get_purchase_order::ROUTE,
    &webhooks::create_webhook_subscription::ROUTE,
    &webhooks::list_webhook_subscriptions::ROUTE,
    &webhooks::get_webhook_subscription::ROUTE,
    &webhooks::update_webhook_subscription::ROUTE,
    &webhooks::delete_webhook_subscription::ROUTE,
    &webhooks::rotate_webhook_secret::ROUTE,
    &webhooks::retire_webhook_secrets::ROUTE,
    &webhooks::test_webhook_subscription::ROUTE,
    &webhooks::list_webhook_deliveries::ROUTE,
    &webhooks::recover_webhook_deliveries::ROUTE,
    &webhooks::resend_webhook_delivery::ROUTE,
    &events::list_events::ROUTE,
];
