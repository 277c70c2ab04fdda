//! Recorded change events (`POST /api/v1/changes`): deployments, configuration and feature
//! flag changes, migrations. Investigations look for them near the start of a breach. They are
//! appended to `<data>/changes.jsonl`, one JSON object per line, and read back at start.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sloscope_investigate::ChangeEvent;
use sloscope_model::TimeRange;
use tracing::warn;

pub struct Changes {
    path: PathBuf,
    events: Mutex<Vec<ChangeEvent>>,
}

impl Changes {
    /// Reads the recorded changes; a line that does not parse is skipped with a warning
    /// (a torn last line after a crash, or a hand edit).
    pub fn open(data_dir: &Path) -> Changes {
        let path = data_dir.join("changes.jsonl");
        let mut events = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for (number, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<ChangeEvent>(line) {
                    Ok(event) => events.push(event),
                    Err(error) => {
                        warn!(path = %path.display(), line = number + 1, %error, "skipping an unreadable change event")
                    }
                }
            }
        }
        events.sort_by_key(|event| event.time_unix_nano);
        Changes {
            path,
            events: Mutex::new(events),
        }
    }

    /// Appends the event to the file (synced) before it is visible.
    pub fn record(&self, event: ChangeEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_string(&event).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut events = self.events.lock().expect("changes lock");
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        let position = events.partition_point(|known| known.time_unix_nano <= event.time_unix_nano);
        events.insert(position, event);
        Ok(())
    }

    /// The changes in `range`, oldest first.
    pub fn between(&self, range: TimeRange) -> Vec<ChangeEvent> {
        self.events
            .lock()
            .expect("changes lock")
            .iter()
            .filter(|event| range.contains(event.time_unix_nano))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(time: u64, service: &str) -> ChangeEvent {
        ChangeEvent {
            time_unix_nano: time,
            service: service.into(),
            kind: "deployment".into(),
            description: format!("{service} deployed"),
            version: Some("1.2.3".into()),
        }
    }

    #[test]
    fn recorded_changes_survive_a_restart_and_are_found_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let changes = Changes::open(dir.path());
        changes.record(change(30, "orders")).unwrap();
        changes.record(change(10, "customers")).unwrap();
        let reopened = Changes::open(dir.path());
        let found = reopened.between(TimeRange::new(0, 20));
        assert_eq!(found, vec![change(10, "customers")]);
        assert_eq!(reopened.between(TimeRange::new(0, 100)).len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        Changes::open(dir.path())
            .record(change(10, "orders"))
            .unwrap();
        let path = dir.path().join("changes.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"time_unix_nano\": 2");
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            Changes::open(dir.path())
                .between(TimeRange::new(0, 100))
                .len(),
            1
        );
    }
}
