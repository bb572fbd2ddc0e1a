//! What a webhook subscription is made of, parsed once: the events it wants and the URL they
//! go to. A URL that could reach inside the network it is delivered from (a loopback, private,
//! link-local or metadata address) is refused, unless the policy is the dev stack's, which
//! delivers to a receiver on the same machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::Scope;
use crate::foundation::error::FieldError;

/// The events a subscription may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// Published or republished into the export queue.
    #[serde(rename = "invoice.ready_for_export")]
    InvoiceReadyForExport,
    #[serde(rename = "invoice.exported")]
    InvoiceExported,
    #[serde(rename = "invoice.rejected")]
    InvoiceRejected,
    #[serde(rename = "import_job.finished")]
    ImportJobFinished,
    #[serde(rename = "import_job.failed")]
    ImportJobFailed,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        Self::InvoiceReadyForExport,
        Self::InvoiceExported,
        Self::InvoiceRejected,
        Self::ImportJobFinished,
        Self::ImportJobFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvoiceReadyForExport => "invoice.ready_for_export",
            Self::InvoiceExported => "invoice.exported",
            Self::InvoiceRejected => "invoice.rejected",
            Self::ImportJobFinished => "import_job.finished",
            Self::ImportJobFailed => "import_job.failed",
        }
    }

    /// The scope a client needs to be told of this event: the scope that reads what it is
    /// about. A subscription is a way of reading, so it never tells more than a GET would.
    pub fn read_scope(self) -> Scope {
        match self {
            Self::InvoiceReadyForExport | Self::InvoiceExported | Self::InvoiceRejected => {
                Scope::InvoicesRead
            }
            Self::ImportJobFinished | Self::ImportJobFailed => Scope::ImportsRead,
        }
    }

    /// The first of `events` whose [`read_scope`](Self::read_scope) is not among `granted`,
    /// with that scope.
    pub fn first_unreadable(events: &[EventType], granted: &[Scope]) -> Option<(EventType, Scope)> {
        events
            .iter()
            .map(|e| (*e, e.read_scope()))
            .find(|(_, scope)| !granted.contains(scope))
    }

    /// The events of `raw` (as a subscription names them): 1 to 5 known names, each once.
    pub fn parse_list(field: &str, raw: &[String]) -> Result<Vec<EventType>, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::new(field, "must name at least one event"));
        }
        let mut events = Vec::with_capacity(raw.len());
        for (n, name) in raw.iter().enumerate() {
            let event = Self::ALL
                .into_iter()
                .find(|e| e.as_str() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|e| e.as_str()).collect();
                    FieldError::new(
                        format!("{field}[{n}]"),
                        format!("must be one of {}", known.join(", ")),
                    )
                })?;
            if events.contains(&event) {
                return Err(FieldError::new(
                    format!("{field}[{n}]"),
                    format!("{name} is named twice"),
                ));
            }
            events.push(event);
        }
        events.sort();
        Ok(events)
    }
}

/// Where a webhook URL may point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    /// In AWS: HTTPS to a host on the public internet only.
    Public,
    /// The dev stack: also plain HTTP, and the loopback addresses a local receiver listens on.
    AllowLoopback,
}

impl UrlPolicy {
    /// Whether a delivery may connect to `ip`: a public address, or under the dev stack's
    /// policy also a loopback one. The one rule for an address in a URL and for every address
    /// a host name resolves to.
    pub fn may_reach(self, ip: IpAddr) -> bool {
        is_public(ip) || (self == Self::AllowLoopback && ip.is_loopback())
    }
}

/// Longest webhook URL accepted, as stored and sent: normalised, with every character
/// outside ASCII percent-encoded (an `é` in a path counts 6).
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// Longest URL text read at all; anything longer could not normalise to within
/// [`MAX_WEBHOOK_URL_CHARS`] (normalising removes at most a default port, dot segments and
/// case), and parsing it would be work for nothing.
const MAX_RAW_URL_BYTES: usize = 4 * MAX_WEBHOOK_URL_CHARS;

/// A subscription's URL: absolute, `https` (or, under [`UrlPolicy::AllowLoopback`], `http`),
/// no user name or password, no fragment, and a host that is a public name or address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String")]
pub struct WebhookUrl(String);

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> String {
        url.0
    }
}

