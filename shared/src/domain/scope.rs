//! The OAuth2 scopes that guard the API. A token carries them as `ledgerdock/<name>`; a grant
//! stores the short name.

/// The Cognito resource server whose scopes guard the API.
pub const RESOURCE_SERVER: &str = "ledgerdock";
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    InvoicesRead,
    InvoicesWrite,
    ImportsRead,
    ImportsWrite,
    /// Manage the client's own webhook subscriptions (and read their delivery logs).
    WebhooksManage,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Self::InvoicesRead,
        Self::InvoicesWrite,
        Self::ImportsRead,
        Self::ImportsWrite,
        Self::WebhooksManage,
    ];

    /// The scope's short name as grants store it: `invoices.read`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InvoicesRead => "invoices.read",
            Self::InvoicesWrite => "invoices.write",
            Self::ImportsRead => "imports.read",
            Self::ImportsWrite => "imports.write",
            Self::WebhooksManage => "webhooks.manage",
        }
    }

    /// The full OAuth2 scope as tokens carry it: `ledgerdock/invoices.read`.
    pub fn oauth_name(&self) -> String {
        format!("{RESOURCE_SERVER}/{}", self.name())
    }

    /// Parses either form.
    pub fn parse(s: &str) -> Option<Self> {
        let short = s.strip_prefix("ledgerdock/").unwrap_or(s);
        Self::ALL.into_iter().find(|scope| scope.name() == short)
    }
}
