//! The items of an export that could not be used, counted exactly and explained by a few
//! examples: what OTLP partial success reports (`rejected_spans` plus `error_message`).
//!
//! Only the first [`Rejections::MAX_MESSAGES`] explanations are kept, and they are only
//! formatted while there is room, so that a request of a million bad spans costs a counter,
//! not a million strings. Turning this into a protocol answer is the server's job.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    /// How many items (spans, data points, log records) were dropped.
    pub count: u64,
    /// Why, for the first few of them; lowercase, no trailing period.
    pub messages: Vec<String>,
    /// Explanations not kept because `messages` was full.
    pub omitted_messages: u64,
}

impl Rejections {
    pub const MAX_MESSAGES: usize = 10;

    pub fn new() -> Rejections {
        Rejections::default()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.messages.is_empty()
    }

    /// Counts `items` dropped items, explained by `message` (only called if there is room).
    pub fn reject(&mut self, items: u64, message: impl FnOnce() -> String) {
        self.count += items;
        self.explain(message);
    }

    /// Records something the client should know that dropped no item (for example a span
    /// link with a malformed id, dropped while its span was kept).
    pub fn note(&mut self, message: impl FnOnce() -> String) {
        self.explain(message);
    }

    fn explain(&mut self, message: impl FnOnce() -> String) {
        if self.messages.len() < Self::MAX_MESSAGES {
            self.messages.push(message());
        } else {
            self.omitted_messages += 1;
        }
    }

    /// Adds the other's counts and as many of its messages as there is room for.
    pub fn merge(&mut self, other: Rejections) {
        self.count += other.count;
        let room = Self::MAX_MESSAGES.saturating_sub(self.messages.len());
        let kept = other.messages.len().min(room);
        self.omitted_messages += other.omitted_messages + (other.messages.len() - kept) as u64;
        self.messages.extend(other.messages.into_iter().take(kept));
    }

    /// The messages joined for a partial-success `error_message`, saying how many were left out.
    pub fn summary(&self) -> String {
        let mut summary = self.messages.join("; ");
        if self.omitted_messages > 0 {
            summary.push_str(&format!(" (and {} more)", self.omitted_messages));
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_item_but_keeps_only_a_few_messages() {
        let mut rejections = Rejections::new();
        let mut formatted = 0;
        for index in 0..25 {
            rejections.reject(2, || {
                formatted += 1;
                format!("item {index}")
            });
        }
        assert_eq!(rejections.count, 50);
        assert_eq!(rejections.messages.len(), Rejections::MAX_MESSAGES);
        assert_eq!(formatted, Rejections::MAX_MESSAGES);
        assert_eq!(rejections.omitted_messages, 15);
        assert!(rejections.summary().ends_with("item 9 (and 15 more)"));
    }

    #[test]
    fn merge_adds_counts_and_bounds_messages() {
        let mut first = Rejections::new();
        for index in 0..8 {
            first.reject(1, || format!("first {index}"));
        }
        let mut second = Rejections::new();
        for index in 0..5 {
            second.reject(3, || format!("second {index}"));
        }
        second.note(|| String::from("a note"));
        first.merge(second);
        assert_eq!(first.count, 8 + 15);
        assert_eq!(first.messages.len(), Rejections::MAX_MESSAGES);
        assert_eq!(first.messages[9], "second 1");
        assert_eq!(first.omitted_messages, 4);
    }

    #[test]
    fn a_note_explains_without_counting() {
        let mut rejections = Rejections::new();
        rejections.note(|| String::from("link 0 dropped"));
        assert_eq!(rejections.count, 0);
        assert!(!rejections.is_empty());
    }
}
