//! The schedules template.yaml gives its scheduled functions (the import-job sweep, the webhook
//! sweep), read from the template, so the dev stack runs each as often as AWS will.

use std::time::Duration;

use serde_yaml::Value;

/// The template's functions, parsed once, to read their schedules from.
pub struct Schedules(Value);

impl Schedules {
    pub fn read(template: &str) -> Result<Self, String> {
        serde_yaml::from_str(template)
            .map(Self)
            .map_err(|e| e.to_string())
    }

    /// The period of the `Schedule` event of the function building `binary`: `rate(1 minute)`,
    /// `rate(5 minutes)`, `rate(2 hours)`, `rate(1 day)`. A cron expression or any other form
    /// is refused, so the dev stack never guesses.
    pub fn rate_of(&self, binary: &str) -> Result<Duration, String> {
        let function = self.0["Resources"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
            .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
            .ok_or_else(|| format!("no function builds {binary}"))?;
        let schedule = function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
            .find(|e| e["Type"].as_str() == Some("Schedule"))
            .and_then(|e| e["Properties"]["Schedule"].as_str())
            .ok_or_else(|| format!("{binary} has no Schedule event"))?;
        parse_rate(schedule).ok_or_else(|| {
            format!("{binary}: {schedule:?} is not a rate(...) the dev stack understands")
        })
    }
}

fn parse_rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.parse().ok().filter(|v| *v > 0)?;
    // EventBridge wants the singular for 1 and the plural otherwise.
    let seconds = match (unit, value) {
        ("minute", 1) | ("minutes", 2..) => 60,
        ("hour", 1) | ("hours", 2..) => 3600,
        ("day", 1) | ("days", 2..) => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(value * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_eventbridge_writes_them_and_nothing_else() {
        assert_eq!(parse_rate("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(
            parse_rate("rate(5 minutes)"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_rate("rate(2 hours)"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_rate("rate(1 day)"), Some(Duration::from_secs(86_400)));
        for refused in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "cron(0 * * * ? *)",
            "rate(1 second)",
        ] {
            assert_eq!(parse_rate(refused), None, "{refused}");
        }
        let schedules = Schedules::read(super::super::stream_filter::TEMPLATE).unwrap();
        assert_eq!(
            schedules.rate_of("dispatch-webhooks"),
            Ok(Duration::from_secs(60))
        );
        assert!(schedules.rate_of("get-invoice").is_err());
    }
}
