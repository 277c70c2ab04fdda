//! From a log message to tokens: words, separators and masked variables.
//!
//! The rules are generic on purpose (the same miner reads every system's logs): a token is a
//! variable when it looks like a value a program prints rather than text a programmer wrote —
//! numbers, hex, addresses with ports, paths, URLs, identifiers carrying counters, booleans.
//! Punctuation that structures a message (`=`, `:`, `,`, brackets, quotes) becomes separator
//! tokens, so `key=value` and `key: value` compare key by key. A value printed as several tokens
//! (`4042 bytes (3.94 KB)`, `10.0.0.1:50010 10.0.0.2:50010`, `<1 sec`) folds into one variable,
//! which keeps lines of one template at one length.

/// One token of a message, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Piece<'a> {
    /// Text kept as is.
    Word(&'a str),
    /// Structuring punctuation, kept as its own token.
    Sep(char),
    /// A masked value (`<*>`).
    Var,
}

/// The wildcard as templates print it.
pub const WILDCARD: &str = "<*>";

/// A tokenised message: `pieces[i]` and whether whitespace preceded it in the message (only
/// used to print templates the way the messages looked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pieces<'a> {
    pub(crate) pieces: Vec<Piece<'a>>,
    pub(crate) spaced: Vec<bool>,
}

impl<'a> Pieces<'a> {
    fn push(&mut self, piece: Piece<'a>, spaced: bool) {
        self.pieces.push(piece);
        self.spaced.push(spaced);
        self.fold_tail();
    }

    /// Folds the end of the sequence while a rule applies: every rule shortens it, so this ends.
    fn fold_tail(&mut self) {
        loop {
            let folded = match self.pieces.as_slice() {
                // A value printed as several tokens: `1.2.3.4:80 5.6.7.8:80`.
                [.., Piece::Var, Piece::Var] => 2,
                // Values joined by punctuation: `12:30`, `3, 4`, `a@b`.
                [.., Piece::Var, Piece::Sep(joiner), Piece::Var] if JOINERS.contains(joiner) => 3,
                // A bracketed value: `(3.94 KB)`, `[42]`, `"0x1f"`.
                [.., Piece::Sep(open), Piece::Var, Piece::Sep(close)]
                    if closing_of(*open) == Some(*close) =>
                {
                    3
                }
                // A quantity with its unit: `12 ms`, `3.94 KB`, `<1 sec`.
                [.., Piece::Var, Piece::Word(unit)] if is_unit(unit) => 2,
                _ => return,
            };
            let keep = self.pieces.len() - folded;
            let spaced = self.spaced[keep];
            self.pieces.truncate(keep);
            self.spaced.truncate(keep);
            self.pieces.push(Piece::Var);
            self.spaced.push(spaced);
        }
    }
}

/// Punctuation that joins the parts of one value when it sits between two values.
const JOINERS: &[char] = &[':', ',', ';', '@', '|', '='];

/// Characters that split a whitespace-separated chunk into tokens and are kept as separators
/// (all ASCII, so a chunk is scanned byte by byte).
fn is_separator(byte: u8) -> bool {
    matches!(
        byte,
        b'=' | b','
            | b';'
            | b':'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'"'
            | b'\''
            | b'|'
            | b'@'
            | b'`'
    )
}

/// Openers peeled off the front of a chunk.
const OPENERS: &[char] = &['(', '[', '{', '"', '\'', '`'];

/// Punctuation peeled off the end of a chunk: closers and sentence punctuation.
const TRAILERS: &[char] = &[')', ']', '}', '"', '\'', '`', ',', ';', ':', '.', '!', '?'];

fn closing_of(open: char) -> Option<char> {
    match open {
        '(' => Some(')'),
        '[' => Some(']'),
        '{' => Some('}'),
        '"' => Some('"'),
        '\'' => Some('\''),
        '`' => Some('`'),
        _ => None,
    }
}

/// Units of sizes, durations and rates that follow a number as their own word.
fn is_unit(word: &str) -> bool {
    const UNITS: &[&str] = &[
        "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "byte", "bytes", "ns", "us", "µs",
        "ms", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "h",
        "hr", "hrs", "hour", "hours", "day", "days", "%",
    ];
    word.len() <= 7 && UNITS.iter().any(|unit| word.eq_ignore_ascii_case(unit))
}

/// Messages are mined on their first this many tokens; the rest counts as one value. Bounds
/// the work and memory per message (a dump of a whole request body is one log line too).
pub(crate) const MAX_TOKENS: usize = 256;

