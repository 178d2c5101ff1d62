//! Value parsers of the command line: each refuses nonsense with a message naming the value.

use std::time::Duration;

/// Longest duration any flag accepts (a day), so that conversions can never overflow.
const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// A count that must be at least 1.
pub fn positive(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("`{raw}` is not a whole number of at least 1")),
        Ok(value) => Ok(value),
    }
}

/// A probability between 0 and 1.
pub fn probability(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("`{raw}` is not a probability between 0 and 1")),
    }
}

/// A share from 0 up to, not including, 1.
pub fn ratio(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(ratio) if (0.0..1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "`{raw}` is not a ratio from 0 up to (not including) 1"
        )),
    }
}

/// A positive, finite number of events per second.
pub fn rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{raw}` is not a positive number of events per second"
        )),
    }
}

/// A duration up to a day: a number of seconds (`90`, `2.5`) or with units (`90s`, `2m`,
/// `1h 30m`, `250ms`).
pub fn duration(raw: &str) -> Result<Duration, String> {
    let trimmed = raw.trim();
    let parsed = match trimmed.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::try_from_secs_f64(seconds).map_err(|err| err.to_string())
        }
        Ok(_) => Err("negative or not finite".to_string()),
        Err(_) => humantime::parse_duration(trimmed).map_err(|err| err.to_string()),
    };
    match parsed {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        Ok(_) => Err(format!("`{raw}` is longer than a day")),
        Err(reason) => Err(format!(
            "`{raw}` is not a duration such as 30, 90s, 2m or 1h ({reason})"
        )),
    }
}

/// A [`duration`] longer than zero (a period, which zero would turn into a busy loop).
pub fn period(raw: &str) -> Result<Duration, String> {
    match duration(raw)? {
        Duration::ZERO => Err(format!("`{raw}` must be longer than zero")),
        period => Ok(period),
    }
}

/// A path, where an empty value is accepted (and later read as "none"): clap's own path parser
/// refuses an empty value, so an image's `AGG_KEYS_FILE` could not be turned off with `AGG_KEYS_FILE=`.
pub fn path_or_empty(raw: &str) -> Result<std::path::PathBuf, String> {
    Ok(std::path::PathBuf::from(raw))
}

/// A topic, as an event's topic must be (not blank, no control or invisible characters).
pub fn topic(raw: &str) -> Result<String, String> {
    crate::event::parse_key_part(raw.to_owned()).map_err(|err| format!("a topic {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_bare_seconds_and_units() {
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["-1", "nan", "inf", "2 fortnights", "2d", ""] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_ratios_and_rates_refuse_nonsense() {
        assert_eq!(positive("3"), Ok(3));
        assert!(positive("0").is_err());
        assert!(probability("1.5").is_err());
        assert_eq!(probability("1"), Ok(1.0));
        assert!(ratio("1").is_err());
        assert!(rate("0").is_err());
        assert!(rate("inf").is_err());
    }
}
