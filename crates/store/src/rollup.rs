//! Signal rollups: per minute, per signal key, the counts and latency sketch of the requests.
//! They answer every signal query (a percentile over a month is a merge of minutes), and they
//! are what keeps a 30-day SLO cheap to evaluate.
//!
//! In memory they are a map from minute to keys. On disk each roll writes the deltas it
//! covers as one file (`rollups/NNNNNN.rollup`): a magic, varint-encoded rows, and a trailing
//! crc32. Loading merges all files; when too many pile up they are compacted into one.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;

use sloscope_model::{
    LatencySketch, MINUTE_NANOS, SignalKey, SignalKind, SignalRow, SignalStats, TimeRange,
    get_varint, minute_of, put_varint,
};

const MAGIC: &[u8; 8] = b"SLORUP01";

pub use sloscope_ingest::SignalDeltas;

/// A filter over signal keys; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct SignalFilter {
    pub kind: Option<SignalKind>,
    pub environment: Option<String>,
    pub service: Option<String>,
    pub operation: Option<String>,
    pub remote_service: Option<String>,
}

impl SignalFilter {
    pub fn matches(&self, key: &SignalKey) -> bool {
        let same = |wanted: &Option<String>, actual: &str| {
            wanted.as_deref().is_none_or(|value| value == actual)
        };
        self.kind.is_none_or(|kind| kind == key.kind)
            && same(&self.environment, &key.environment)
            && same(&self.service, &key.service)
            && same(&self.operation, &key.operation)
            && same(&self.remote_service, &key.remote_service)
    }
}

/// The minutes `[from, to)` a time range covers: every minute it touches.
pub fn minute_span(range: TimeRange) -> (i64, i64) {
    (
        minute_of(range.from),
        minute_of(range.to.saturating_add(MINUTE_NANOS - 1)),
    )
}

#[derive(Default)]
pub struct Rollups {
    minutes: BTreeMap<i64, HashMap<SignalKey, SignalStats>>,
    /// The same stats merged per hour (keyed by the hour's first minute): a week is 168
    /// merges per key instead of 10,080.
    hours: BTreeMap<i64, HashMap<SignalKey, SignalStats>>,
}

fn merge_into(
    map: &mut BTreeMap<i64, HashMap<SignalKey, SignalStats>>,
    slot: i64,
    key: &SignalKey,
    stats: &SignalStats,
) {
    let keys = map.entry(slot).or_default();
    match keys.get_mut(key) {
        Some(existing) => existing.merge(stats),
        None => {
            keys.insert(key.clone(), stats.clone());
        }
    }
}

impl Rollups {
    pub fn merge_deltas(&mut self, deltas: &SignalDeltas) {
        for ((minute, key), stats) in deltas {
            self.merge_one(*minute, key, stats);
        }
    }

    fn merge_one(&mut self, minute: i64, key: &SignalKey, stats: &SignalStats) {
        merge_into(&mut self.minutes, minute, key, stats);
        merge_into(&mut self.hours, minute - minute.rem_euclid(60), key, stats);
    }

