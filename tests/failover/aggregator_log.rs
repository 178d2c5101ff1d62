//! A digest of the aggregator's log for the printed figures: it runs with `RUST_LOG=warn`, so
//! what it complained about during the fault, and for how long, is the story of the failover
//! as the aggregator saw it.

use std::path::Path;

/// The time span of the log's lines, and each kind of message (level and text before the
/// first `key=value` field) with its count, most frequent first.
pub fn digest(log: &Path) -> String {
    let content = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<String> = content
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(strip_colours)
        .collect();
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for line in &lines {
        let mut words = line.split_whitespace().skip(1);
        let level = words.next().unwrap_or_default();
        let text: Vec<&str> = words.take_while(|word| !word.contains('=')).collect();
        let kind = format!("{level} {}", text.join(" "));
        match kinds.iter_mut().find(|(seen, _)| *seen == kind) {
            Some((_, count)) => *count += 1,
            None => kinds.push((kind, 1)),
        }
    }
    kinds.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let time = |line: Option<&String>| {
        line.and_then(|line| line.split_whitespace().next())
            .unwrap_or("-")
            .to_string()
    };
    let mut excerpt = format!(
        "{} lines, from {} to {}",
        lines.len(),
        time(lines.first()),
        time(lines.last())
    );
    for (kind, count) in kinds {
        excerpt.push_str(&format!("\n    {count:>5} x {kind}"));
    }
    excerpt
}

/// `line` without its ANSI colour sequences (`ESC [ ... m`).
fn strip_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
