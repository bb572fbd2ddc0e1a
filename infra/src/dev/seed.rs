//! `--seed-demo`: two demo companies, each with a client granted only its own company and all
//! four scopes, and a few dozen invoices with real soft copies. Ids are fixed, so seeding twice
//! adds nothing: existing invoices are left as they are, and a demo client gets a new secret.

use chrono::{Duration, TimeZone, Utc};
use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::domain::{
    CompanyId, CurrencyCode, DocumentFormat, DocumentType, InvoiceId, Money, NewInvoice,
    NewLineItem, Supplier, Timestamp, TrackingCategory,
};
use ledgerdock_shared::AppState;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::clients::ClientRegistry;
use crate::dev::samples;
use ledgerdock_shared::features::publish::{Publisher, SoftCopy};

pub struct DemoCompany {
    pub company_id: CompanyId,
    pub name: &'static str,
    pub client_id: &'static str,
    pub invoice_count: u32,
    pub currency: &'static str,
}

pub const DEMO_COMPANIES: [DemoCompany; 2] = [
    DemoCompany {
        company_id: CompanyId::from_u128(0x5b7e4d1a_0c3f_4a8e_9b21_6f0d2c7a9e11),
        name: "Demo Trading Ltd",
        client_id: "demo1trading00000000000000",
        invoice_count: 36,
        currency: "GBP",
    },
    DemoCompany {
        company_id: CompanyId::from_u128(0xc2a9f6e3_7d41_4b5c_8e0f_1a3b5d7c9e22),
        name: "Northwind Supplies GmbH",
        client_id: "demo2northwind000000000000",
        invoice_count: 6,
        currency: "EUR",
    },
];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoCompanyInfo {
    pub company_id: CompanyId,
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub invoice_count: u32,
}

const SUPPLIERS: [(&str, &str); 5] = [
    ("Acme Office Supplies", "GB123456789"),
    ("Brightline Logistics", "GB987654321"),
    ("Cobalt Cloud Services", "IE6388047V"),
    ("Delta Facilities Management", "GB555000111"),
    ("Evergreen Catering", "GB222333444"),
];
const ITEMS: [(&str, &str, &str); 6] = [
    ("Printer paper A4, box of 5 reams", "6100", "20.00"),
    ("Courier delivery", "5200", "12.50"),
    ("Cloud hosting, monthly", "7300", "99.00"),
    ("Office cleaning", "6800", "45.00"),
    ("Catering for team meeting", "6900", "8.75"),
    ("Ergonomic chair", "1500", "189.99"),
];

fn demo_invoice_id(company: &DemoCompany, n: u32) -> InvoiceId {
    InvoiceId::from(Uuid::from_u128(
        (company.company_id.as_uuid().as_u128() & !0xFFFF_FFFF) | u128::from(n),
    ))
}

