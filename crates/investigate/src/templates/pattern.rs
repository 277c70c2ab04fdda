//! Comparing token sequences: Drain's position-by-position similarity between a message and a
//! template of its length, and the wildcard matching that lets a template cover a message or a
//! template of another length.

use std::collections::HashMap;
use std::ops::Range;

use super::vocabulary::{Token, WordId};

/// What a group of messages has shown at one position of its pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    /// The same token in every message.
    Constant,
    /// A few distinct words: each makes its own template.
    Words(Vec<WordId>),
    /// Masked values, punctuation, runs of tokens or too many words: a wildcard.
    Variable,
}

/// Drain's similarity of a message to a pattern of its length: the share of the positions
/// holding words (in the pattern or the message) where the message agrees with the pattern's
/// messages. A constant agrees with itself, an enumerated position with one of its words; a
/// wildcard does not agree with a word, so a pattern that has lost most of its words to
/// wildcards attracts nothing (with wildcards free, it would swallow every message of its
/// length). Values facing wildcards and equal separators are structure, not evidence, and do
/// not count; a different separator is a different structure: no similarity.
pub(crate) fn similarity(pattern: &[Token], slots: &[Slot], message: &[Token]) -> f64 {
    debug_assert_eq!(pattern.len(), message.len());
    debug_assert_eq!(pattern.len(), slots.len());
    let mut positions = 0usize;
    let mut agreeing = 0usize;
    for ((pattern_token, slot), message_token) in pattern.iter().zip(slots).zip(message) {
        let agrees = match (pattern_token, slot, message_token) {
            (Token::Sep(_), _, _) | (_, _, Token::Sep(_)) => {
                if pattern_token == message_token {
                    continue;
                }
                return 0.0;
            }
            (Token::Var, _, Token::Var) => continue,
            (Token::Var, Slot::Words(words), Token::Word(word)) => words.contains(word),
            _ => pattern_token == message_token,
        };
        positions += 1;
        agreeing += usize::from(agrees);
    }
    if positions == 0 {
        return 1.0;
    }
    agreeing as f64 / positions as f64
}

/// Whether `pattern` covers `subject`, and if so which tokens of `subject` each pattern token
/// stands for.
///
/// Constants must appear in order. A wildcard stands for one token, or for a run that is itself
/// a value — one holding a wildcard or punctuation, like `a, b` or `<*> ( <*> )` — but never for
/// several plain words, which would make another sentence rather than another value. The
/// pattern's words must also make at least `min_word_share` of the subject's, so a pattern
/// worn down to a few words cannot swallow long messages.
pub(crate) fn cover(
    pattern: &[Token],
    subject: &[Token],
    min_word_share: f64,
) -> Option<Vec<Range<usize>>> {
    let pattern_words = pattern.iter().filter(|token| token.is_word()).count();
    let subject_words = subject.iter().filter(|token| token.is_word()).count();
    if pattern_words == 0
        || pattern.len() > subject.len()
        || (pattern_words as f64) < min_word_share * subject_words as f64
    {
        return None;
    }
    // reachable[i]: the positions j of the subject such that pattern[..i] can stand for
    // subject[..j], as a bit set over 0..=subject.len().
    let width = subject.len() + 1;
    let blocks = width.div_ceil(64);
    let mut reachable = vec![0u64; (pattern.len() + 1) * blocks];
    reachable[0] = 1;
    // The positions of each subject token, to step over a constant with a mask.
    let mut positions: HashMap<Token, Vec<u64>> = HashMap::new();
    for (index, token) in subject.iter().enumerate() {
        let mask = positions.entry(*token).or_insert_with(|| vec![0; blocks]);
        mask[index / 64] |= 1 << (index % 64);
    }
    // first_value_from[j]: the first position at or after j holding a value (not a word).
    let mut first_value_from = vec![subject.len(); width];
    for index in (0..subject.len()).rev() {
        first_value_from[index] = if subject[index].is_word() {
            first_value_from[index + 1]
        } else {
            index
        };
    }
    for (index, pattern_token) in pattern.iter().enumerate() {
        let (done, rest) = reachable.split_at_mut((index + 1) * blocks);
        let row = &done[index * blocks..];
        let next = &mut rest[..blocks];
        if *pattern_token == Token::Var {
            // One token from any reachable start.
            shift_up_by_one(row, next);
            // Longer runs need a value inside: from the first reachable start, every end past
            // the first value at or after it (and two tokens on) is reachable.
            if let Some(first) = lowest_bit(row).filter(|first| *first < subject.len()) {
                let first_value = first_value_from[first];
                if first_value < subject.len() {
                    set_from(next, (first + 2).max(first_value + 1));
                }
            }
        } else {
            // A constant the subject lacks: no cover.
            let mask = positions.get(pattern_token)?;
            let matched: Vec<u64> = row.iter().zip(mask).map(|(row, mask)| row & mask).collect();
            shift_up_by_one(&matched, next);
        }
        clear_from(next, width);
        if next.iter().all(|block| *block == 0) {
            return None;
        }
    }
    let is_reachable = |index: usize, position: usize| {
        reachable[index * blocks + position / 64] >> (position % 64) & 1 == 1
    };
    if !is_reachable(pattern.len(), subject.len()) {
        return None;
    }
    // Walk back from the end, each wildcard taking the shortest run that works.
    let mut spans = vec![0..0; pattern.len()];
    let mut end = subject.len();
    for index in (0..pattern.len()).rev() {
        let start = if pattern[index] == Token::Var && !is_reachable(index, end - 1) {
            // A longer run: it must hold a value, so it starts at or before the last one.
            let last_value = (0..end)
                .rev()
                .find(|position| !subject[*position].is_word())?;
            (0..=last_value.min(end.checked_sub(2)?))
                .rev()
                .find(|start| is_reachable(index, *start))?
        } else {
            end - 1
        };
        spans[index] = start..end;
        end = start;
    }
    Some(spans)
}

