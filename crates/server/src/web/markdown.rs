//! The Markdown that sloscope itself writes (post-mortem drafts, investigation reports) as
//! HTML: headings, paragraphs, bullet lists, pipe tables and inline code, which is all those
//! documents use. Not a general Markdown parser: anything else stays literal text, and every
//! piece of text is escaped, so a log line quoted in a draft cannot become markup.

use std::fmt::Write as _;

use super::html::escape;

/// Inline text: `code` spans become `<code>`, everything is escaped; a backtick without
/// a partner stays a backtick.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else {
            break;
        };
        out.push_str(&escape(&rest[..open]));
        let _ = write!(out, "<code>{}</code>", escape(&after[..close]));
        rest = &after[close + 1..];
    }
    out.push_str(&escape(rest));
    out
}

/// A cell holding only an RFC 3339 UTC time (`2026-11-22T02:35:00Z`), kept on one line.
fn is_timestamp(cell: &str) -> bool {
    cell.len() == 20 && cell.as_bytes()[10] == b'T' && cell.ends_with('Z')
}

fn table_cells(line: &str) -> Vec<&str> {
    let trimmed = line.trim().trim_start_matches('|').trim_end_matches('|');
    trimmed.split('|').map(str::trim).collect()
}

fn is_table_rule(line: &str) -> bool {
    let cells = table_cells(line);
    !cells.is_empty()
        && cells
            .iter()
            .all(|cell| !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':')))
}

/// Renders `markdown` as HTML.
pub fn to_html(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, out: &mut String| {
        if !paragraph.is_empty() {
            let _ = write!(out, "<p>{}</p>", inline(&paragraph.join(" ")));
            paragraph.clear();
        }
    };
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut out);
            index += 1;
        } else if let Some(level) =
            (1..=4).find(|level| trimmed.starts_with(&format!("{} ", "#".repeat(*level))))
        {
            flush(&mut paragraph, &mut out);
            // The page has its own h1: document headings go one level down.
            let tag = (level + 1).min(6);
            let _ = write!(
                out,
                "<h{tag}>{}</h{tag}>",
                inline(trimmed[level + 1..].trim())
            );
            index += 1;
        } else if trimmed.starts_with("- ") || trimmed.starts_with("* ") {
            flush(&mut paragraph, &mut out);
            out.push_str("<ul>");
            while index < lines.len() {
                let item = lines[index].trim();
                let Some(text) = item.strip_prefix("- ").or_else(|| item.strip_prefix("* ")) else {
                    break;
                };
                let _ = write!(out, "<li>{}</li>", inline(text));
                index += 1;
            }
            out.push_str("</ul>");
        } else if trimmed.starts_with('|')
            && lines.get(index + 1).is_some_and(|next| is_table_rule(next))
        {
            flush(&mut paragraph, &mut out);
            out.push_str("<div class=\"scroll\"><table><thead><tr>");
            for cell in table_cells(trimmed) {
                let _ = write!(out, "<th>{}</th>", inline(cell));
            }
            out.push_str("</tr></thead><tbody>");
            index += 2;
            while index < lines.len() && lines[index].trim().starts_with('|') {
                out.push_str("<tr>");
                for cell in table_cells(lines[index]) {
                    let class = if is_timestamp(cell) {
                        " class=\"when\""
                    } else {
                        ""
                    };
                    let _ = write!(out, "<td{class}>{}</td>", inline(cell));
                }
                out.push_str("</tr>");
                index += 1;
            }
            out.push_str("</tbody></table></div>");
        } else {
            paragraph.push(trimmed);
            index += 1;
        }
    }
    flush(&mut paragraph, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_of_a_draft_become_html() {
        let html = to_html(
            "# Title\n\nSome `inc-1` text\non two lines.\n\n## Impact\n\n- one\n- two <b>\n\n| time | what |\n|---|---|\n| 2026-11-22T02:35:00Z | alert |\n",
        );
        assert_eq!(
            html,
            "<h2>Title</h2><p>Some <code>inc-1</code> text on two lines.</p><h3>Impact</h3><ul><li>one</li><li>two &lt;b&gt;</li></ul><div class=\"scroll\"><table><thead><tr><th>time</th><th>what</th></tr></thead><tbody><tr><td class=\"when\">2026-11-22T02:35:00Z</td><td>alert</td></tr></tbody></table></div>"
        );
    }

    #[test]
    fn markup_in_code_and_unpaired_backticks_stay_text() {
        assert_eq!(inline("a `<script>` b"), "a <code>&lt;script&gt;</code> b");
        assert_eq!(inline("it`s <i>"), "it`s &lt;i&gt;");
    }
}