/// Splits a message into tokens with variables masked.
pub(crate) fn tokenize(message: &str) -> Pieces<'_> {
    let mut tokens = Pieces::default();
    for chunk in message.split_whitespace() {
        if tokens.pieces.len() >= MAX_TOKENS {
            tokens.pieces.truncate(MAX_TOKENS);
            tokens.spaced.truncate(MAX_TOKENS);
            tokens.push(Piece::Var, true);
            break;
        }
        push_chunk(chunk, true, &mut tokens);
    }
    if let Some(first) = tokens.spaced.first_mut() {
        *first = false;
    }
    tokens
}

/// Tokenises one piece of a message that holds no whitespace.
fn push_chunk<'a>(chunk: &'a str, spaced: bool, out: &mut Pieces<'a>) {
    let mut spaced = spaced;
    let mut core = chunk;
    while let Some(open) = core.chars().next().filter(|c| OPENERS.contains(c)) {
        out.push(Piece::Sep(open), spaced);
        spaced = false;
        core = &core[open.len_utf8()..];
    }
    let mut trailers = Vec::new();
    while let Some(trailer) = core.chars().next_back().filter(|c| TRAILERS.contains(c)) {
        trailers.push(trailer);
        core = &core[..core.len() - trailer.len_utf8()];
    }
    if !core.is_empty() {
        if is_variable_chunk(core) {
            out.push(Piece::Var, spaced);
        } else if next_separator(core).is_some() {
            let mut piece_spaced = spaced;
            let mut rest = core;
            while let Some((at, length, separator)) = next_separator(rest) {
                if at > 0 {
                    push_chunk(&rest[..at], piece_spaced, out);
                    piece_spaced = false;
                }
                out.push(Piece::Sep(separator), piece_spaced);
                piece_spaced = false;
                rest = &rest[at + length..];
            }
            if !rest.is_empty() {
                push_chunk(rest, piece_spaced, out);
            }
        } else if is_variable_word(core) {
            out.push(Piece::Var, spaced);
        } else {
            out.push(Piece::Word(core), spaced);
        }
        spaced = false;
    }
    for trailer in trailers.into_iter().rev() {
        out.push(Piece::Sep(trailer), spaced);
        spaced = false;
    }
}

/// A run of dots inside a word (`load.........0`, `Loading...done`): dot leaders that pad a
/// label to its value, one separator whatever their length.
pub(crate) const DOT_LEADER: char = '…';

/// The first separator of a chunk: its byte offset, its length and the separator token.
fn next_separator(chunk: &str) -> Option<(usize, usize, char)> {
    let bytes = chunk.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if is_separator(byte) {
            return Some((index, 1, char::from(byte)));
        }
        if byte == b'.' && bytes.get(index + 1) == Some(&b'.') {
            let length = bytes[index..].iter().take_while(|b| **b == b'.').count();
            return Some((index, length, DOT_LEADER));
        }
        index += 1;
    }
    None
}

/// Values recognised as a whole before the chunk is split at its punctuation: URLs, paths,
/// `host:port` and `ip:port`.
fn is_variable_chunk(chunk: &str) -> bool {
    if chunk.contains("://") {
        return true;
    }
    // Absolute paths, Unix or Windows (`/var/log/x`, `C:\Windows\x`, `\\share\x`).
    if chunk.len() > 1 && (chunk.starts_with('/') || chunk.starts_with('\\')) {
        return true;
    }
    let bytes = chunk.as_bytes();
    if bytes.len() > 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'\\' {
        return true;
    }
    // `host.example.com:443`, `10.0.0.1:8080`: a dotted host and a numeric port.
    if let Some((host, port)) = chunk.rsplit_once(':') {
        let port_is_number = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        let host_is_dotted = host.contains('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if port_is_number && host_is_dotted {
            return true;
        }
    }
    false
}