/// `to` = `from` with every bit moved one position up (bit j to j + 1).
fn shift_up_by_one(from: &[u64], to: &mut [u64]) {
    let mut carry = 0;
    for (source, target) in from.iter().zip(to.iter_mut()) {
        *target = (source << 1) | carry;
        carry = source >> 63;
    }
}

fn lowest_bit(bits: &[u64]) -> Option<usize> {
    bits.iter()
        .enumerate()
        .find(|(_, block)| **block != 0)
        .map(|(index, block)| index * 64 + block.trailing_zeros() as usize)
}

/// Sets every bit from `start` on.
fn set_from(bits: &mut [u64], start: usize) {
    for (index, block) in bits.iter_mut().enumerate() {
        let low = index * 64;
        if low >= start {
            *block = u64::MAX;
        } else if start < low + 64 {
            *block |= u64::MAX << (start - low);
        }
    }
}

/// Clears every bit from `start` on.
fn clear_from(bits: &mut [u64], start: usize) {
    for (index, block) in bits.iter_mut().enumerate() {
        let low = index * 64;
        if low >= start {
            *block = 0;
        } else if start < low + 64 {
            *block &= !(u64::MAX << (start - low));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::tokenize::tokenize;
    use crate::templates::vocabulary::Vocabulary;

    fn slots(pattern: &[Token]) -> Vec<Slot> {
        pattern
            .iter()
            .map(|token| match token {
                Token::Var => Slot::Variable,
                _ => Slot::Constant,
            })
            .collect()
    }

    #[test]
    fn similarity_counts_values_against_wildcards_and_words_against_constants() {
        let mut vocabulary = Vocabulary::default();
        let mut tokens = |text: &str| vocabulary.intern(&tokenize(&text.replace("<*>", "0")));
        let pattern = tokens("open file 42 for reading");
        let slots = slots(&pattern);
        assert_eq!(
            similarity(&pattern, &slots, &tokens("open file 7 for reading")),
            1.0
        );
        assert_eq!(
            similarity(&pattern, &slots, &tokens("open file 7 for writing")),
            0.75
        );
        assert_eq!(
            similarity(&pattern, &slots, &tokens("open file x for reading")),
            0.8
        );
        assert_eq!(
            similarity(&pattern, &slots, &tokens("open file: 7 for")),
            0.0
        );
    }

    #[test]
    fn similarity_of_an_enumerated_position() {
        let mut vocabulary = Vocabulary::default();
        let mut tokens = |text: &str| vocabulary.intern(&tokenize(&text.replace("<*>", "0")));
        let started = tokens("VM Started now");
        let paused = tokens("VM Paused now");
        let Token::Word(started_word) = started[1] else {
            panic!("a word")
        };
        let pattern = vec![started[0], Token::Var, started[2]];
        let slots = vec![
            Slot::Constant,
            Slot::Words(vec![started_word]),
            Slot::Constant,
        ];
        assert_eq!(similarity(&pattern, &slots, &started), 1.0);
        assert_eq!(similarity(&pattern, &slots, &paused), 2.0 / 3.0);
    }

    #[test]
    fn a_wildcard_covers_a_list_but_not_a_sentence() {
        let mut vocabulary = Vocabulary::default();
        let mut tokens = |text: &str| vocabulary.intern(&tokenize(&text.replace("<*>", "0")));
        let pattern = tokens("active users: <*> now");
        assert!(cover(&pattern, &tokens("active users: alice now"), 0.5).is_some());
        let list = cover(&pattern, &tokens("active users: alice, bob now"), 0.5);
        assert_eq!(list, Some(vec![0..1, 1..2, 2..3, 3..6, 6..7]));
        assert!(cover(&pattern, &tokens("active users: alice bob now"), 0.5).is_none());
    }

    #[test]
    fn a_pattern_needs_words_and_a_share_of_the_subject_words() {
        let mut vocabulary = Vocabulary::default();
        let mut tokens = |text: &str| vocabulary.intern(&tokenize(&text.replace("<*>", "0")));
        assert!(cover(&tokens("<*>"), &tokens("anything at all"), 0.0).is_none());
        let pattern = tokens("job <*> done");
        let long_list = tokens("job a, b, c, d, e done");
        assert!(cover(&pattern, &long_list, 0.2).is_some());
        assert!(cover(&pattern, &long_list, 0.5).is_none());
    }

    #[test]
    fn constants_must_match_in_order() {
        let mut vocabulary = Vocabulary::default();
        let mut tokens = |text: &str| vocabulary.intern(&tokenize(&text.replace("<*>", "0")));
        let pattern = tokens("sent <*> to <*>");
        assert!(cover(&pattern, &tokens("sent 1 2 3 to a, b"), 0.5).is_some());
        assert!(cover(&pattern, &tokens("to a sent 1"), 0.5).is_none());
    }

    /// The definition, by brute force: every way to cut the subject into runs.
    fn covers_naively(pattern: &[Token], subject: &[Token]) -> bool {
        let Some((first, rest)) = pattern.split_first() else {
            return subject.is_empty();
        };
        if *first != Token::Var {
            return subject.first() == Some(first) && covers_naively(rest, &subject[1..]);
        }
        (1..=subject.len()).any(|length| {
            let run = &subject[..length];
            (length == 1 || run.iter().any(|token| !token.is_word()))
                && covers_naively(rest, &subject[length..])
        })
    }

    fn token_strategy() -> impl proptest::strategy::Strategy<Value = Token> {
        use proptest::prelude::*;
        prop_oneof![
            (0u32..3).prop_map(|word| Token::Word(WordId::for_tests(word))),
            Just(Token::Sep(',')),
            Just(Token::Var),
        ]
    }

    proptest::proptest! {
        #[test]
        fn cover_agrees_with_brute_force(
            pattern in proptest::collection::vec(token_strategy(), 1..6),
            subject in proptest::collection::vec(token_strategy(), 0..12),
        ) {
            let spans = cover(&pattern, &subject, 0.0);
            let has_word = pattern.iter().any(Token::is_word);
            proptest::prop_assert_eq!(spans.is_some(), has_word && covers_naively(&pattern, &subject));
            if let Some(spans) = spans {
                // The runs tile the subject, and each is allowed for its pattern token.
                let mut end = 0;
                for (token, span) in pattern.iter().zip(&spans) {
                    proptest::prop_assert_eq!(span.start, end);
                    proptest::prop_assert!(span.end > span.start);
                    let run = &subject[span.clone()];
                    if *token == Token::Var {
                        proptest::prop_assert!(run.len() == 1 || run.iter().any(|t| !t.is_word()));
                    } else {
                        proptest::prop_assert_eq!(run, &[*token][..]);
                    }
                    end = span.end;
                }
                proptest::prop_assert_eq!(end, subject.len());
            }
        }
    }
}
