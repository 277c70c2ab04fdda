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
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    // Whether the current record has started: a trailing newline does not make an empty record.
    let mut in_record = false;
    while let Some(character) = chars.next() {
        match character {
            '"' if field.is_empty() => {
                in_record = true;
                let quote_line = line;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(inner) => {
                            if inner == '\n' {
                                line += 1;
                            }
                            field.push(inner);
                        }
                        None => {
                            return Err(CsvError {
                                line: quote_line,
                                message: "quoted field not closed",
                            });
                        }
                    }
                }
                if !matches!(chars.peek(), None | Some(',' | '\r' | '\n')) {
                    return Err(CsvError {
                        line,
                        message: "text after the closing quote of a field",
                    });
                }
            }
            ',' => {
                in_record = true;
                record.push(std::mem::take(&mut field));
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                if in_record || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                in_record = false;
            }
            other => {
                in_record = true;
                field.push(other);
            }
        }
    }
    if in_record || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
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
}