/// A single word (no separators left in it) that holds a value.
///
/// Words with digits are values (`42`, `0x1f`, `blk_123`, `10.0.0.1`, `2024-01-01T10:00`,
/// `9f4ef63`, `node-246`, `U11`), except a name made of letters and a single digit: protocol
/// and device names like `SOCKS5`, `eth0`, `IPv4`, `log4j`. Without digits only the literal
/// booleans and null are values.
pub(crate) fn is_variable_word(word: &str) -> bool {
    let digits = word.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        return ["true", "false", "null"]
            .iter()
            .any(|literal| word.eq_ignore_ascii_case(literal));
    }
    let is_name = digits == 1
        && word.starts_with(|c: char| c.is_alphabetic())
        && word.chars().all(char::is_alphanumeric);
    !is_name
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message as the miner sees it: values as `<*>`, tokens spaced as in the message.
    fn masked(message: &str) -> String {
        let pieces = tokenize(message);
        let mut text = String::new();
        for (piece, spaced) in pieces.pieces.iter().zip(&pieces.spaced) {
            if *spaced {
                text.push(' ');
            }
            match piece {
                Piece::Word(word) => text.push_str(word),
                Piece::Sep(DOT_LEADER) => text.push_str("..."),
                Piece::Sep(separator) => text.push(*separator),
                Piece::Var => text.push_str(WILDCARD),
            }
        }
        text
    }

    #[test]
    fn numbers_hex_and_identifiers_with_counters_are_values() {
        assert_eq!(masked("took 42 ms"), "took <*>");
        assert_eq!(masked("retry -3 of 0x1f"), "retry <*> of <*>");
        assert_eq!(
            masked("block blk_-6952295868487656571 lost"),
            "block <*> lost"
        );
        assert_eq!(masked("commit 9f4ef63 on node-246"), "commit <*> on <*>");
        assert_eq!(masked("slot U11 of R02-M1-N0"), "slot <*> of <*>");
        assert_eq!(
            masked("request 3b04890a-96ab-4e07-b6d1-4b2ab87e23b4 done"),
            "request <*> done"
        );
    }

    #[test]
    fn names_with_one_digit_are_words() {
        assert_eq!(
            masked("open through proxy SOCKS5"),
            "open through proxy SOCKS5"
        );
        assert_eq!(masked("link eth0 up over IPv4"), "link eth0 up over IPv4");
    }

    #[test]
    fn addresses_paths_and_urls_are_values() {
        assert_eq!(
            masked("connect to 10.0.0.1:8080 failed"),
            "connect to <*> failed"
        );
        assert_eq!(masked("proxy.example.com:5070 open"), "<*> open");
        assert_eq!(masked("reading /var/log/app.log now"), "reading <*> now");
        assert_eq!(
            masked(r"Loaded C:\Windows\system32\x.dll ok"),
            "Loaded <*> ok"
        );
        assert_eq!(
            masked("GET https://api.example.com/v1/users?id=7 ok"),
            "GET <*> ok"
        );
    }

    #[test]
    fn a_value_printed_as_several_tokens_is_one_value() {
        assert_eq!(
            masked("closed, 4042 bytes (3.94 KB) sent, open <1 sec"),
            "closed, <*> sent, open <*>"
        );
        assert_eq!(masked("at 2016-09-28 04:30:30,123 start"), "at <*> start");
        assert_eq!(masked("to 10.0.0.1:50010 10.0.0.2:50010"), "to <*>");
        assert_eq!(masked("ids [1, 2, 3] done"), "ids <*> done");
        assert_eq!(masked("took 12.5 seconds"), "took <*>");
    }

    #[test]
    fn punctuation_separates_keys_from_values() {
        assert_eq!(masked("user=alice count=3"), "user=alice count=<*>");
        assert_eq!(masked("status: 200 len: 1893"), "status: <*> len: <*>");
        assert_eq!(masked("[task: abc-123] Claim"), "[task: <*>] Claim");
        assert_eq!(masked("onStep:1514038530000 14"), "onStep:<*>");
        assert_eq!(
            masked("sessionid:0x14ed type:create"),
            "sessionid:<*> type:create"
        );
    }

    #[test]
    fn booleans_and_null_are_values() {
        assert_eq!(
            masked("visible= false, owner=null"),
            "visible= <*>, owner=<*>"
        );
    }

    #[test]
    fn dot_leaders_separate_a_label_from_its_value() {
        assert_eq!(masked("fault in load.........0"), "fault in load...<*>");
        assert_eq!(masked("fault in store.........0"), "fault in store...<*>");
    }

    #[test]
    fn words_keep_sentence_punctuation_apart() {
        assert_eq!(
            masked("Worker started successfully."),
            "Worker started successfully."
        );
        let pieces = tokenize("done.");
        assert_eq!(pieces.pieces, vec![Piece::Word("done"), Piece::Sep('.')]);
    }

    #[test]
    fn a_long_message_is_cut_to_its_first_tokens() {
        let words: Vec<String> = (0..1000).map(|index| format!("w{}x", index % 7)).collect();
        let message = words.join(" ");
        let pieces = tokenize(&message);
        assert_eq!(pieces.pieces.len(), MAX_TOKENS + 1);
        assert_eq!(pieces.pieces.last(), Some(&Piece::Var));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for message in [
            "", "   ", "\"", "(((", "...", "=:=", "é:1", "a\u{0}b", "∑∆ 1", "[]{}()",
        ] {
            let _ = tokenize(message);
        }
    }
}