/// A deterministic invoice with `1..=50` lines whose totals reconcile.
fn demo_invoice(company: &DemoCompany, n: u32) -> NewInvoice {
    let line_count = (n * 7 + 3) % 50 + 1;
    let mut lines = Vec::new();
    for l in 0..line_count {
        let (description, account, price) = ITEMS[((n + l) % ITEMS.len() as u32) as usize];
        let quantity = Decimal::from((l % 4) + 1);
        let unit_price: Decimal = price.parse().unwrap_or_default();
        let amount = (quantity * unit_price).round_dp(2);
        let tax = (amount * Decimal::new(20, 2)).round_dp(2);
        lines.push(NewLineItem {
            line_number: Some(l + 1),
            description: description.to_string(),
            quantity: quantity.to_string().parse().unwrap_or(Money::ZERO),
            unit_price: format!("{unit_price:.2}").parse().unwrap_or(Money::ZERO),
            amount: format!("{amount:.2}").parse().unwrap_or(Money::ZERO),
            tax_code: Some("VAT20".into()),
            tax_amount: format!("{tax:.2}").parse().unwrap_or(Money::ZERO),
            account_code: Some(account.to_string()),
            tracking_categories: if l % 3 == 0 {
                vec![TrackingCategory {
                    name: "Department".into(),
                    option: ["Sales", "Ops", "R&D"][(l % 9 / 3) as usize].into(),
                }]
            } else {
                Vec::new()
            },
        });
    }
    // At most 50 lines of at most 4 × 189.99: the sums cannot overflow.
    let subtotal = Money::checked_sum(lines.iter().map(|l| l.amount)).unwrap_or(Money::ZERO);
    let tax_total = Money::checked_sum(lines.iter().map(|l| l.tax_amount)).unwrap_or(Money::ZERO);
    let (supplier, tax_number) = SUPPLIERS[(n as usize) % SUPPLIERS.len()];
    let received = Utc
        .with_ymd_and_hms(2026, 11, 2, 8, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::minutes(i64::from(n) * 37);
    let issue = received.date_naive() - Duration::days(3);
    NewInvoice {
        invoice_id: Some(demo_invoice_id(company, n)),
        document_type: if n % 11 == 10 {
            DocumentType::CreditNote
        } else {
            DocumentType::Invoice
        },
        invoice_number: format!("INV-{}", 1000 + n),
        purchase_order_number: n.is_multiple_of(2).then(|| format!("PO-{}", 5000 + n)),
        supplier: Supplier {
            supplier_id: Some(format!("sup-{}", (n as usize) % SUPPLIERS.len() + 1)),
            external_id: None,
            name: supplier.to_string(),
            tax_number: Some(tax_number.to_string()),
        },
        issue_date: issue,
        due_date: Some(issue + Duration::days(30)),
        received_at: Some(Timestamp::from(received)),
        currency: CurrencyCode::try_from(company.currency.to_string())
            .unwrap_or_else(|_| unreachable!()),
        subtotal,
        tax_total,
        total: subtotal.checked_add(tax_total).unwrap_or(Money::ZERO),
        line_items: lines,
    }
}

fn soft_copies(invoice: &NewInvoice, n: u32) -> Vec<SoftCopy> {
    let mut text = vec![
        format!("INVOICE {}", invoice.invoice_number),
        format!("From: {}", invoice.supplier.name),
        format!(
            "Issued: {}   Due: {}",
            invoice.issue_date,
            invoice.due_date.map(|d| d.to_string()).unwrap_or_default()
        ),
        String::new(),
    ];
    for line in invoice.line_items.iter().take(40) {
        text.push(format!(
            "{} x {} @ {} = {}",
            line.quantity, line.description, line.unit_price, line.amount
        ));
    }
    text.push(String::new());
    text.push(format!(
        "Subtotal {}  Tax {}  Total {} {}",
        invoice.subtotal,
        invoice.tax_total,
        invoice.total,
        invoice.currency.as_str()
    ));
    let base = invoice.invoice_number.clone();
    let mut files = vec![SoftCopy::Upload {
        file_name: format!("{base}.pdf"),
        bytes: samples::pdf(&text),
    }];
    for (format, every) in [
        (DocumentFormat::Png, 3),
        (DocumentFormat::Jpeg, 4),
        (DocumentFormat::Tiff, 5),
    ] {
        if n % every == 1 {
            if let Some(bytes) = samples::image(format) {
                files.push(SoftCopy::Upload {
                    file_name: format!("{base}-scan.{}", format.extension()),
                    bytes: bytes.to_vec(),
                });
            }
        }
    }
    files
}

/// A fresh invoice like the demo's (number `TRG-<n>`, received now, a new id) with its soft
/// copies: what `ledgerdock trigger` publishes.
pub fn sample_invoice(n: u32) -> (NewInvoice, Vec<SoftCopy>) {
    let mut invoice = demo_invoice(&DEMO_COMPANIES[0], n);
    invoice.invoice_id = None;
    invoice.invoice_number = format!("TRG-{n}");
    invoice.received_at = Some(Timestamp::now());
    let files = soft_copies(&invoice, n);
    (invoice, files)
}

/// Seeds both demo companies; `progress` receives one line per step.
pub async fn seed_demo(
    app: &AppState,
    clients: &ClientRegistry,
    progress: &(dyn Fn(String) + Send + Sync),
) -> anyhow::Result<Vec<DemoCompanyInfo>> {
    let mut out = Vec::new();
    for company in &DEMO_COMPANIES {
        let secret = clients
            .create_with_id(
                company.client_id,
                &format!("{} demo connector", company.name),
                &Scope::ALL,
            )
            .await?;
        app.grants
            .put(company.client_id, company.company_id, &Scope::ALL)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut created = 0u32;
        for n in 1..=company.invoice_count {
            let id = demo_invoice_id(company, n);
            if app
                .invoices
                .header(company.company_id, id)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
                .is_some()
            {
                continue;
            }
            // Built only for invoices not seeded yet: a reseed renders no PDFs.
            let invoice = demo_invoice(company, n);
            let files = soft_copies(&invoice, n);
            Publisher::from(app)
                .publish(company.company_id, invoice, files)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            created += 1;
            if created.is_multiple_of(10) || n == company.invoice_count {
                progress(format!(
                    "  {}: {n}/{} invoices",
                    company.name, company.invoice_count
                ));
            }
        }
        if created == 0 {
            progress(format!(
                "  {}: {} invoices already seeded",
                company.name, company.invoice_count
            ));
        }
        out.push(DemoCompanyInfo {
            company_id: company.company_id,
            name: company.name.to_string(),
            client_id: company.client_id.to_string(),
            client_secret: secret,
            invoice_count: company.invoice_count,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_invoices_reconcile_and_have_pdfs() {
        for company in &DEMO_COMPANIES {
            for n in 1..=company.invoice_count {
                let invoice = demo_invoice(company, n);
                invoice
                    .validate()
                    .unwrap_or_else(|e| panic!("invoice {n}: {e:?}"));
                assert!((1..=50).contains(&invoice.line_items.len()));
                let files = soft_copies(&invoice, n);
                let SoftCopy::Upload { bytes, .. } = &files[0] else {
                    panic!("invoice {n}: the demo uploads its soft copies");
                };
                assert_eq!(DocumentFormat::sniff(bytes), Some(DocumentFormat::Pdf));
            }
        }
    }
}
