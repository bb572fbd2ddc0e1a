//! Where a client stands in its rate-limit window, and how the API tells it (headers on every
//! answer after the token, and a 429 when over). Counted by `store::clients`.

/// Where a client stands in the current one-minute window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    /// Requests in this window, this one included.
    pub used: u64,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

impl RateStatus {
    pub fn exceeded(&self) -> bool {
        self.used > u64::from(self.limit)
    }

    pub fn remaining(&self) -> u64 {
        u64::from(self.limit).saturating_sub(self.used)
    }

    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds).
    pub fn headers(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(self.limit)),
            ("x-ratelimit-remaining", self.remaining()),
            ("x-ratelimit-reset", self.reset_secs),
        ] {
            headers.insert(name, http::HeaderValue::from(value));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_down_and_flags_the_excess() {
        let status = RateStatus {
            limit: 3,
            used: 3,
            reset_secs: 10,
        };
        assert_eq!(status.remaining(), 0);
        assert!(!status.exceeded());
        let over = RateStatus { used: 4, ..status };
        assert!(over.exceeded());
        assert_eq!(over.headers()["x-ratelimit-remaining"], "0");
        assert_eq!(over.headers()["x-ratelimit-limit"], "3");
    }
}
