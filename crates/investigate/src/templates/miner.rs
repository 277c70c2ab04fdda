//! The online miner: Drain's routing tree and similarity join messages into groups; within a
//! group, a wildcard position that has shown only a few distinct words splits the group into
//! one template per word.
//!
//! Why the split: a position where messages differ is either a value (a user, a host, a
//! count) or a word that tells two messages apart (`cache hit` / `cache miss`, `GET` /
//! `POST`, `job started` / `job failed`). Drain cannot tell them apart by the
//! similarity of one pair of messages, so it needs a threshold per system. The number of
//! distinct words seen at the position can: values keep coming, the words of a few sibling
//! messages do not. Until a position has shown more than `max_word_values` distinct words
//! (and no masked value), each word keeps its own template; past that, the templates that
//! differ only there merge and the position becomes a wildcard.

use std::collections::HashMap;
use std::ops::Range;

use super::pattern::{Slot, cover, similarity};
use super::tokenize::tokenize;
use super::vocabulary::{Token, Vocabulary, WordId};
use super::{ConfigError, MinerConfig, Template, TemplateId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct GroupId(u32);

/// Messages Drain would put in one cluster.
struct Group {
    /// The pattern: constants, and wildcards where the messages differ.
    tokens: Vec<Token>,
    spaced: Vec<bool>,
    slots: Vec<Slot>,
    /// The distinct words of the pattern, sorted.
    words: Vec<WordId>,
    /// The word the group is listed under in `TemplateMiner::by_rarest_word`.
    index_word: Option<WordId>,
    /// The words that routed the group's first message to its leaf.
    route: Vec<WordId>,
    /// The live templates of the group, in order of creation.
    templates: Vec<TemplateId>,
    absorbed_by: Option<GroupId>,
}

impl Group {
    fn has_word(&self, word: WordId) -> bool {
        self.words.binary_search(&word).is_ok()
    }

    /// How specific the pattern is: its number of words.
    fn specificity(&self) -> usize {
        self.tokens.iter().filter(|token| token.is_word()).count()
    }
}

/// A template: a group with a word chosen at each of its enumerated positions.
struct Entry {
    template: Template,
    group: GroupId,
    /// The word at each position whose slot is [`Slot::Words`]; `None` elsewhere.
    key: Vec<Option<WordId>>,
    absorbed_by: Option<TemplateId>,
}

/// A node of the routing tree; its groups all have the tree's token count.
#[derive(Default)]
struct Node {
    children: HashMap<WordId, Node>,
    /// Where new words go once `children` is full.
    overflow: Option<Box<Node>>,
    groups: Vec<GroupId>,
    /// The node's groups by each word they have (or enumerate) at a position. A message is
    /// only similar to groups it agrees with on some word, so a leaf of many groups is not
    /// scanned whole. Words a group lost to wildcards stay listed: similarity is checked.
    by_position_word: HashMap<(usize, WordId), Vec<GroupId>>,
}

impl Node {
    /// The node's live groups that may reach `min_similarity` with `tokens`, in order of
    /// creation.
    fn candidates(&self, groups: &[Group], tokens: &[Token], min_similarity: f64) -> Vec<GroupId> {
        let message_words = tokens.iter().filter(|token| token.is_word()).count();
        let live = |id: &GroupId| groups[id.0 as usize].absorbed_by.is_none();
        if self.groups.len() <= SCAN_WHOLE_LEAF || message_words == 0 || min_similarity <= 0.0 {
            return self.groups.iter().copied().filter(live).collect();
        }
        // Every word of the message counts in the similarity, so it is at most the share of
        // them a group agrees with.
        let mut agreements: HashMap<GroupId, usize> = HashMap::new();
        for (position, token) in tokens.iter().enumerate() {
            if let Token::Word(word) = token
                && let Some(listed) = self.by_position_word.get(&(position, *word))
            {
                for id in listed {
                    *agreements.entry(*id).or_default() += 1;
                }
            }
        }
        let needed = min_similarity * message_words as f64 - 1e-9;
        let mut candidates: Vec<GroupId> = agreements
            .into_iter()
            .filter(|(id, count)| *count as f64 >= needed && live(id))
            .map(|(id, _)| id)
            .collect();
        candidates.sort_unstable();
        candidates
    }

    fn index(&mut self, id: GroupId, position: usize, word: WordId) {
        let listed = self.by_position_word.entry((position, word)).or_default();
        if listed.last() != Some(&id) {
            listed.push(id);
        }
    }
}

/// Leaves with at most this many groups are scanned whole: cheaper than the index.
const SCAN_WHOLE_LEAF: usize = 8;

/// An online template miner: feed it messages, read its templates.
///
/// Deterministic: the same messages in the same order give the same templates and ids.
#[derive(Default)]
pub struct TemplateMiner {
    config: MinerConfig,
    vocabulary: Vocabulary,
    groups: Vec<Group>,
    entries: Vec<Entry>,
    /// Routing trees by token count.
    roots: HashMap<usize, Node>,
    /// The groups created with each word. A pattern only loses words, so the groups whose
    /// pattern holds a word now are all listed under it.
    by_word: HashMap<WordId, Vec<GroupId>>,
    /// Each group listed under one of its words, the one with the fewest groups when chosen:
    /// the groups whose pattern may cover a message are listed under the message's words.
    by_rarest_word: HashMap<WordId, Vec<GroupId>>,
}

impl TemplateMiner {
    pub fn new(config: MinerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(TemplateMiner {
            config,
            ..TemplateMiner::default()
        })
    }

    /// Learns from one message and returns its template. Templates merge as the miner
    /// learns: [`TemplateMiner::resolve`] maps an id returned earlier to where it counts now.
    pub fn add(&mut self, message: &str) -> TemplateId {
        let pieces = tokenize(message);
        let tokens = self.vocabulary.intern(&pieces);
        let root = self.roots.entry(tokens.len()).or_default();
        let leaf = descend(
            root,
            leading_words(&tokens, self.config.depth),
            &self.config,
        );
        let candidates = leaf.candidates(&self.groups, &tokens, self.config.similarity_threshold);
        let nearest = nearest_group(&self.groups, &candidates, &tokens);
        let (group, spans) = match nearest {
            Some((group, score)) if score >= self.config.similarity_threshold => {
                (group, identity_spans(tokens.len()))
            }
            _ => match self.covering_group(&tokens, None) {
                Some(covering) => covering,
                None => {
                    let group = self.create_group(&tokens, &pieces.spaced);
                    (group, identity_spans(tokens.len()))
                }
            },
        };
        let (generalised, key) = self.observe(group, &tokens, &spans);
        let entry = self.entry_for(group, key, 1);
        if generalised {
            self.absorb_around(group);
        }
        self.resolve(entry)
    }

    /// The template a message is an instance of, without learning from it: the message has
    /// every constant of the template, and at each position whose words tell templates apart,
    /// that template's word. `None` for a message unlike every template learned.
    pub fn match_only(&self, message: &str) -> Option<TemplateId> {
        let tokens = self.vocabulary.lookup(&tokenize(message));
        let mut found = None;
        if let Some(root) = self.roots.get(&tokens.len())
            && let Some(leaf) = descend_readonly(root, &tokens, &self.config)
        {
            found = leaf
                .candidates(&self.groups, &tokens, 1.0)
                .into_iter()
                .filter(|id| {
                    let group = self.group(*id);
                    similarity(&group.tokens, &group.slots, &tokens) >= 1.0
                })
                .max_by_key(|id| (self.group(*id).specificity(), std::cmp::Reverse(*id)))
                .map(|id| (id, identity_spans(tokens.len())));
        }
        let (group, spans) = match found {
            Some(found) => found,
            None => self.covering_group(&tokens, None)?,
        };
        let group = self.group(group);
        let mut key = Vec::with_capacity(group.slots.len());
        for (slot, span) in group.slots.iter().zip(&spans) {
            key.push(match slot {
                Slot::Words(words) => {
                    let word = single_word(&tokens, span)?;
                    if !words.contains(&word) {
                        return None;
                    }
                    Some(word)
                }
                Slot::Constant | Slot::Variable => None,
            });
        }
        group
            .templates
            .iter()
            .copied()
            .find(|entry| self.entry(*entry).key == key)
    }

    /// The live template an id now counts in: itself, or the template it merged into.
    pub fn resolve(&self, id: TemplateId) -> TemplateId {
        let mut current = id;
        while let Some(entry) = self.entries.get(current.0 as usize)
            && let Some(next) = entry.absorbed_by
        {
            current = next;
        }
        current
    }

    /// The template of an id, following merges.
    pub fn template(&self, id: TemplateId) -> Option<&Template> {
        self.entries
            .get(self.resolve(id).0 as usize)
            .map(|entry| &entry.template)
    }

    /// The live templates, in order of creation.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.entries
            .iter()
            .filter(|entry| entry.absorbed_by.is_none())
            .map(|entry| &entry.template)
    }

    /// The tokens of a template, following merges: `<*>` at wildcards, each separator its own
    /// token.
    pub fn tokens(&self, id: TemplateId) -> Option<Vec<String>> {
        let entry = self.entries.get(self.resolve(id).0 as usize)?;
        Some(self.vocabulary.strings(&self.entry_tokens(entry)))
    }

    fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    fn entry(&self, id: TemplateId) -> &Entry {
        &self.entries[id.0 as usize]
    }

    /// The leaf a group lives in. Replaying its route finds it: a word that had a child keeps
    /// it, and a node whose children were full stays full.
    fn leaf_of(&mut self, id: GroupId) -> &mut Node {
        let group = &self.groups[id.0 as usize];
        let root = self.roots.entry(group.tokens.len()).or_default();
        descend(root, group.route.iter().copied(), &self.config)
    }

    /// The most specific live group (other than `except`) whose pattern covers `tokens`, with
    /// the run of `tokens` each pattern token stands for.
    fn covering_group(
        &self,
        tokens: &[Token],
        except: Option<GroupId>,
    ) -> Option<(GroupId, Vec<Range<usize>>)> {
        let words = distinct_words(tokens);
        let message_words = tokens.iter().filter(|token| token.is_word()).count();
        let least_specificity = self.config.similarity_threshold * message_words as f64;
        let mut candidates: Vec<(usize, GroupId)> = Vec::new();
        for word in &words {
            let Some(listed) = self.by_rarest_word.get(word) else {
                continue;
            };
            for &id in listed {
                let group = self.group(id);
                // What `cover` requires, cheapest checks first.
                if Some(id) == except
                    || group.absorbed_by.is_some()
                    || group.tokens.len() > tokens.len()
                    || group.words.is_empty()
                    || !group
                        .words
                        .iter()
                        .all(|own| words.binary_search(own).is_ok())
                {
                    continue;
                }
                let specificity = group.specificity();
                if (specificity as f64) >= least_specificity {
                    candidates.push((specificity, id));
                }
            }
        }
        // The most specific first; the earliest among equals.
        candidates.sort_unstable_by(|left, right| right.0.cmp(&left.0).then(left.1.cmp(&right.1)));
        candidates.dedup();
        candidates.into_iter().find_map(|(_, id)| {
            cover(
                &self.group(id).tokens,
                tokens,
                self.config.similarity_threshold,
            )
            .map(|spans| (id, spans))
        })
    }

    /// The live groups (other than `id`) whose patterns `id`'s pattern covers.
    fn covered_groups(&self, id: GroupId) -> Vec<(GroupId, Vec<Range<usize>>)> {
        let group = self.group(id);
        // A covered pattern holds all the covering pattern's words: scan the rarest one's.
        let Some(listed) = group
            .words
            .iter()
            .filter_map(|word| self.by_word.get(word))
            .min_by_key(|listed| listed.len())
        else {
            return Vec::new();
        };
        listed
            .iter()
            .copied()
            .filter(|other_id| {
                let other = self.group(*other_id);
                *other_id != id
                    && other.absorbed_by.is_none()
                    && group.words.iter().all(|word| other.has_word(*word))
            })
            .filter_map(|other_id| {
                cover(
                    &group.tokens,
                    &self.group(other_id).tokens,
                    self.config.similarity_threshold,
                )
                .map(|spans| (other_id, spans))
            })
            .collect()
    }

    fn create_group(&mut self, tokens: &[Token], spaced: &[bool]) -> GroupId {
        let id = GroupId(self.groups.len() as u32);
        let words = distinct_words(tokens);
        for word in &words {
            self.by_word.entry(*word).or_default().push(id);
        }
        self.groups.push(Group {
            tokens: tokens.to_vec(),
            spaced: spaced.to_vec(),
            slots: tokens
                .iter()
                .map(|token| match token {
                    Token::Var => Slot::Variable,
                    _ => Slot::Constant,
                })
                .collect(),
            words,
            index_word: None,
            route: leading_words(tokens, self.config.depth).collect(),
            templates: Vec::new(),
            absorbed_by: None,
        });
        self.index_by_rarest_word(id);
        let leaf = self.leaf_of(id);
        leaf.groups.push(id);
        for (position, token) in tokens.iter().enumerate() {
            if let Token::Word(word) = token {
                leaf.index(id, position, *word);
            }
        }
        // A new pattern with wildcards may cover groups of other lengths (no other pattern
        // covers it: the message was just checked).
        self.absorb_covered(id);
        id
    }

    /// Lists a group under its rarest word, unless it is listed under a word it still has.
    fn index_by_rarest_word(&mut self, id: GroupId) {
        let group = &self.groups[id.0 as usize];
        if group.index_word.is_some_and(|word| group.has_word(word)) {
            return;
        }
        let rarest = group
            .words
            .iter()
            .copied()
            .min_by_key(|word| self.by_word.get(word).map_or(0, Vec::len));
        self.groups[id.0 as usize].index_word = rarest;
        if let Some(word) = rarest {
            self.by_rarest_word.entry(word).or_default().push(id);
        }
    }

    /// Records what a message (or an absorbed pattern) has at each position of a group's
    /// pattern: `spans[i]` is the run of `tokens` at position `i`. Returns whether the pattern
    /// gained a wildcard, and the key of the message's template.
    fn observe(
        &mut self,
        group_id: GroupId,
        tokens: &[Token],
        spans: &[Range<usize>],
    ) -> (bool, Vec<Option<WordId>>) {
        let max_word_values = self.config.max_word_values;
        let group = &mut self.groups[group_id.0 as usize];
        debug_assert_eq!(group.tokens.len(), spans.len());
        let mut generalised = false;
        let mut lost_words = false;
        let mut new_word_slots = Vec::new();
        // Words a message may now agree with the group on, for the leaf's index.
        let mut new_postings = Vec::new();
        let mut key = Vec::with_capacity(spans.len());
        for (position, span) in spans.iter().enumerate() {
            let observed = single_token(tokens, span);
            let word = match observed {
                Some(Token::Word(word)) => Some(word),
                _ => None,
            };
            let pattern_token = &mut group.tokens[position];
            let slot = &mut group.slots[position];
            match slot {
                Slot::Constant => {
                    if observed != Some(*pattern_token) {
                        let previous = std::mem::replace(pattern_token, Token::Var);
                        generalised = true;
                        *slot = match (previous, word) {
                            (Token::Word(previous), Some(word)) if max_word_values >= 2 => {
                                new_word_slots.push((position, previous));
                                new_postings.push((position, word));
                                Slot::Words(vec![previous, word])
                            }
                            _ => Slot::Variable,
                        };
                    }
                }
                Slot::Words(words) => match word {
                    Some(word) if words.contains(&word) => {}
                    Some(word) if words.len() < max_word_values => {
                        words.push(word);
                        new_postings.push((position, word));
                    }
                    _ => {
                        *slot = Slot::Variable;
                        lost_words = true;
                    }
                },
                Slot::Variable => {}
            }
            key.push(match (&group.slots[position], word) {
                (Slot::Words(_), Some(word)) => Some(word),
                _ => None,
            });
        }
        if generalised {
            group.words = distinct_words(&group.tokens);
        }
        // The group's templates so far all had the former constant where it now has words.
        for (position, previous) in new_word_slots {
            for entry in &group.templates {
                self.entries[entry.0 as usize].key[position] = Some(previous);
            }
        }
        if !new_postings.is_empty() {
            let leaf = self.leaf_of(group_id);
            for (position, word) in new_postings {
                leaf.index(group_id, position, word);
            }
        }
        if generalised {
            self.index_by_rarest_word(group_id);
        }
        if generalised || lost_words {
            self.rekey(group_id);
        }
        (generalised, key)
    }

    /// After a group's slots changed: drops the words of positions that became wildcards from
    /// its templates' keys, merges the templates left with equal keys, and renders them again.
    fn rekey(&mut self, group_id: GroupId) {
        let group = &self.groups[group_id.0 as usize];
        let members = group.templates.clone();
        let mut survivors: Vec<TemplateId> = Vec::with_capacity(members.len());
        for member in members {
            let key = &mut self.entries[member.0 as usize].key;
            for (word, slot) in key.iter_mut().zip(&group.slots) {
                if !matches!(slot, Slot::Words(_)) {
                    *word = None;
                }
            }
            let key = &self.entries[member.0 as usize].key;
            let duplicate_of = survivors
                .iter()
                .copied()
                .find(|survivor| self.entries[survivor.0 as usize].key == *key);
            match duplicate_of {
                Some(survivor) => merge_entry(&mut self.entries, survivor, member),
                None => survivors.push(member),
            }
        }
        for survivor in &survivors {
            self.render_entry(*survivor);
        }
        self.groups[group_id.0 as usize].templates = survivors;
    }

    /// The live template of a group with this key, created if new; `count` messages join it.
    fn entry_for(&mut self, group_id: GroupId, key: Vec<Option<WordId>>, count: u64) -> TemplateId {
        let existing = self.groups[group_id.0 as usize]
            .templates
            .iter()
            .copied()
            .find(|entry| self.entries[entry.0 as usize].key == key);
        let id = match existing {
            Some(id) => id,
            None => {
                let id = TemplateId(self.entries.len() as u32);
                self.entries.push(Entry {
                    template: Template {
                        id,
                        text: String::new(),
                        count: 0,
                    },
                    group: group_id,
                    key,
                    absorbed_by: None,
                });
                self.groups[group_id.0 as usize].templates.push(id);
                self.render_entry(id);
                id
            }
        };
        self.entries[id.0 as usize].template.count += count;
        id
    }

    fn entry_tokens(&self, entry: &Entry) -> Vec<Token> {
        let group = self.group(entry.group);
        group
            .tokens
            .iter()
            .zip(&entry.key)
            .map(|(token, word)| word.map_or(*token, Token::Word))
            .collect()
    }

    fn render_entry(&mut self, id: TemplateId) {
        let entry = self.entry(id);
        let text = self
            .vocabulary
            .render(&self.entry_tokens(entry), &self.group(entry.group).spaced);
        self.entries[id.0 as usize].template.text = text;
    }

    /// After a group's pattern gained wildcards (or appeared): if another pattern covers it,
    /// it joins that group; otherwise it absorbs the groups its pattern covers.
    fn absorb_around(&mut self, group_id: GroupId) {
        let tokens = self.group(group_id).tokens.clone();
        if let Some((covering, spans)) = self.covering_group(&tokens, Some(group_id)) {
            self.absorb_group(covering, group_id, &spans);
            return;
        }
        self.absorb_covered(group_id);
    }

    /// Absorbs the groups whose patterns the group's pattern covers.
    fn absorb_covered(&mut self, group_id: GroupId) {
        let tokens = &self.group(group_id).tokens;
        if !tokens.contains(&Token::Var) {
            return;
        }
        for (other, spans) in self.covered_groups(group_id) {
            self.absorb_group(group_id, other, &spans);
        }
    }

    /// Moves every template of group `from` into group `into`, whose pattern covers `from`'s
    /// with `spans`.
    fn absorb_group(&mut self, into: GroupId, from: GroupId, spans: &[Range<usize>]) {
        debug_assert_ne!(into, from);
        let from_tokens = self.group(from).tokens.clone();
        let (_, key) = self.observe(into, &from_tokens, spans);
        let members = std::mem::take(&mut self.groups[from.0 as usize].templates);
        let moved: u64 = members
            .iter()
            .map(|member| self.entry(*member).template.count)
            .sum();
        let target = self.entry_for(into, key, moved);
        for member in members {
            self.entries[member.0 as usize].absorbed_by = Some(target);
        }
        self.groups[from.0 as usize].absorbed_by = Some(into);
    }
}