impl WebhookUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses `raw` for the `field` it came in, under `policy`.
    pub fn parse(field: &str, raw: &str, policy: UrlPolicy) -> Result<Self, FieldError> {
        let refuse = |why: &str| Err(FieldError::new(field, why.to_string()));
        let too_long = "must be at most 2048 characters once normalised \
                        (a character outside ASCII counts as its percent-encoding, é as 6)";
        if raw.len() > MAX_RAW_URL_BYTES {
            return refuse(too_long);
        }
        let Ok(url) = url::Url::parse(raw) else {
            return refuse("must be an absolute URL");
        };
        // The limit is on what is stored and sent, which normalising may have lengthened.
        if url.as_str().len() > MAX_WEBHOOK_URL_CHARS {
            return refuse(too_long);
        }
        let loopback_allowed = policy == UrlPolicy::AllowLoopback;
        match url.scheme() {
            "https" => {}
            "http" if loopback_allowed => {}
            _ => return refuse("must be an https:// URL"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("must not carry a user name or password");
        }
        if url.fragment().is_some() {
            return refuse("must not have a #fragment");
        }
        let address = match url.host() {
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let internal = name == "localhost"
                    || name.ends_with(".localhost")
                    || name.ends_with(".internal")
                    || name.ends_with(".local")
                    || !name.contains('.');
                if internal && !(loopback_allowed && name == "localhost") {
                    return refuse("must name a host on the public internet");
                }
                // A name's addresses are checked where it resolves, at every delivery.
                None
            }
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            None => return refuse("must name a host"),
        };
        if address.is_some_and(|ip| !policy.may_reach(ip)) {
            return refuse("must not point at a private, loopback, link-local or reserved address");
        }
        Ok(Self(url.into()))
    }
}

/// Whether a delivery may connect to `ip`: an address that IANA's special-purpose registries
/// do not set apart (loopback, private, shared/CGNAT, link-local with the instance metadata
/// service, documentation, benchmarking, reserved, multicast, ...). Checked on the URL's host
/// when subscribing and again on every address a host name resolves to when delivering, so
/// that a name re-pointed inside the network is refused then too.
///
/// An IPv6 address that carries an IPv4 address to be reached through (mapped, SIIT-translated,
/// NAT64 well-known prefix, 6to4) is judged by that IPv4 address; any other IPv6 address must be
/// global unicast (`2000::/3`) outside the ranges set apart there. Everything else is refused,
/// IPv4-compatible (`::a.b.c.d`), NAT64 local-use, discard-only, site-local and unique-local
/// among it: an allow-list, so a range nobody thought of is refused rather than reached.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 form delivers to, where it carries one.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = v6.segments();
    let o = v6.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match seg {
        // IPv4-mapped ::ffff:0:0/96.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // SIIT IPv4-translated ::ffff:0:0:0/96.
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // NAT64 well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // 6to4 2002::/16: the relay delivers to the IPv4 address in bits 16..48.
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let [first, second, ..] = v6.segments();
    let set_apart = match first {
        // 2001::/23 IETF protocol assignments (Teredo 2001::/32 among them), 2001:db8::/32
        // documentation.
        0x2001 => second < 0x0200 || second == 0x0db8,
        // 3fff::/20 documentation.
        0x3fff => second < 0x1000,
        // 5f00::/16 SRv6 segment identifiers.
        0x5f00 => true,
        _ => false,
    };
    let global_unicast = first & 0xe000 == 0x2000;
    global_unicast && !set_apart
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, the metadata service
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // deprecated 6to4 relay anycast
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}

/// Most subscriptions one client may hold for one company: each event is delivered to every
/// matching one, so this bounds the work a single state change can cause.
pub const MAX_SUBSCRIPTIONS: u64 = 10;
/// Longest description a subscription may carry.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// A webhook subscription as stored and shown (its signing secrets are kept apart, and shown
/// only once, when made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: super::SubscriptionId,
    pub company_id: super::CompanyId,
    /// The machine client that made it: only that client sees and manages it.
    pub client_id: String,
    pub url: WebhookUrl,
    pub events: Vec<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: super::Timestamp,
    pub updated_at: super::Timestamp,
    /// Since when every delivery has failed (cleared by a success); after three days of it the
    /// subscription is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<super::Timestamp>,
    /// Why the platform disabled it, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

impl Subscription {
    /// Whether `event` goes to this subscription.
    pub fn wants(&self, event: EventType) -> bool {
        self.enabled && self.events.contains(&event)
    }