    /// Stats of matching keys in `[from_minute, to_minute)`, merged per key and per bucket of
    /// `step_minutes` (aligned to multiples of the step since the epoch), or over the whole
    /// range when `step_minutes` is None. Whole hours come from the hour tier when buckets are
    /// whole hours. Rows carry the bucket's first minute (the range's for a single bucket).
    pub fn buckets<'a>(
        &'a self,
        from_minute: i64,
        to_minute: i64,
        filter: &SignalFilter,
        step_minutes: Option<i64>,
    ) -> Vec<SignalRow> {
        if from_minute >= to_minute {
            return Vec::new();
        }
        let bucket_of = |minute: i64| match step_minutes {
            Some(step) => minute - minute.rem_euclid(step),
            None => from_minute,
        };
        let mut merged: HashMap<(i64, &SignalKey), SignalStats> = HashMap::new();
        let mut add =
            |map: &'a BTreeMap<i64, HashMap<SignalKey, SignalStats>>, from: i64, to: i64| {
                for (slot, keys) in map.range(from..to) {
                    let bucket = bucket_of(*slot);
                    for (key, stats) in keys {
                        if filter.matches(key) {
                            merged.entry((bucket, key)).or_default().merge(stats);
                        }
                    }
                }
            };
        let hours_usable = step_minutes.is_none_or(|step| step % 60 == 0);
        let first_whole_hour = from_minute + (60 - from_minute.rem_euclid(60)) % 60;
        let end_of_whole_hours = to_minute - to_minute.rem_euclid(60);
        if hours_usable && first_whole_hour < end_of_whole_hours {
            add(&self.minutes, from_minute, first_whole_hour);
            add(&self.hours, first_whole_hour, end_of_whole_hours);
            add(&self.minutes, end_of_whole_hours, to_minute);
        } else {
            add(&self.minutes, from_minute, to_minute);
        }
        let mut rows: Vec<SignalRow> = merged
            .into_iter()
            .map(|((minute, key), stats)| SignalRow {
                minute,
                key: key.clone(),
                stats,
            })
            .collect();
        rows.sort_by(|left, right| (left.minute, &left.key).cmp(&(right.minute, &right.key)));
        rows
    }

    /// Rows of the minutes in `[from_minute, to_minute)` whose key matches.
    pub fn query(&self, from_minute: i64, to_minute: i64, filter: &SignalFilter) -> Vec<SignalRow> {
        let mut rows = Vec::new();
        if from_minute >= to_minute {
            return rows;
        }
        for (minute, keys) in self.minutes.range(from_minute..to_minute) {
            for (key, stats) in keys {
                if filter.matches(key) {
                    rows.push(SignalRow {
                        minute: *minute,
                        key: key.clone(),
                        stats: stats.clone(),
                    });
                }
            }
        }
        rows
    }

    pub fn drop_before(&mut self, minute: i64) {
        self.minutes = self.minutes.split_off(&minute);
        // An hour partly before the cutoff keeps its minutes after it, so rebuild it.
        let first_hour = minute - minute.rem_euclid(60);
        self.hours = self.hours.split_off(&first_hour);
        if first_hour < minute {
            self.hours.remove(&first_hour);
            let kept: Vec<(i64, SignalKey, SignalStats)> = self
                .minutes
                .range(first_hour..first_hour + 60)
                .flat_map(|(slot, keys)| {
                    keys.iter()
                        .map(move |(key, stats)| (*slot, key.clone(), stats.clone()))
                })
                .collect();
            for (_, key, stats) in kept {
                merge_into(&mut self.hours, first_hour, &key, &stats);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.minutes.values().map(HashMap::len).sum()
    }

    /// Writes every row, for compaction.
    pub fn write_all(&self, path: &Path) -> io::Result<()> {
        let rows = self
            .minutes
            .iter()
            .flat_map(|(minute, keys)| keys.iter().map(move |(key, stats)| (*minute, key, stats)));
        write_file(path, rows)
    }

    pub fn load_file(&mut self, path: &Path) -> io::Result<()> {
        let bytes = fs::read(path)?;
        let corrupt = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("rollup file {} is corrupt", path.display()),
            )
        };
        if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt());
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body).to_le_bytes() != checksum {
            return Err(corrupt());
        }
        let mut input = &body[MAGIC.len()..];
        let rows = get_varint(&mut input).map_err(|_| corrupt())?;
        for _ in 0..rows {
            let (minute, key, stats) = decode_row(&mut input).ok_or_else(corrupt)?;
            self.merge_one(minute, &key, &stats);
        }
        Ok(())
    }
}

/// Writes deltas as a rollup file, atomically (temporary name, fsync, rename).
pub fn write_deltas(path: &Path, deltas: &SignalDeltas) -> io::Result<()> {
    write_file(
        path,
        deltas
            .iter()
            .map(|((minute, key), stats)| (*minute, key, stats)),
    )
}