fn merge_entry(entries: &mut [Entry], into: TemplateId, from: TemplateId) {
    debug_assert_ne!(into, from);
    let moved = entries[from.0 as usize].template.count;
    entries[from.0 as usize].absorbed_by = Some(into);
    entries[into.0 as usize].template.count += moved;
}

/// The most similar live group of `candidates` (the earliest among equals).
fn nearest_group(
    groups: &[Group],
    candidates: &[GroupId],
    tokens: &[Token],
) -> Option<(GroupId, f64)> {
    let mut best: Option<(GroupId, f64)> = None;
    for &candidate in candidates {
        let group = &groups[candidate.0 as usize];
        if group.absorbed_by.is_some() {
            continue;
        }
        let score = similarity(&group.tokens, &group.slots, tokens);
        if best.is_none_or(|(_, best_score)| score > best_score) {
            best = Some((candidate, score));
        }
    }
    best
}

/// The distinct words of a token sequence, sorted.
fn distinct_words(tokens: &[Token]) -> Vec<WordId> {
    let mut words: Vec<WordId> = tokens
        .iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(*word),
            _ => None,
        })
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

fn identity_spans(length: usize) -> Vec<Range<usize>> {
    (0..length).map(|index| index..index + 1).collect()
}

fn single_token(tokens: &[Token], span: &Range<usize>) -> Option<Token> {
    if span.len() == 1 {
        tokens.get(span.start).copied()
    } else {
        None
    }
}

