//! What both stores' lowering of a search query (`postgres/search.rs`, `embedded/search.rs`)
//! shares: the boolean structure and the shape of a range, written once. Only the leaves
//! (how each store reads words, fields and JSON) differ.

use crate::query::{Bound, Query, Range, RangeValue};

/// `(child) AND (child) …` (or `OR`), each child's condition from `condition`.
pub(super) fn junction(
    children: &[Query],
    operator: &str,
    mut condition: impl FnMut(&Query) -> String,
) -> String {
    let parts: Vec<String> = children
        .iter()
        .map(|child| format!("({})", condition(child)))
        .collect();
    parts.join(operator)
}

/// `expression > lower AND expression <= upper` for the bounded ends of `range`, each bound's
/// placeholder from `placeholder`; `false` when a bound is of another kind than the field (the
/// parser never makes one). Both stores read `TRUE` and `FALSE`.
pub(super) fn range_condition(
    range: &Range,
    expression: &str,
    mut placeholder: impl FnMut(&RangeValue) -> Option<String>,
) -> String {
    let mut parts = Vec::new();
    for (bound, exclusive, inclusive_operator) in
        [(&range.lower, ">", ">="), (&range.upper, "<", "<=")]
    {
        if let Bound::At { value, inclusive } = bound {
            let Some(at) = placeholder(value) else {
                return "FALSE".into();
            };
            let operator = if *inclusive {
                inclusive_operator
            } else {
                exclusive
            };
            parts.push(format!("{expression} {operator} {at}"));
        }
    }
    match parts.is_empty() {
        true => "TRUE".into(),
        false => parts.join(" AND "),
    }
}
