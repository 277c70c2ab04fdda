//! Interned tokens: the miner stores and compares every word as a small integer, so that
//! similarity, wildcard matching and the indexes compare and hash numbers, not strings.

use std::collections::HashMap;

use super::tokenize::{DOT_LEADER, Piece, Pieces, WILDCARD};

/// A word of the miner's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WordId(u32);

#[cfg(test)]
impl WordId {
    pub(crate) fn for_tests(id: u32) -> Self {
        WordId(id)
    }
}

/// One token of a message or a pattern, its word interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Token {
    Word(WordId),
    Sep(char),
    /// A masked value, or a wildcard of a pattern.
    Var,
}

impl Token {
    pub(crate) fn is_word(&self) -> bool {
        matches!(self, Token::Word(_))
    }
}

/// The words a miner has seen, each with its id.
#[derive(Default)]
pub(crate) struct Vocabulary {
    ids: HashMap<Box<str>, WordId>,
    words: Vec<Box<str>>,
}

impl Vocabulary {
    /// Interns the words of a message.
    pub(crate) fn intern(&mut self, pieces: &Pieces<'_>) -> Vec<Token> {
        pieces
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Word(word) => Token::Word(self.intern_word(word)),
                Piece::Sep(separator) => Token::Sep(*separator),
                Piece::Var => Token::Var,
            })
            .collect()
    }

    fn intern_word(&mut self, word: &str) -> WordId {
        if let Some(id) = self.ids.get(word) {
            return *id;
        }
        let id = WordId(self.words.len() as u32);
        self.words.push(word.into());
        self.ids.insert(word.into(), id);
        id
    }

    /// The tokens of a message without learning its words: a word never seen gets an id no
    /// known word has, so it equals nothing a pattern holds.
    pub(crate) fn lookup(&self, pieces: &Pieces<'_>) -> Vec<Token> {
        let unseen = WordId(self.words.len() as u32);
        pieces
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Word(word) => Token::Word(self.ids.get(*word).copied().unwrap_or(unseen)),
                Piece::Sep(separator) => Token::Sep(*separator),
                Piece::Var => Token::Var,
            })
            .collect()
    }

    pub(crate) fn text(&self, id: WordId) -> &str {
        self.words.get(id.0 as usize).map_or("", |word| word)
    }

    /// Prints tokens the way the messages they came from were spaced.
    pub(crate) fn render(&self, tokens: &[Token], spaced: &[bool]) -> String {
        let mut text = String::new();
        for (index, token) in tokens.iter().enumerate() {
            if index > 0 && spaced.get(index).copied().unwrap_or(true) {
                text.push(' ');
            }
            match token {
                Token::Word(word) => text.push_str(self.text(*word)),
                Token::Sep(DOT_LEADER) => text.push_str("..."),
                Token::Sep(separator) => text.push(*separator),
                Token::Var => text.push_str(WILDCARD),
            }
        }
        text
    }

    /// The tokens as strings, the wildcard as `<*>`.
    pub(crate) fn strings(&self, tokens: &[Token]) -> Vec<String> {
        tokens
            .iter()
            .map(|token| match token {
                Token::Word(word) => self.text(*word).to_owned(),
                Token::Sep(separator) => separator.to_string(),
                Token::Var => WILDCARD.to_owned(),
            })
            .collect()
    }
}