    /// Why its client may no longer be told of its events, given the scopes the client's grant
    /// for the company holds now (`None`: no grant at all); `None` while it may. A subscription
    /// lives as long as the access it was made with, and no longer.
    pub fn access_lost(&self, granted: Option<&[Scope]>) -> Option<String> {
        let Some(granted) = granted else {
            return Some(format!(
                "client {} no longer holds a grant for company {}",
                self.client_id, self.company_id
            ));
        };
        EventType::first_unreadable(&self.events, granted).map(|(event, scope)| {
            format!(
                "client {}'s grant for company {} no longer includes {}, which {} needs",
                self.client_id,
                self.company_id,
                scope.name(),
                event.as_str()
            )
        })
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Not yet acknowledged; `nextAttemptAt` says when it is tried again.
    Pending,
    /// A 2xx answered it.
    Delivered,
    /// Given up on: three days of failed attempts, or its subscription was disabled or deleted.
    Failed,
}

/// The delivery log's record of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at: super::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// Most attempt records a delivery keeps (the latest ones): about three days of retries.
pub const MAX_ATTEMPT_RECORDS: usize = 40;

/// One event on its way to one subscription, with its log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub subscription_id: super::SubscriptionId,
    pub company_id: super::CompanyId,
    /// Also the `webhook-id` of every attempt.
    pub event_id: String,
    pub event_type: String,
    pub event_at: super::Timestamp,
    /// The exact body every attempt sends.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<super::Timestamp>,
}

/// The body of `POST /v1/webhook-subscriptions`, as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSubscriptionRequest {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A subscription to be made, every field checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    pub url: WebhookUrl,
    pub events: Vec<EventType>,
    pub description: Option<String>,
}

