//! Purchase orders (`PURCHASE_ORDERS`): the ERP's open orders, which invoices are matched
//! against. Keyed by `poNumber`; a record is the whole order with its lines.
//!
//! In JSON a record is one order with `lines: [...]`. In CSV each row is one line, and the
//! adjacent rows with the same `poNumber` are one order: the order's own fields
//! (`supplierExternalId`, `currency`, `issueDate`, `status`, `active`) are read from its first
//! row, and a later row either leaves them empty or repeats them (another value there is that
//! row's error). An order whose rows are not adjacent (its number comes back after another
//! order's rows) is a second record with the same key, reported as a duplicate like any other.
//!
//! An order holds at most [`MAX_LINES`] lines, so that its item stays far inside DynamoDB's
//! 400 KB (at every field's longest, an order of [`MAX_LINES`] lines is about 280 KB).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fields::{json_object, Fields, RawValue, MAX_NAME_CHARS};
use super::{MasterKind, Reference, Row};
use crate::domain::supplier::MAX_EXTERNAL_ID_CHARS;
use crate::domain::{iso, Decimal2, ImportType};
use crate::foundation::error::FieldError;

/// Most lines one purchase order holds.
pub const MAX_LINES: usize = 200;
/// Highest line number.
pub const MAX_LINE_NUMBER: u64 = 99_999;

/// Every CSV column: the order's own fields, then a line's.
pub const CSV_FIELDS: [&str; 14] = [
    "poNumber",
    "supplierExternalId",
    "currency",
    "issueDate",
    "status",
    "active",
    "lineNumber",
    "description",
    "quantity",
    "unitPrice",
    "amount",
    "accountCode",
    "taxCode",
    "receivedQuantity",
];
/// The order's own fields.
pub const ORDER_FIELDS: &[&str] = CSV_FIELDS.as_slice().split_at(6).0;
/// A line's fields.
pub const LINE_FIELDS: &[&str] = CSV_FIELDS.as_slice().split_at(6).1;

