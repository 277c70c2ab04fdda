//! A DDSketch-style latency sketch: values fall into logarithmic bins so that every quantile
//! it reports is within 1 % (relative) of a true value of the data, and two sketches merge by
//! adding bins. This is what makes a percentile over any window, or the share of requests
//! under a threshold chosen after the fact, computable from per-minute rollups.
//!
//! Values are milliseconds. Bins are kept dense between the lowest and highest occupied index;
//! at most `MAX_BINS` are kept, collapsing the lowest ones (only the fastest requests lose
//! accuracy, the tail quantiles that SLOs care about never do).

use thiserror::Error;

pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Values below this (in ms) count as zero: one nanosecond is below what a span can resolve.
const MIN_INDEXABLE: f64 = 1e-6;
const MAX_BINS: usize = 4096;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencySketch {
    zero_count: u64,
    /// Index of `bins[0]`.
    offset: i32,
    bins: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

#[derive(Debug, Error, PartialEq)]
pub enum SketchDecodeError {
    #[error("sketch bytes end early")]
    Truncated,
}

impl LatencySketch {
    pub fn new() -> LatencySketch {
        LatencySketch::default()
    }

    fn index_of(value: f64) -> i32 {
        (value.ln() / gamma().ln()).ceil() as i32
    }

    /// The value a bin stands for: within RELATIVE_ACCURACY of anything in the bin.
    fn value_of(index: i32) -> f64 {
        let gamma = gamma();
        2.0 * gamma.powi(index) / (gamma + 1.0)
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    pub fn add(&mut self, value_ms: f64) {
        self.add_many(value_ms, 1);
    }

    pub fn add_many(&mut self, value_ms: f64, times: u64) {
        if times == 0 || value_ms.is_nan() {
            return;
        }
        let value = value_ms.max(0.0);
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += times;
        self.sum += value * times as f64;
        if value < MIN_INDEXABLE {
            self.zero_count += times;
        } else {
            self.add_to_bin(Self::index_of(value), times);
        }
    }

    fn add_to_bin(&mut self, index: i32, times: u64) {
        if self.bins.is_empty() {
            self.offset = index;
            self.bins.push(times);
            return;
        }
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.bins.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let position = (index - self.offset) as usize;
        if position >= self.bins.len() {
            self.bins.resize(position + 1, 0);
        }
        self.bins[position] += times;
        self.collapse_lowest();
    }

    fn collapse_lowest(&mut self) {
        if self.bins.len() <= MAX_BINS {
            return;
        }
        let excess = self.bins.len() - MAX_BINS;
        let folded: u64 = self.bins.drain(..excess).sum();
        self.bins[0] += folded;
        self.offset += excess as i32;
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count += other.count;
        self.sum += other.sum;
        self.zero_count += other.zero_count;
        if other.bins.is_empty() {
            return;
        }
        if self.bins.is_empty() {
            self.offset = other.offset;
            self.bins = other.bins.clone();
            return;
        }
        let low = self.offset.min(other.offset);
        let high =
            (self.offset + self.bins.len() as i32).max(other.offset + other.bins.len() as i32);
        if low < self.offset {
            let grow = (self.offset - low) as usize;
            self.bins.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = low;
        }
        self.bins.resize((high - low) as usize, 0);
        let start = (other.offset - self.offset) as usize;
        for (slot, count) in self.bins[start..].iter_mut().zip(&other.bins) {
            *slot += count;
        }
        self.collapse_lowest();
    }

    /// The q-quantile (0 <= q <= 1) in ms, within 1 % of a value of the data; None when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        if q == 0.0 {
            return Some(self.min);
        }
        if q == 1.0 {
            return Some(self.max);
        }
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = self.zero_count;
        if rank < seen {
            return Some(0.0);
        }
        for (position, bin_count) in self.bins.iter().enumerate() {
            seen += bin_count;
            if rank < seen {
                let value = Self::value_of(self.offset + position as i32);
                return Some(value.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// How many recorded values are at most `threshold_ms`, as the sketch sees it: a bin counts
    /// when the value it stands for is at most the threshold.
    pub fn count_at_most(&self, threshold_ms: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        if threshold_ms >= self.max {
            return self.count;
        }
        if threshold_ms < self.min {
            return 0;
        }
        let mut below = self.zero_count;
        for (position, bin_count) in self.bins.iter().enumerate() {
            if Self::value_of(self.offset + position as i32) > threshold_ms {
                break;
            }
            below += bin_count;
        }
        below
    }

    /// A compact byte form: varints for the counts, so a rollup of a quiet minute is a few bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.count);
        if self.count == 0 {
            return;
        }
        out.extend_from_slice(&self.sum.to_le_bytes());
        out.extend_from_slice(&self.min.to_le_bytes());
        out.extend_from_slice(&self.max.to_le_bytes());
        put_varint(out, self.zero_count);
        put_varint(out, zigzag(self.offset));
        put_varint(out, self.bins.len() as u64);
        for bin_count in &self.bins {
            put_varint(out, *bin_count);
        }
    }

    pub fn decode(input: &mut &[u8]) -> Result<LatencySketch, SketchDecodeError> {
        let count = get_varint(input)?;
        if count == 0 {
            return Ok(LatencySketch::default());
        }
        let sum = get_f64(input)?;
        let min = get_f64(input)?;
        let max = get_f64(input)?;
        let zero_count = get_varint(input)?;
        let offset = unzigzag(get_varint(input)?);
        let length = get_varint(input)? as usize;
        if length > MAX_BINS {
            return Err(SketchDecodeError::Truncated);
        }
        let mut bins = Vec::with_capacity(length);
        for _ in 0..length {
            bins.push(get_varint(input)?);
        }
        Ok(LatencySketch {
            zero_count,
            offset,
            bins,
            count,
            sum,
            min,
            max,
        })
    }
}

fn zigzag(value: i32) -> u64 {
    ((value << 1) ^ (value >> 31)) as u32 as u64
}

fn unzigzag(value: u64) -> i32 {
    let value = value as u32;
    ((value >> 1) as i32) ^ -((value & 1) as i32)
}

pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub fn get_varint(input: &mut &[u8]) -> Result<u64, SketchDecodeError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(SketchDecodeError::Truncated)?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(SketchDecodeError::Truncated)
}

fn get_f64(input: &mut &[u8]) -> Result<f64, SketchDecodeError> {
    let (head, rest) = input
        .split_first_chunk::<8>()
        .ok_or(SketchDecodeError::Truncated)?;
    *input = rest;
    Ok(f64::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    proptest! {
        #[test]
        fn quantiles_are_within_one_percent(values in prop::collection::vec(0.001f64..100_000.0, 1..2000), q in 0.0f64..1.0) {
            let mut sketch = LatencySketch::new();
            for value in &values { sketch.add(*value); }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let expected = exact_quantile(&sorted, q);
            let reported = sketch.quantile(q).unwrap();
            prop_assert!((reported - expected).abs() <= expected * RELATIVE_ACCURACY + 1e-9,
                "q={q} expected {expected} reported {reported}");
        }

        #[test]
        fn merging_equals_adding_everything(left in prop::collection::vec(0.0f64..10_000.0, 0..500), right in prop::collection::vec(0.0f64..10_000.0, 0..500)) {
            let mut merged = LatencySketch::new();
            let mut other = LatencySketch::new();
            let mut all = LatencySketch::new();
            for value in &left { merged.add(*value); all.add(*value); }
            for value in &right { other.add(*value); all.add(*value); }
            merged.merge(&other);
            prop_assert_eq!(merged.count(), all.count());
            for q in [0.5, 0.9, 0.99] {
                prop_assert_eq!(merged.quantile(q), all.quantile(q));
            }
        }

        #[test]
        fn encoding_round_trips(values in prop::collection::vec(0.0f64..1e6, 0..300)) {
            let mut sketch = LatencySketch::new();
            for value in &values { sketch.add(*value); }
            let mut bytes = Vec::new();
            sketch.encode(&mut bytes);
            let decoded = LatencySketch::decode(&mut bytes.as_slice()).unwrap();
            prop_assert_eq!(decoded, sketch);
        }
    }

    #[test]
    fn counts_under_a_threshold() {
        let mut sketch = LatencySketch::new();
        for millis in 1..=1000 {
            sketch.add(millis as f64);
        }
        let under = sketch.count_at_most(200.0);
        assert!((198..=202).contains(&under), "{under}");
        assert_eq!(sketch.count_at_most(5000.0), 1000);
        assert_eq!(sketch.count_at_most(0.5), 0);
    }

    #[test]
    fn truncated_bytes_are_an_error() {
        let mut sketch = LatencySketch::new();
        sketch.add(12.0);
        let mut bytes = Vec::new();
        sketch.encode(&mut bytes);
        bytes.truncate(bytes.len() - 1);
        assert_eq!(
            LatencySketch::decode(&mut bytes.as_slice()),
            Err(SketchDecodeError::Truncated)
        );
    }
}