impl NewSubscriptionRequest {
    /// Checks every field, and reports every bad one at once.
    pub fn parse(self, policy: UrlPolicy) -> Result<NewSubscription, Vec<FieldError>> {
        let url = WebhookUrl::parse("url", &self.url, policy);
        let events = EventType::parse_list("events", &self.events);
        let description = parse_description(self.description);
        match (url, events, description) {
            (Ok(url), Ok(events), Ok(description)) => Ok(NewSubscription {
                url,
                events,
                description,
            }),
            (url, events, description) => Err([url.err(), events.err(), description.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

fn parse_description(raw: Option<String>) -> Result<Option<String>, FieldError> {
    match raw {
        None => Ok(None),
        Some(text) => {
            super::text::check(
                "description",
                &text,
                MAX_DESCRIPTION_CHARS,
                super::text::Lines::Single,
            )?;
            Ok(Some(text))
        }
    }
}

/// The body of `PATCH /v1/webhook-subscriptions/{id}`: only the fields sent change.
/// `description: null` removes the description.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionPatchRequest {
    #[serde(default, deserialize_with = "not_null")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub enabled: Option<bool>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A field that may be left out but, when sent, may not be `null` (there is no "no URL").
fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A checked change to a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionPatch {
    pub url: Option<WebhookUrl>,
    pub events: Option<Vec<EventType>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

impl SubscriptionPatchRequest {
    /// Checks every field sent; a patch that changes nothing is refused, naming the fields.
    pub fn parse(self, policy: UrlPolicy) -> Result<SubscriptionPatch, Vec<FieldError>> {
        if self.url.is_none()
            && self.events.is_none()
            && self.description.is_none()
            && self.enabled.is_none()
        {
            return Err(vec![FieldError::new(
                "body",
                "send at least one of url, events, description, enabled",
            )]);
        }
        let url = self
            .url
            .map(|raw| WebhookUrl::parse("url", &raw, policy))
            .transpose();
        let events = self
            .events
            .map(|raw| EventType::parse_list("events", &raw))
            .transpose();
        let description = match self.description {
            None => Ok(None),
            Some(raw) => parse_description(raw).map(Some),
        };
        match (url, events, description) {
            (Ok(url), Ok(events), Ok(description)) => Ok(SubscriptionPatch {
                url,
                events,
                description,
                enabled: self.enabled,
            }),
            (url, events, description) => Err([url.err(), events.err(), description.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

impl SubscriptionPatch {
    /// `subscription` with this patch applied at `now`. Enabling one the platform disabled
    /// starts it afresh: its failure history is cleared, so it gets three full days again.
    pub fn apply(self, mut subscription: Subscription, now: super::Timestamp) -> Subscription {
        if let Some(url) = self.url {
            subscription.url = url;
        }
        if let Some(events) = self.events {
            subscription.events = events;
        }
        if let Some(description) = self.description {
            subscription.description = description;
        }
        if let Some(enabled) = self.enabled {
            if enabled && !subscription.enabled {
                subscription.failing_since = None;
                subscription.disabled_reason = None;
            }
            subscription.enabled = enabled;
        }
        subscription.updated_at = now;
        subscription
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> WebhookUrl {
        WebhookUrl::parse("url", raw, UrlPolicy::Public).unwrap()
    }

    #[test]
    fn a_new_subscription_reports_every_bad_field_at_once() {
        let request: NewSubscriptionRequest = serde_json::from_value(serde_json::json!({
            "url": "http://10.0.0.5/hook",
            "events": ["invoice.paid"],
            "description": "line\u{7}bell",
        }))
        .unwrap();
        let fields: Vec<String> = request
            .parse(UrlPolicy::Public)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["url", "events[0]", "description"]);
        let unknown = serde_json::from_value::<NewSubscriptionRequest>(
            serde_json::json!({"url": "https://a.example.com", "events": [], "secret": "x"}),
        );
        assert!(unknown.unwrap_err().to_string().contains("secret"));
    }

    #[test]
    fn a_patch_changes_only_what_it_sends_and_re_enabling_forgets_past_failures() {
        let now = crate::domain::Timestamp::now();
        let before = Subscription {
            id: crate::domain::SubscriptionId::new_random(),
            company_id: crate::domain::CompanyId::new_random(),
            client_id: "c1".into(),
            url: url("https://erp.example.com/a"),
            events: vec![EventType::InvoiceExported],
            description: Some("ERP".into()),
            enabled: false,
            created_at: now,
            updated_at: now,
            failing_since: Some(now),
            disabled_reason: Some("every delivery failed for 3 days".into()),
        };
        let patch: SubscriptionPatchRequest =
            serde_json::from_value(serde_json::json!({"enabled": true, "description": null}))
                .unwrap();
        let after = patch
            .parse(UrlPolicy::Public)
            .unwrap()
            .apply(before.clone(), now);
        assert!(after.enabled);
        assert_eq!(after.description, None);
        assert_eq!(after.failing_since, None);
        assert_eq!(after.disabled_reason, None);
        assert_eq!((after.url, after.events), (before.url, before.events));

        let empty: SubscriptionPatchRequest =
            serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(empty.parse(UrlPolicy::Public).is_err());
        let kept: SubscriptionPatchRequest =
            serde_json::from_value(serde_json::json!({"enabled": false})).unwrap();
        assert_eq!(kept.description, None, "a field left out is not a null");
        for field in ["url", "events", "enabled"] {
            let null = serde_json::from_value::<SubscriptionPatchRequest>(
                serde_json::json!({ field: null }),
            );
            assert!(null.is_err(), "{field}: null is refused, not ignored");
        }
    }

    #[test]
    fn a_subscription_names_known_events_each_once() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            EventType::parse_list("events", &names(&["invoice.exported", "import_job.failed"]))
                .unwrap(),
            [EventType::InvoiceExported, EventType::ImportJobFailed]
        );
        for (bad, field) in [
            (names(&[]), "events"),
            (names(&["invoice.exported", "invoice.paid"]), "events[1]"),
            (
                names(&["invoice.exported", "invoice.exported"]),
                "events[1]",
            ),
        ] {
            assert_eq!(
                EventType::parse_list("events", &bad).unwrap_err().field,
                field
            );
        }
    }

    #[test]
    fn in_aws_a_webhook_url_is_https_to_a_public_host() {
        for good in [
            "https://erp.example.com/hooks/ledgerdock",
            "https://erp.example.com:8443/h?tenant=1",
            "https://93.184.215.14/h",
            "https://[2606:4700::6810:84e5]/h",
        ] {
            assert!(
                WebhookUrl::parse("url", good, UrlPolicy::Public).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "http://erp.example.com/h",
            "ftp://erp.example.com/h",
            "https://user:pw@erp.example.com/h",
            "https://erp.example.com/h#x",
            "https://localhost/h",
            "https://intranet/h",
            "https://db.internal/h",
            "https://127.0.0.1/h",
            "https://10.1.2.3/h",
            "https://172.20.0.1/h",
            "https://192.168.1.1/h",
            "https://169.254.169.254/latest/meta-data",
            "https://100.100.1.1/h",
            "https://0.0.0.0/h",
            "https://[::1]/h",
            "https://[fe80::1]/h",
            "https://[fd00:ec2::254]/h",
            "https://[::ffff:10.0.0.1]/h",
            "https://[64:ff9b::a9fe:a9fe]/h",
            "https://[::127.0.0.1]/h",
            "https://0x7f.1/h",
            "/relative",
        ] {
            assert!(
                WebhookUrl::parse("url", bad, UrlPolicy::Public).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn no_special_purpose_address_is_reachable_in_any_form_that_carries_it() {
        let refused = [
            // IPv4: IANA's special-purpose registry, and multicast.
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6: loopback, unspecified, and the ranges set apart.
            "::1",
            "::",
            "100::1",
            "100:0:0:1::1",
            "2001::1",
            "2001:1::1",
            "2001:2::1",
            "2001:10::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1::808:808",
            // IPv6 forms that carry a refused IPv4 address.
            "::127.0.0.1",                          // IPv4-compatible
            "::8.8.8.8",                            // IPv4-compatible: deprecated, never routed
            "::ffff:127.0.0.1",                     // IPv4-mapped
            "::ffff:0:a9fe:a9fe",                   // SIIT: 169.254.169.254
            "64:ff9b::a9fe:a9fe",                   // NAT64 well-known prefix: 169.254.169.254
            "64:ff9b::a00:1",                       // NAT64: 10.0.0.1
            "2002:7f00:1::1",                       // 6to4: 127.0.0.1
            "2002:a9fe:a9fe::1",                    // 6to4: 169.254.169.254
            "2002:c0a8:101::",                      // 6to4: 192.168.1.1
            "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
            "2001:0:0:0:0:0:7f00:1",                // Teredo, server 0.0.0.0
        ];
        for raw in refused {
            let ip: IpAddr = raw.parse().unwrap();
            assert!(!is_public(ip), "{raw} must be refused");
            assert!(
                !UrlPolicy::Public.may_reach(ip),
                "{raw} must be refused in AWS"
            );
        }
        let public = [
            "8.8.8.8",
            "93.184.215.14",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "2606:4700::6810:84e5",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for raw in public {
            let ip: IpAddr = raw.parse().unwrap();
            assert!(is_public(ip), "{raw} is public");
        }
        // The dev stack's loopback receiver, and only loopback, besides.
        assert!(UrlPolicy::AllowLoopback.may_reach("127.0.0.1".parse().unwrap()));
        assert!(UrlPolicy::AllowLoopback.may_reach("::1".parse().unwrap()));
        assert!(!UrlPolicy::AllowLoopback.may_reach("::127.0.0.1".parse().unwrap()));
        assert!(!UrlPolicy::AllowLoopback.may_reach("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn the_length_limit_is_on_the_url_as_stored_after_normalising() {
        let url_of = |path: &str| format!("https://erp.example.com/{path}");
        let room = MAX_WEBHOOK_URL_CHARS - url_of("").len();
        // Exactly at the limit, in ASCII: accepted, and stored as sent.
        let at_limit = url_of(&"a".repeat(room));
        assert_eq!(
            WebhookUrl::parse("url", &at_limit, UrlPolicy::Public)
                .unwrap()
                .as_str(),
            at_limit
        );
        assert!(
            WebhookUrl::parse("url", &url_of(&"a".repeat(room + 1)), UrlPolicy::Public).is_err()
        );
        // 2,026 'é's are 2,050 characters as sent but 12,180 as stored: refused, naming url.
        let accented = url_of(&"é".repeat(2026));
        let refused = WebhookUrl::parse("url", &accented, UrlPolicy::Public).unwrap_err();
        assert_eq!(refused.field, "url");
        assert!(
            refused.message.contains("normalised"),
            "{}",
            refused.message
        );
        // A few that fit once encoded are accepted, and stored encoded within the limit.
        let fits = url_of(&"é".repeat(room / 6));
        let stored = WebhookUrl::parse("url", &fits, UrlPolicy::Public).unwrap();
        assert!(stored.as_str().len() <= MAX_WEBHOOK_URL_CHARS);
        assert!(stored.as_str().contains("%C3%A9"));
        // Normalising may also shorten: a default port and dot segments are not counted.
        let long_raw = format!("https://erp.example.com:443/./{}", "a".repeat(room));
        assert!(long_raw.len() > MAX_WEBHOOK_URL_CHARS);
        assert!(WebhookUrl::parse("url", &long_raw, UrlPolicy::Public).is_ok());
    }

    #[test]
    fn the_dev_stack_also_delivers_to_a_receiver_on_the_same_machine() {
        for good in [
            "http://127.0.0.1:8123/hook",
            "http://localhost:9000/",
            "http://[::1]:80/",
        ] {
            assert!(
                WebhookUrl::parse("url", good, UrlPolicy::AllowLoopback).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "ftp://127.0.0.1/",
        ] {
            assert!(
                WebhookUrl::parse("url", bad, UrlPolicy::AllowLoopback).is_err(),
                "{bad}"
            );
        }
    }
}