crate::choices! {
    /// How far the order has been received.
    pub enum PoStatus {
        Open = "OPEN",
        PartlyReceived = "PARTLY_RECEIVED",
        Closed = "CLOSED",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseOrder {
    pub po_number: String,
    /// The supplier card (`externalId`) the order was placed with.
    pub supplier_external_id: String,
    pub currency: String,
    pub issue_date: NaiveDate,
    pub status: PoStatus,
    pub active: bool,
    pub lines: Vec<PoLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoLine {
    pub line_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub quantity: Decimal2,
    pub unit_price: Decimal2,
    pub amount: Decimal2,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// How much of the quantity has arrived (0 when not given).
    pub received_quantity: Decimal2,
}

/// The order's own fields, read.
struct OrderPart {
    po_number: Option<String>,
    supplier_external_id: Option<String>,
    currency: Option<String>,
    issue_date: Option<NaiveDate>,
    status: Option<PoStatus>,
    active: bool,
}

fn order_part(f: &mut Fields<'_>) -> OrderPart {
    let po_number = f.code("poNumber", true);
    let supplier_external_id = f.text("supplierExternalId", MAX_EXTERNAL_ID_CHARS, true);
    let currency = f.code("currency", true).map(|c| c.to_ascii_uppercase());
    if let Some(c) = &currency {
        if !iso::is_currency(c) {
            f.error(
                "currency",
                format!("{c:?} is not an ISO 4217 currency code, like \"EUR\""),
            );
        }
    }
    OrderPart {
        po_number,
        supplier_external_id,
        currency,
        issue_date: f.date("issueDate", true),
        status: f.choice("status", true),
        active: f.flag("active", true),
    }
}

fn line_part(f: &mut Fields<'_>) -> Option<PoLine> {
    let not_negative = Some(Decimal::ZERO);
    let line_number = f.positive("lineNumber", true, MAX_LINE_NUMBER);
    let description = f.text("description", MAX_NAME_CHARS, false);
    let quantity = f.decimal("quantity", true, not_negative, None);
    let unit_price = f.decimal("unitPrice", true, None, None);
    let amount = f.decimal("amount", true, None, None);
    let account_code = f.code("accountCode", false);
    let tax_code = f.code("taxCode", false);
    let received_quantity = f.decimal("receivedQuantity", false, not_negative, None);
    Some(PoLine {
        line_number: u32::try_from(line_number?).ok()?,
        description,
        quantity: quantity?,
        unit_price: unit_price?,
        amount: amount?,
        account_code,
        tax_code,
        received_quantity: received_quantity.unwrap_or_default(),
    })
}

fn order(part: OrderPart, lines: Vec<PoLine>) -> Option<PurchaseOrder> {
    Some(PurchaseOrder {
        po_number: part.po_number?,
        supplier_external_id: part.supplier_external_id?,
        currency: part.currency?,
        issue_date: part.issue_date?,
        status: part.status?,
        active: part.active,
        lines,
    })
}

/// The error for a line number used twice in one order, if `line` repeats one.
fn repeated_line(lines: &[PoLine], line: &PoLine) -> Option<String> {
    lines
        .iter()
        .any(|l| l.line_number == line.line_number)
        .then(|| {
            format!(
                "line {} appears twice in this purchase order",
                line.line_number
            )
        })
}

fn too_many_lines() -> String {
    format!(
        "a purchase order holds at most {MAX_LINES} lines; split it or leave out received lines"
    )
}

pub struct PurchaseOrders;

impl MasterKind for PurchaseOrders {
    type Record = PurchaseOrder;
    const IMPORT_TYPE: ImportType = ImportType::PurchaseOrders;
    const NOUN: &'static str = "purchase order";
    const FIELDS: &'static [&'static str] = &CSV_FIELDS;
    const REQUIRED_COLUMNS: &'static [&'static str] = &[
        "poNumber",
        "supplierExternalId",
        "currency",
        "issueDate",
        "status",
        "lineNumber",
        "quantity",
        "unitPrice",
        "amount",
    ];
    const KEY_FIELDS: &'static [&'static str] = &["poNumber"];
    const GROUP_BY: Option<&'static str> = Some("poNumber");
    const PARTITION: &'static str = "PURCHASE_ORDERS";
    const ITEM_PREFIX: &'static str = "PO#";

    /// One CSV row alone: an order of one line.
    fn from_pairs(pairs: &[(&str, RawValue<'_>)]) -> Result<PurchaseOrder, Vec<FieldError>> {
        let mut f = Fields::collect(Self::FIELDS, Self::NOUN, pairs.iter().copied());
        let part = order_part(&mut f);
        let line = line_part(&mut f);
        f.finish(|| order(part, vec![line?]))
    }

    fn from_json(value: &serde_json::Value) -> Result<PurchaseOrder, Vec<FieldError>> {
        const JSON_FIELDS: [&str; 7] = [
            "poNumber",
            "supplierExternalId",
            "currency",
            "issueDate",
            "status",
            "active",
            "lines",
        ];
        let mut f = Fields::collect(&JSON_FIELDS, Self::NOUN, json_object(value, Self::NOUN)?);
        let part = order_part(&mut f);
        let mut errors = Vec::new();
        let mut lines = Vec::new();
        match value.get("lines") {
            Some(serde_json::Value::Array(items)) if !items.is_empty() => {
                if items.len() > MAX_LINES {
                    f.error("lines", too_many_lines());
                }
                for (i, item) in items.iter().enumerate().take(MAX_LINES) {
                    let at = format!("lines[{i}]");
                    let pairs = match json_object(item, "purchase order line") {
                        Ok(pairs) => pairs,
                        Err(mut e) => {
                            e[0].field = at;
                            errors.extend(e);
                            continue;
                        }
                    };
                    let mut lf =
                        Fields::collect(LINE_FIELDS, "purchase order line", pairs).within(&at);
                    let line = line_part(&mut lf);
                    if let Some(line) = line.filter(|_| lf.is_clean()) {
                        match repeated_line(&lines, &line) {
                            Some(message) => lf.error("lineNumber", message),
                            None => lines.push(line),
                        }
                    }
                    errors.extend(lf.into_errors());
                }
            }
            Some(serde_json::Value::Array(_)) | None => f.error(
                "lines",
                "is required: a purchase order has at least one line",
            ),
            Some(_) => f.error("lines", "must be an array of line objects"),
        }
        let mut all = f.into_errors();
        all.extend(errors);
        if all.is_empty() {
            if let Some(order) = order(part, lines) {
                return Ok(order);
            }
        }
        Err(all)
    }

    fn from_rows(rows: &[Row]) -> Result<PurchaseOrder, Vec<(u64, FieldError)>> {
        let Some(first) = rows.first() else {
            return Err(Vec::new());
        };
        let mut errors: Vec<(u64, FieldError)> = Vec::new();
        let first_pairs = first.pairs();
        let mut f = Fields::collect(Self::FIELDS, Self::NOUN, first_pairs.iter().copied());
        let part = order_part(&mut f);
        errors.extend(f.into_errors().into_iter().map(|e| (first.number, e)));
        let mut lines: Vec<PoLine> = Vec::with_capacity(rows.len().min(MAX_LINES));
        for (i, row) in rows.iter().enumerate() {
            if i == MAX_LINES {
                errors.push((row.number, FieldError::new("lineNumber", too_many_lines())));
                break;
            }
            // The order's fields on a later row: empty, or the first row's values.
            for field in ORDER_FIELDS.iter().skip(1) {
                let (Some(here), Some(there)) = (row.cell(field), first.cell(field)) else {
                    if i > 0 && row.cell(field).is_some() {
                        errors.push((row.number, differs(field, first.number)));
                    }
                    continue;
                };
                if i > 0 && !here.eq_ignore_ascii_case(there) {
                    errors.push((row.number, differs(field, first.number)));
                }
            }
            let pairs: Vec<_> = row
                .pairs()
                .into_iter()
                .filter(|(field, _)| LINE_FIELDS.contains(field))
                .collect();
            let mut lf = Fields::collect(LINE_FIELDS, "purchase order line", pairs);
            let line = line_part(&mut lf);
            if let Some(line) = line.filter(|_| lf.is_clean()) {
                match repeated_line(&lines, &line) {
                    Some(message) => lf.error("lineNumber", message),
                    None => lines.push(line),
                }
            }
            errors.extend(lf.into_errors().into_iter().map(|e| (row.number, e)));
        }
        if errors.is_empty() {
            if let Some(order) = order(part, lines) {
                return Ok(order);
            }
        }
        Err(errors)
    }

    fn key_parts(record: &PurchaseOrder) -> Vec<&str> {
        vec![&record.po_number]
    }

    fn is_active(record: &PurchaseOrder) -> bool {
        record.active
    }

    fn deactivate(record: &mut PurchaseOrder) {
        record.active = false;
    }

    fn view(record: &PurchaseOrder) -> serde_json::Value {
        let mut value = serde_json::to_value(record).unwrap_or_default();
        if let Some(lines) = value.get_mut("lines").and_then(|l| l.as_array_mut()) {
            for line in lines {
                *line = super::with_nulls(std::mem::take(line), LINE_FIELDS);
            }
        }
        value
    }

    fn references(record: &PurchaseOrder) -> Vec<Reference> {
        let mut references = vec![Reference {
            field: "supplierExternalId".into(),
            kind: ImportType::SupplierCards,
            key: vec![record.supplier_external_id.clone()],
        }];
        for (i, line) in record.lines.iter().enumerate() {
            if let Some(code) = &line.account_code {
                references.push(Reference {
                    field: format!("lines[{i}].accountCode"),
                    kind: ImportType::GlAccounts,
                    key: vec![code.clone()],
                });
            }
            if let Some(code) = &line.tax_code {
                references.push(Reference {
                    field: format!("lines[{i}].taxCode"),
                    kind: ImportType::TaxCodes,
                    key: vec![code.clone()],
                });
            }
        }
        references
    }
}

fn differs(field: &str, first_row: u64) -> FieldError {
    FieldError::new(
        field,
        format!(
            "differs from data row {first_row}, where this purchase order starts; its later rows \
             leave the order's fields empty or repeat them"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(number: u64, cells: &[(&'static str, &str)]) -> Row {
        Row {
            number,
            cells: cells.iter().map(|(f, v)| (*f, v.to_string())).collect(),
        }
    }

    fn line(n: u32, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut cells: Vec<(&'static str, String)> = vec![
            ("lineNumber", n.to_string()),
            ("quantity", "2".into()),
            ("unitPrice", "10.50".into()),
            ("amount", "21.00".into()),
        ];
        cells.extend(extra.iter().map(|(f, v)| (*f, v.to_string())));
        cells
    }

    #[test]
    fn an_order_in_json_holds_its_lines_and_names_what_it_references() {
        let order = PurchaseOrders::from_json(&json!({
            "poNumber": "PO-1", "supplierExternalId": "S-1", "currency": "eur",
            "issueDate": "2026-11-30", "status": "partly received",
            "lines": [
                {"lineNumber": 1, "quantity": "2", "unitPrice": "10.50", "amount": "21.00",
                 "accountCode": "4000", "taxCode": "S20", "receivedQuantity": "1"},
                {"lineNumber": 2, "description": "Freight", "quantity": "1", "unitPrice": "5",
                 "amount": "5"}
            ]
        }))
        .unwrap();
        assert_eq!(order.currency, "EUR");
        assert_eq!(order.status, PoStatus::PartlyReceived);
        assert_eq!(order.lines[1].received_quantity, Decimal2::ZERO);
        let fields: Vec<_> = PurchaseOrders::references(&order)
            .into_iter()
            .map(|r| r.field)
            .collect();
        assert_eq!(
            fields,
            [
                "supplierExternalId",
                "lines[0].accountCode",
                "lines[0].taxCode"
            ]
        );
    }

    #[test]
    fn each_problem_of_an_order_names_its_line() {
        let errors = PurchaseOrders::from_json(&json!({
            "poNumber": "PO-1", "supplierExternalId": "S-1", "currency": "EUR",
            "issueDate": "30.11.2026", "status": "OPEN",
            "lines": [
                {"lineNumber": 1, "quantity": "-1", "unitPrice": "1", "amount": "1"},
                {"lineNumber": 2, "quantity": "1", "unitPrice": "1", "amount": "1"},
                {"lineNumber": 2, "quantity": "1", "unitPrice": "1", "amount": "1"},
                "text"
            ]
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "issueDate",
                "lines[0].quantity",
                "lines[2].lineNumber",
                "lines[3]"
            ]
        );
        let none = PurchaseOrders::from_json(&json!({
            "poNumber": "PO-1", "supplierExternalId": "S-1", "currency": "EUR",
            "issueDate": "2026-11-30", "status": "OPEN", "lines": []
        }))
        .unwrap_err();
        assert_eq!(none[0].field, "lines");
        let mut many = json!({
            "poNumber": "PO-1", "supplierExternalId": "S-1", "currency": "EUR",
            "issueDate": "2026-11-30", "status": "OPEN", "lines": []
        });
        many["lines"] = (1..=MAX_LINES + 1)
            .map(|n| json!({"lineNumber": n, "quantity": "1", "unitPrice": "1", "amount": "1"}))
            .collect();
        let over = PurchaseOrders::from_json(&many).unwrap_err();
        assert!(over[0].message.contains("at most 200 lines"), "{over:?}");
    }

    #[test]
    fn csv_rows_of_one_order_agree_on_its_fields_or_leave_them_empty() {
        let head: &[(&'static str, &str)] = &[
            ("poNumber", "PO-7"),
            ("supplierExternalId", "S-1"),
            ("currency", "EUR"),
            ("issueDate", "2026-11-30"),
            ("status", "OPEN"),
        ];
        let mut first = row(4, head);
        first.cells.extend(line(1, &[]));
        let mut second = row(5, &[("poNumber", "PO-7"), ("currency", "eur")]);
        second.cells.extend(line(2, &[("description", "Freight")]));
        let order = PurchaseOrders::from_rows(&[first.clone(), second]).unwrap();
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[1].description.as_deref(), Some("Freight"));

        let mut other = row(5, &[("poNumber", "PO-7"), ("supplierExternalId", "S-2")]);
        other.cells.extend(line(1, &[("quantity", "x")]));
        let errors = PurchaseOrders::from_rows(&[first, other]).unwrap_err();
        let found: Vec<_> = errors
            .iter()
            .map(|(row, e)| (*row, e.field.as_str()))
            .collect();
        assert_eq!(found, [(5, "supplierExternalId"), (5, "quantity")]);
    }
}
