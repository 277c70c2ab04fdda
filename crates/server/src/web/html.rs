//! The small vocabulary pages are written in: escaping, numbers with their units, times a
//! script turns into the reader's zone. Every piece of user text (service, operation and SLO
//! names, log lines, attribute values) goes through [`escape`] before it reaches a page.

use std::fmt::Write as _;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Percent-encodes a path segment (a service or SLO name in a link).
pub fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// A `<time>` element: UTC text that the page script rewrites into the reader's zone, keeping
/// UTC on hover.
pub fn time(unix_nano: u64) -> String {
    let text = sloscope_investigate::markdown::format_time(unix_nano);
    format!(
        "<time datetime=\"{text}\">{}</time>",
        text.replace('T', " ")
    )
}

/// A share as a percentage with `digits` decimals, or a dash when unknown.
pub fn percent(fraction: Option<f64>, digits: usize) -> String {
    match fraction {
        Some(value) if value.is_finite() => format!("{:.digits$} %", value * 100.0),
        _ => "–".to_owned(),
    }
}

/// A plain number with `digits` decimals, or a dash when unknown.
pub fn number(value: Option<f64>, digits: usize) -> String {
    const LARGE: [(f64, &str); 3] = [(1e9, "G"), (1e6, "M"), (1e4, "k")];
    match value {
        Some(value) if value.is_finite() => {
            // Large values in thousands, millions or billions: 542100000 reads as 542.1 M.
            match LARGE.iter().find(|(size, _)| value.abs() >= *size) {
                Some((size, suffix)) => format!("{:.1} {suffix}", value / size),
                None => format!("{value:.digits$}"),
            }
        }
        _ => "–".to_owned(),
    }
}

/// Milliseconds with a precision that suits their size.
pub fn millis(value: Option<f64>) -> String {
    match value {
        Some(value) if value.is_finite() && value >= 1000.0 => format!("{:.2} s", value / 1000.0),
        Some(value) if value.is_finite() && value >= 10.0 => format!("{value:.0} ms"),
        Some(value) if value.is_finite() => format!("{value:.2} ms"),
        _ => "–".to_owned(),
    }
}

/// A count with thin separators between thousands (12 345).
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    grouped
}

/// A status badge; `status` is one of a fixed set of words, never user text.
pub fn badge(status: &str) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        escape(status),
        escape(&status.replace('_', " "))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x" + 'y') & more</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;) &amp; more&lt;/script&gt;"
        );
    }

    #[test]
    fn path_segments_keep_only_unreserved_bytes() {
        assert_eq!(path_segment("GET /a b"), "GET%20%2Fa%20b");
        assert_eq!(path_segment("checkout-api_v2.x"), "checkout-api_v2.x");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
    }
}