fn single_word(tokens: &[Token], span: &Range<usize>) -> Option<WordId> {
    match single_token(tokens, span) {
        Some(Token::Word(word)) => Some(word),
        _ => None,
    }
}

/// Walks the tree by `words`, creating the missing nodes.
fn descend<'tree>(
    root: &'tree mut Node,
    words: impl Iterator<Item = WordId>,
    config: &MinerConfig,
) -> &'tree mut Node {
    let mut node = root;
    for word in words {
        let known = node.children.contains_key(&word);
        node = if known || node.children.len() < config.max_children {
            node.children.entry(word).or_default()
        } else {
            node.overflow.get_or_insert_with(Box::default)
        };
    }
    node
}

fn descend_readonly<'tree>(
    root: &'tree Node,
    tokens: &[Token],
    config: &MinerConfig,
) -> Option<&'tree Node> {
    let mut node = root;
    for word in leading_words(tokens, config.depth) {
        node = match node.children.get(&word) {
            Some(child) => child,
            None if node.children.len() >= config.max_children => node.overflow.as_deref()?,
            None => return None,
        };
    }
    Some(node)
}

/// The words that route a message: its first `depth` words, skipping separators and masked
/// values so that a message starting with a timestamp or a bracket routes by its text.
fn leading_words(tokens: &[Token], depth: usize) -> impl Iterator<Item = WordId> + '_ {
    tokens
        .iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(*word),
            _ => None,
        })
        .take(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(miner: &TemplateMiner) -> Vec<&str> {
        miner.templates().map(Template::text).collect()
    }

    #[test]
    fn messages_that_differ_in_values_share_a_template() {
        let mut miner = TemplateMiner::default();
        let first = miner.add("Stored chunk c_1 of size 67108864 on /10.0.0.1");
        let second = miner.add("Stored chunk c_2 of size 3 on /10.0.0.2");
        assert_eq!(first, second);
        assert_eq!(texts(&miner), vec!["Stored chunk <*> of size <*> on <*>"]);
        assert_eq!(miner.template(first).map(Template::count), Some(2));
    }

    #[test]
    fn a_few_distinct_words_keep_their_own_templates() {
        let mut miner = TemplateMiner::default();
        for state in ["started", "failed", "started", "retried"] {
            miner.add(&format!("[task: 42] job {state} (scheduler event)"));
        }
        assert_eq!(
            texts(&miner),
            vec![
                "[task: <*>] job started (scheduler event)",
                "[task: <*>] job failed (scheduler event)",
                "[task: <*>] job retried (scheduler event)",
            ]
        );
        let counts: Vec<u64> = miner.templates().map(Template::count).collect();
        assert_eq!(counts, vec![2, 1, 1]);
    }

    #[test]
    fn more_distinct_words_than_the_limit_make_a_wildcard_and_merge_the_templates() {
        let mut miner = TemplateMiner::default();
        let users = ["alice", "bob", "carol", "dave", "erin"];
        let ids: Vec<TemplateId> = users
            .iter()
            .map(|user| miner.add(&format!("session opened for user {user} by sshd")))
            .collect();
        assert_eq!(texts(&miner), vec!["session opened for user <*> by sshd"]);
        let live = miner.templates().next().map(Template::id);
        assert!(ids.iter().all(|id| Some(miner.resolve(*id)) == live));
        assert_eq!(miner.template(ids[0]).map(Template::count), Some(5));
    }

    #[test]
    fn drain_behaviour_without_word_templates() {
        let config = MinerConfig {
            max_word_values: 1,
            ..MinerConfig::default()
        };
        let mut miner = TemplateMiner::new(config).unwrap();
        miner.add("the job started now");
        miner.add("the job failed now");
        assert_eq!(texts(&miner), vec!["the job <*> now"]);
    }

    #[test]
    fn dissimilar_messages_of_one_length_stay_apart() {
        let mut miner = TemplateMiner::default();
        let first = miner.add("Request was rejected quickly");
        let second = miner.add("Request was served from cache");
        assert_ne!(first, second);
    }

    #[test]
    fn a_different_separator_is_a_different_template() {
        let mut miner = TemplateMiner::default();
        let first = miner.add("cache hit: ratio high");
        let second = miner.add("cache hit, ratio high");
        assert_ne!(first, second);
    }

    #[test]
    fn a_wildcard_absorbs_a_list_of_another_length() {
        let mut miner = TemplateMiner::default();
        // Seen first: a message whose value is a list, one group of its own.
        let list = miner.add("Granting read access to: alice,bob now");
        for user in ["alice", "bob", "carol", "dave", "erin"] {
            miner.add(&format!("Granting read access to: {user} now"));
        }
        // The position became a wildcard; the list's group was covered and absorbed.
        assert_eq!(texts(&miner), vec!["Granting read access to: <*> now"]);
        let merged = miner.resolve(list);
        assert_eq!(miner.template(merged).map(Template::count), Some(6));
        // Later lists join directly.
        assert_eq!(miner.add("Granting read access to: root,admin now"), merged);
    }

    #[test]
    fn prose_is_not_a_value() {
        let mut miner = TemplateMiner::default();
        for user in ["alice", "bob", "carol", "dave", "erin"] {
            miner.add(&format!("login failed for {user} today"));
        }
        let other = miner.add("login failed for no reason today");
        assert_eq!(miner.templates().count(), 2);
        assert_eq!(
            miner.template(other).map(Template::text),
            Some("login failed for no reason today")
        );
    }

    #[test]
    fn the_tree_sends_words_past_its_width_to_one_branch() {
        let config = MinerConfig {
            depth: 1,
            max_children: 2,
            ..MinerConfig::default()
        };
        let mut miner = TemplateMiner::new(config).unwrap();
        for first_word in ["alpha", "beta", "gamma", "delta"] {
            miner.add(&format!("{first_word} job finished"));
        }
        let root = &miner.roots[&3];
        assert_eq!(root.children.len(), 2);
        let overflow = root.overflow.as_deref().expect("an overflow branch");
        assert_eq!(overflow.groups.len(), 2);
        // Routing by words skips values and punctuation: both land in the `job` branch.
        let mut miner = TemplateMiner::new(MinerConfig {
            depth: 1,
            ..MinerConfig::default()
        })
        .unwrap();
        let first = miner.add("12:00:01 job started");
        let second = miner.add("[12:00:02] job started");
        assert_eq!(first, second);
        assert_eq!(miner.roots[&3].children.len(), 1);
    }

    #[test]
    fn match_only_finds_without_learning() {
        let mut miner = TemplateMiner::default();
        let id = miner.add("Connection from 10.0.0.1:5000 closed");
        miner.add("Connection from 10.0.0.2:5001 closed");
        assert_eq!(
            miner.match_only("Connection from 10.9.9.9:1 closed"),
            Some(id)
        );
        assert_eq!(miner.match_only("Connection from 10.9.9.9:1 reset"), None);
        assert_eq!(miner.match_only("something else entirely"), None);
        assert_eq!(miner.templates().map(Template::count).sum::<u64>(), 2);
    }

    #[test]
    fn match_only_tells_word_templates_apart() {
        let mut miner = TemplateMiner::default();
        let started = miner.add("cache hit (region eu)");
        let stopped = miner.add("cache miss (region eu)");
        assert_eq!(miner.match_only("cache hit (region eu)"), Some(started));
        assert_eq!(miner.match_only("cache miss (region eu)"), Some(stopped));
        assert_eq!(miner.match_only("cache exploded (region eu)"), None);
    }

    #[test]
    fn tokens_of_a_template() {
        let mut miner = TemplateMiner::default();
        let id = miner.add("status: 200 len: 1893");
        assert_eq!(
            miner.tokens(id),
            Some(
                vec!["status", ":", "<*>", "len", ":", "<*>"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            )
        );
    }

    #[test]
    fn same_messages_same_templates() {
        let messages: Vec<String> = (0..200)
            .map(|index| match index % 4 {
                0 => format!("user u{index} logged in from 10.0.0.{}", index % 9),
                1 => format!("job {index} finished in {} ms", index * 3),
                2 => format!("cache {} for key k{index}", ["hit", "miss"][index % 2]),
                _ => format!("queue depth {index} over limit"),
            })
            .collect();
        let mine = || {
            let mut miner = TemplateMiner::default();
            let ids: Vec<TemplateId> = messages.iter().map(|message| miner.add(message)).collect();
            let resolved: Vec<TemplateId> = ids.iter().map(|id| miner.resolve(*id)).collect();
            let templates: Vec<(TemplateId, String, u64)> = miner
                .templates()
                .map(|template| (template.id(), template.text().to_owned(), template.count()))
                .collect();
            (resolved, templates)
        };
        assert_eq!(mine(), mine());
    }

    #[test]
    fn invalid_configurations_are_refused() {
        let threshold = MinerConfig {
            similarity_threshold: 1.5,
            ..MinerConfig::default()
        };
        assert_eq!(
            TemplateMiner::new(threshold).err(),
            Some(ConfigError::SimilarityThreshold(1.5))
        );
        let depth = MinerConfig {
            depth: 0,
            ..MinerConfig::default()
        };
        assert_eq!(TemplateMiner::new(depth).err(), Some(ConfigError::Depth));
        let children = MinerConfig {
            max_children: 0,
            ..MinerConfig::default()
        };
        assert_eq!(
            TemplateMiner::new(children).err(),
            Some(ConfigError::MaxChildren)
        );
    }
}
