//! The few statistics the benches report, computed one way for all of them.

/// Sorts timings (milliseconds) for `percentile`.
pub fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values
}

/// The `p` percentile (0.5 for the median) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The median, the mean of the middle two when their number is even.
pub fn median(values: &[f64]) -> f64 {
    let sorted = self::sorted(values.to_vec());
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// How long any of `spans` was open: overlapping spans count once.
pub fn union_length(
    mut spans: Vec<(std::time::Instant, std::time::Instant)>,
) -> std::time::Duration {
    spans.sort();
    let mut total = std::time::Duration::ZERO;
    let mut current: Option<(std::time::Instant, std::time::Instant)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// Prints a bench's result and writes it as JSON to `out`, a path relative to the workspace
/// (as bench/run names it; cargo runs a bench in its package's folder).
pub fn write_result(out: &std::path::Path, result: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(result).unwrap());
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(out);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&out, serde_json::to_vec_pretty(result).unwrap()).unwrap();
}
