//! YAML documents as a tree of values that each know their line and column, so that checks
//! made after parsing (an objective of 100, a short window longer than its long window) can
//! still point at the line that holds the value. Serde's derive would stop at the first error
//! and forget where values came from; walking this tree reports every error of a file.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use super::SpecError;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: u64,
    pub column: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; keys are nodes too, so unknown keys have a position.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What the value is, for "must be X, got Y" messages.
    pub fn describe(&self) -> Cow<'static, str> {
        match &self.value {
            Value::Null => "nothing".into(),
            Value::Bool(value) => format!("`{value}`").into(),
            Value::Int(value) => format!("the number {value}").into(),
            Value::Float(value) => format!("the number {value}").into(),
            Value::Str(text) => format!("the text `{text}`").into(),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(value) => Some(value as f64),
            Value::Float(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// A scalar as text: strings as they are, numbers and booleans as written by Rust.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(text) => Some(text.clone()),
            Value::Int(value) => Some(value.to_string()),
            Value::Float(value) => Some(value.to_string()),
            Value::Bool(value) => Some(value.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(name, _)| name.scalar_text().as_deref() == Some(key))
            .map(|(_, value)| value)
    }

    /// Whether two nodes hold the same value, wherever they are written.
    pub fn same_value(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (Value::Seq(left), Value::Seq(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .zip(right)
                        .all(|(left, right)| left.same_value(right))
            }
            (Value::Map(left), Value::Map(right)) => {
                left.len() == right.len()
                    && left.iter().zip(right).all(
                        |((left_key, left_value), (right_key, right_value))| {
                            left_key.same_value(right_key) && left_value.same_value(right_value)
                        },
                    )
            }
            (left, right) => left == right,
        }
    }

    /// The mapping's keys as text with their position (non-scalar keys are skipped).
    pub fn keys(&self) -> Vec<(String, Pos)> {
        self.as_map()
            .unwrap_or_default()
            .iter()
            .filter_map(|(key, _)| Some((key.scalar_text()?, key.pos)))
            .collect()
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            pos: Pos {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Int(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
    }

    fn visit_i128<E>(self, value: i128) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
    }

    fn visit_u128<E>(self, value: u128) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::Float(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::Str(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = access.next_key::<Node>()? {
            let value = access.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// Every document of a YAML stream (empty documents are skipped). A syntax error ends the
/// stream: what follows it cannot be read reliably.
pub(crate) fn load_documents(source_name: &str, text: &str) -> Result<Vec<Node>, SpecError> {
    let options = serde_saphyr::options! {
        // `yes`, `no`, `on`, `off` stay text: `tier: no` must not become false.
        strict_booleans: true,
        with_snippet: false,
    };
    serde_saphyr::from_str_multiple_with_options::<Node, Vec<Node>>(text, options).map_err(
        |error| {
            let location = error.location();
            let message = UserMessageFormatter.format_message(&error);
            SpecError {
                file: source_name.to_string(),
                line: location.map(|location| location.line()),
                column: location.map(|location| location.column()),
                field: String::new(),
                message: format!("invalid YAML: {}", message.escape_debug()),
            }
        },
    )
}

/// Collects the errors of one file.
pub(crate) struct Report {
    source_name: String,
    pub errors: Vec<SpecError>,
}

impl Report {
    pub fn new(source_name: &str) -> Report {
        Report {
            source_name: source_name.to_string(),
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.errors.push(SpecError {
            file: self.source_name.clone(),
            line: Some(pos.line),
            column: Some(pos.column),
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// `parent.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn index(path: &str, position: usize) -> String {
    format!("{path}[{position}]")
}

/// A mapping whose keys were checked against the allowed ones.
pub(crate) struct Fields<'a> {
    node: &'a Node,
    path: String,
}

impl<'a> Fields<'a> {
    /// Reports a value that is not a mapping, and every key that is not allowed (with the
    /// closest allowed one when it looks like a typo).
    pub fn open(
        node: &'a Node,
        path: &str,
        allowed: &[&str],
        report: &mut Report,
    ) -> Option<Fields<'a>> {
        let Some(entries) = node.as_map() else {
            report.error(
                node.pos,
                path,
                format!("must be a mapping, got {}", node.describe()),
            );
            return None;
        };
        for (key, _) in entries {
            let name = key.scalar_text().unwrap_or_default();
            if !allowed.contains(&name.as_str()) {
                report.error(
                    key.pos,
                    &join(path, &name),
                    unknown_field_message(&name, allowed),
                );
            }
        }
        Some(Fields {
            node,
            path: path.to_string(),
        })
    }

    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.node.get(key)
    }

    /// The value, or an error at the mapping when it is missing.
    pub fn required(&self, key: &str, report: &mut Report) -> Option<&'a Node> {
        let value = self.get(key);
        if value.is_none() {
            report.error(
                self.node.pos,
                &join(&self.path, key),
                "required field is missing",
            );
        }
        value
    }

    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn pos(&self) -> Pos {
        self.node.pos
    }
}

pub(crate) fn unknown_field_message(name: &str, allowed: &[&str]) -> String {
    let expected = allowed
        .iter()
        .map(|field| format!("`{field}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let closest = allowed
        .iter()
        .map(|field| (edit_distance(name, field), *field))
        .min();
    match closest {
        Some((distance, field)) if distance <= 2 && distance < name.len() => {
            format!("unknown field `{name}` (did you mean `{field}`?), expected one of {expected}")
        }
        _ => format!("unknown field `{name}`, expected one of {expected}"),
    }
}

fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_char) in left.chars().enumerate() {
        let mut current = vec![row + 1];
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != *right_char);
            current.push(
                substitution
                    .min(previous[column + 1] + 1)
                    .min(current[column] + 1),
            );
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_line_and_column_across_documents() {
        let text =
            "name: a\nobjective: 99.9\nlabels: {tier: \"1\", on: no}\n---\nname: b\nlist:\n  - x\n";
        let documents = load_documents("f.yaml", text).unwrap();
        assert_eq!(documents.len(), 2);
        let objective = documents[0].get("objective").unwrap();
        assert_eq!(objective.value, Value::Float(99.9));
        assert_eq!(
            objective.pos,
            Pos {
                line: 2,
                column: 12
            }
        );
        let labels = documents[0].get("labels").unwrap();
        assert_eq!(labels.get("tier").unwrap().as_str(), Some("1"));
        // YAML 1.1 booleans stay text.
        assert_eq!(labels.get("on").unwrap().as_str(), Some("no"));
        let item = &documents[1].get("list").unwrap().as_seq().unwrap()[0];
        assert_eq!(item.pos, Pos { line: 7, column: 5 });
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let error = load_documents("f.yaml", "a: 1\na: 2\n").unwrap_err();
        assert_eq!((error.line, error.column), (Some(2), Some(1)));
        assert!(error.message.contains("duplicate"), "{}", error.message);
    }

    #[test]
    fn unknown_fields_suggest_the_closest() {
        assert_eq!(
            unknown_field_message("objectve", &["name", "objective"]),
            "unknown field `objectve` (did you mean `objective`?), expected one of `name`, `objective`"
        );
        assert_eq!(
            unknown_field_message("zzz", &["name"]),
            "unknown field `zzz`, expected one of `name`"
        );
    }
}
