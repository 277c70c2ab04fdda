//! A small RFC 4180 CSV reader for the evaluation data sets: whole documents of a few
//! megabytes at most, so records are read into memory. Small enough to keep the `csv` crate
//! out of the build.

/// A malformed CSV document.
#[derive(Debug)]
pub struct CsvError {
    pub line: usize,
    message: &'static str,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CsvError {}

/// RFC 4180 CSV: fields separated by commas, records by LF or CRLF; a quoted field may hold
/// commas, line breaks and doubled quotes.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    parse(text, false).map(|(records, _)| records)
}

/// Like [`parse_csv`], but a malformed field is kept instead of failing the document, as
/// Python's `csv` module does: text after a closing quote stays in the field, and an unclosed
/// quote runs to the end. Recorders that interleave writes leave such fields; the count of them
/// is returned with the records.
pub fn parse_csv_lenient(text: &str) -> (Vec<Vec<String>>, usize) {
    let parsed = parse(text, true);
    debug_assert!(parsed.is_ok(), "lenient parsing has no errors");
    parsed.unwrap_or_default()
}

/// Fields are copied a run at a time (the text between delimiters found by `str::find`), not a
/// character at a time: the evaluations read hundreds of megabytes, in debug builds too.
fn parse(text: &str, lenient: bool) -> Result<(Vec<Vec<String>>, usize), CsvError> {
    let bytes = text.as_bytes();
    // Line numbers are only for errors: counted when one happens.
    let error_at = |position: usize, message: &'static str| CsvError {
        line: 1 + bytes[..position]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count(),
        message,
    };
    let mut malformed = 0;
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut position = 0;
    // The next line feed at or after `position` (the end of the text when there is none).
    let mut line_end = 0;
    // Whether the current record has started: a trailing newline does not make an empty record.
    let mut in_record = false;
    while position < bytes.len() {
        let byte = bytes[position];
        if byte == b'"' && field.is_empty() {
            in_record = true;
            let quote_start = position;
            position += 1;
            loop {
                match text[position..].find('"') {
                    Some(offset) => {
                        field.push_str(&text[position..position + offset]);
                        position += offset + 1;
                        if bytes.get(position) == Some(&b'"') {
                            field.push('"');
                            position += 1;
                            continue;
                        }
                        break;
                    }
                    None if lenient => {
                        field.push_str(&text[position..]);
                        position = bytes.len();
                        malformed += 1;
                        break;
                    }
                    None => return Err(error_at(quote_start, "quoted field not closed")),
                }
            }
            if !matches!(bytes.get(position), None | Some(b',' | b'\r' | b'\n')) {
                // What follows, quotes included, is plain text of the same field.
                if lenient {
                    malformed += 1;
                    continue;
                }
                return Err(error_at(
                    position,
                    "text after the closing quote of a field",
                ));
            }
            continue;
        }
        match byte {
            b',' => {
                in_record = true;
                record.push(std::mem::take(&mut field));
                position += 1;
            }
            b'\r' if bytes.get(position + 1) == Some(&b'\n') => position += 1,
            b'\n' => {
                if in_record || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                in_record = false;
                position += 1;
            }
            _ => {
                in_record = true;
                if line_end <= position {
                    line_end = text[position..]
                        .find('\n')
                        .map_or(bytes.len(), |offset| position + offset);
                }
                let mut end = text[position..line_end]
                    .find(',')
                    .map_or(line_end, |offset| position + offset);
                if end == line_end && end > position + 1 && bytes[end - 1] == b'\r' {
                    end -= 1;
                }
                // A lone carriage return is text: the run always moves on.
                debug_assert!(end > position);
                field.push_str(&text[position..end]);
                position = end;
            }
        }
    }
    if in_record || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok((records, malformed))
}

/// A CSV document whose first record names the columns.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads a document leniently (see [`parse_csv_lenient`]); the table and the count of
    /// malformed fields. An empty document is a table without columns or rows; a byte order
    /// mark before the first column name is dropped.
    pub fn parse_lenient(text: &str) -> (Table, usize) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (records, malformed) = parse_csv_lenient(text);
        let mut records = records.into_iter();
        let header = records.next().unwrap_or_default();
        let table = Table {
            header,
            rows: records.collect(),
        };
        (table, malformed)
    }

    /// The index of the column named `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|column| column == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoted_fields_keep_commas_quotes_and_line_breaks() {
        let text = "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"two\nlines\",\n";
        let records = parse_csv(text).unwrap();
        assert_eq!(
            records,
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x, y", "say \"hi\""],
                vec!["2", "two\nlines", ""],
            ]
        );
    }

    #[test]
    fn csv_last_record_without_newline_and_empty_fields() {
        assert_eq!(
            parse_csv(",,\nx").unwrap(),
            vec![vec!["", "", ""], vec!["x"]]
        );
    }

    #[test]
    fn csv_unclosed_quote_is_an_error() {
        let error = parse_csv("a\n\"open,\n").unwrap_err();
        assert_eq!(error.line, 2);
    }

    #[test]
    fn carriage_returns_end_records_only_before_a_line_feed() {
        assert_eq!(
            parse_csv("a\rb,c\r\nd\r\n").unwrap(),
            vec![vec!["a\rb", "c"], vec!["d"]]
        );
        assert_eq!(parse_csv("x,\r\n").unwrap(), vec![vec!["x", ""]]);
    }

    #[test]
    fn lenient_parsing_keeps_malformed_fields_like_python() {
        let text = "a,b\n\"x\"y\"z,2\n3,\"open";
        assert!(parse_csv(text).is_err());
        let (records, malformed) = parse_csv_lenient(text);
        assert_eq!(
            records,
            vec![vec!["a", "b"], vec!["xy\"z", "2"], vec!["3", "open"]]
        );
        assert_eq!(malformed, 2);
    }

    #[test]
    fn table_finds_columns_by_name_after_a_byte_order_mark() {
        let (table, malformed) = Table::parse_lenient("\u{feff}Time,Value\n1,2\n");
        assert_eq!(malformed, 0);
        assert_eq!(table.column("Time"), Some(0));
        assert_eq!(table.column("Value"), Some(1));
        assert_eq!(table.column("Missing"), None);
        assert_eq!(table.rows, vec![vec!["1", "2"]]);
        assert!(Table::parse_lenient("").0.rows.is_empty());
    }
}