fn write_file<'a>(
    path: &Path,
    rows: impl Iterator<Item = (i64, &'a SignalKey, &'a SignalStats)>,
) -> io::Result<()> {
    let mut body = Vec::with_capacity(1 << 16);
    let mut count = 0u64;
    for (minute, key, stats) in rows {
        encode_row(&mut body, minute, key, stats);
        count += 1;
    }
    let mut bytes = Vec::with_capacity(body.len() + 24);
    bytes.extend_from_slice(MAGIC);
    put_varint(&mut bytes, count);
    bytes.extend_from_slice(&body);
    let checksum = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    crate::files::write_atomically(path, &bytes)
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn get_text(input: &mut &[u8]) -> Option<String> {
    let length = get_varint(input).ok()? as usize;
    if input.len() < length {
        return None;
    }
    let (text, rest) = input.split_at(length);
    *input = rest;
    String::from_utf8(text.to_vec()).ok()
}

fn encode_row(out: &mut Vec<u8>, minute: i64, key: &SignalKey, stats: &SignalStats) {
    put_varint(out, minute.max(0) as u64);
    out.push(match key.kind {
        SignalKind::Server => 0,
        SignalKind::Dependency => 1,
    });
    for text in [
        &key.environment,
        &key.service,
        &key.operation,
        &key.remote_service,
        &key.remote_operation,
        &key.version,
    ] {
        put_text(out, text);
    }
    put_varint(out, stats.requests);
    put_varint(out, stats.faults);
    put_varint(out, stats.errors);
    stats.latency.encode(out);
}

fn decode_row(input: &mut &[u8]) -> Option<(i64, SignalKey, SignalStats)> {
    let minute = get_varint(input).ok()? as i64;
    let (&kind_byte, rest) = input.split_first()?;
    *input = rest;
    let kind = if kind_byte == 0 {
        SignalKind::Server
    } else {
        SignalKind::Dependency
    };
    let key = SignalKey {
        kind,
        environment: get_text(input)?,
        service: get_text(input)?,
        operation: get_text(input)?,
        remote_service: get_text(input)?,
        remote_operation: get_text(input)?,
        version: get_text(input)?,
    };
    let stats = SignalStats {
        requests: get_varint(input).ok()?,
        faults: get_varint(input).ok()?,
        errors: get_varint(input).ok()?,
        latency: LatencySketch::decode(input).ok()?,
    };
    Some((minute, key, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(service: &str) -> SignalKey {
        SignalKey {
            kind: SignalKind::Server,
            environment: "default".into(),
            service: service.into(),
            operation: "GET /".into(),
            remote_service: String::new(),
            remote_operation: String::new(),
            version: "1".into(),
        }
    }

    #[test]
    fn files_round_trip_and_merge() {
        let directory = tempfile::tempdir().unwrap();
        let mut deltas = SignalDeltas::new();
        let mut stats = SignalStats::default();
        stats.record(12.0, true, false);
        stats.record(30.0, false, true);
        deltas.insert((100, key("a")), stats.clone());
        deltas.insert((101, key("b")), stats.clone());
        let path = directory.path().join("1.rollup");
        write_deltas(&path, &deltas).unwrap();
        let mut rollups = Rollups::default();
        rollups.load_file(&path).unwrap();
        rollups.load_file(&path).unwrap();
        let rows = rollups.query(
            100,
            102,
            &SignalFilter {
                service: Some("a".into()),
                ..SignalFilter::default()
            },
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].stats.requests, 4);
        assert_eq!(rows[0].stats.faults, 2);
        assert_eq!(rows[0].stats.errors, 2);
    }

    #[test]
    fn buckets_from_hours_equal_buckets_from_minutes() {
        let mut rollups = Rollups::default();
        let mut deltas = SignalDeltas::new();
        for minute in 0..600 {
            let mut stats = SignalStats::default();
            stats.record(
                f64::from((minute % 37) as u32) + 1.0,
                minute % 11 == 0,
                false,
            );
            deltas.insert(
                (minute, key(if minute % 2 == 0 { "a" } else { "b" })),
                stats,
            );
        }
        rollups.merge_deltas(&deltas);
        let filter = SignalFilter::default();
        // Hour-aligned buckets use the hour tier; 7-minute buckets cannot.
        for (from, to) in [(0, 600), (13, 587), (59, 61)] {
            let from_hours = rollups.buckets(from, to, &filter, Some(120));
            let mut expected: std::collections::BTreeMap<(i64, String), SignalStats> =
                Default::default();
            for row in rollups.query(from, to, &filter) {
                expected
                    .entry((
                        row.minute - row.minute.rem_euclid(120),
                        row.key.service.clone(),
                    ))
                    .or_default()
                    .merge(&row.stats);
            }
            assert_eq!(from_hours.len(), expected.len());
            for row in from_hours {
                let wanted = &expected[&(row.minute, row.key.service.clone())];
                assert_eq!(
                    (row.stats.requests, row.stats.faults),
                    (wanted.requests, wanted.faults)
                );
                assert_eq!(
                    row.stats.latency.quantile(0.99),
                    wanted.latency.quantile(0.99)
                );
            }
        }
        let whole = rollups.buckets(13, 587, &filter, None);
        assert_eq!(whole.iter().map(|row| row.stats.requests).sum::<u64>(), 574);
        rollups.drop_before(90);
        let after_drop = rollups.buckets(0, 600, &filter, None);
        assert_eq!(
            after_drop.iter().map(|row| row.stats.requests).sum::<u64>(),
            510
        );
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_panic() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("bad.rollup");
        fs::write(&path, b"SLORUP01garbage").unwrap();
        assert!(Rollups::default().load_file(&path).is_err());
    }
}
