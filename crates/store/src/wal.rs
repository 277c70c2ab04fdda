//! The write-ahead log: every accepted export is appended here before it is acknowledged, so a
//! crashed process loses nothing it acknowledged.
//!
//! A log is a directory of files `NNNNNNNNNNNNNNNNNNNN.wal` named after the sequence number of
//! their first record. Each file starts with an 8-byte magic; each record is
//! `[u32 body length][u32 crc32 of body][body]`, little endian, where the body is
//! `[u64 sequence][u64 written at, unix ns][u8 signal][OTLP protobuf request]`.
//! Keeping the export in its OTLP protobuf form makes the log readable by any OTLP tool and
//! makes replay the same code path as ingest.
//!
//! Reading stops at the first record whose length runs past the end of the file or whose
//! checksum does not match: that is a torn tail from a crash mid-write. Recovery truncates it
//! and reports how many bytes it dropped; no acknowledged record can be in it, since an
//! acknowledgement waits for the whole record to be written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SLOWAL01";
const RECORD_HEADER: usize = 8;
const BODY_HEADER: usize = 17;
/// A record body larger than this is corruption, not data: requests are limited far below it.
const MAX_BODY: usize = 256 << 20;

#[derive(Clone, Debug, PartialEq)]
pub struct WalRecord {
    pub sequence: u64,
    pub written_unix_nano: u64,
    pub signal: u8,
    pub payload: Vec<u8>,
}

/// Appends records to the newest log file.
pub struct WalWriter {
    directory: PathBuf,
    file: File,
    file_bytes: u64,
    next_sequence: u64,
    /// Encoded records waiting for the next `write_pending`.
    buffer: Vec<u8>,
}

/// What recovery found in the log.
#[derive(Debug, Default)]
pub struct WalRecovery {
    pub records: Vec<WalRecord>,
    /// Bytes cut from a torn tail, with the file they were cut from.
    pub truncated: Vec<(PathBuf, u64)>,
    pub next_sequence: u64,
}

fn file_name(first_sequence: u64) -> String {
    format!("{first_sequence:020}.wal")
}

/// The log files of a directory, oldest first, with the sequence their name starts at.
pub fn list_files(directory: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(directory)? {
        let path = entry?.path();
        let sequence = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".wal"))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(first_sequence) = sequence {
            files.push((first_sequence, path));
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every intact record with a sequence above `after`, truncating torn tails in place.
pub fn recover(directory: &Path, after: u64) -> io::Result<WalRecovery> {
    fs::create_dir_all(directory)?;
    let mut recovery = WalRecovery {
        next_sequence: after + 1,
        ..WalRecovery::default()
    };
    for (_, path) in list_files(directory)? {
        let (records, intact_length, file_length) = read_file(&path)?;
        if intact_length < file_length {
            OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(intact_length)?;
            recovery
                .truncated
                .push((path.clone(), file_length - intact_length));
        }
        for record in records {
            recovery.next_sequence = recovery.next_sequence.max(record.sequence + 1);
            if record.sequence > after {
                recovery.records.push(record);
            }
        }
    }
    Ok(recovery)
}

/// The intact records of one file, the length they cover, and the file's length.
fn read_file(path: &Path) -> io::Result<(Vec<WalRecord>, u64, u64)> {
    let file = File::open(path)?;
    let file_length = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    if file_length < MAGIC.len() as u64 || reader.read_exact(&mut magic).is_err() || &magic != MAGIC
    {
        // A file cut before its magic was complete holds no record.
        return Ok((Vec::new(), 0, file_length));
    }
    let mut records = Vec::new();
    let mut position = MAGIC.len() as u64;
    loop {
        let mut header = [0u8; RECORD_HEADER];
        if reader.read_exact(&mut header).is_err() {
            break;
        }
        let body_length = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let checksum = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if !(BODY_HEADER..=MAX_BODY).contains(&body_length)
            || position + (RECORD_HEADER + body_length) as u64 > file_length
        {
            break;
        }
        let mut body = vec![0u8; body_length];
        if reader.read_exact(&mut body).is_err() || crc32fast::hash(&body) != checksum {
            break;
        }
        position += (RECORD_HEADER + body_length) as u64;
        let payload = body.split_off(BODY_HEADER);
        records.push(WalRecord {
            sequence: u64::from_le_bytes(body[..8].try_into().expect("8 bytes")),
            written_unix_nano: u64::from_le_bytes(body[8..16].try_into().expect("8 bytes")),
            signal: body[16],
            payload,
        });
    }
    Ok((records, position, file_length))
}

impl WalWriter {
    /// Starts a new file for records from `next_sequence` on.
    pub fn open(directory: &Path, next_sequence: u64) -> io::Result<WalWriter> {
        fs::create_dir_all(directory)?;
        let file = Self::create_file(directory, next_sequence)?;
        Ok(WalWriter {
            directory: directory.to_owned(),
            file,
            file_bytes: MAGIC.len() as u64,
            next_sequence,
            buffer: Vec::new(),
        })
    }

    fn create_file(directory: &Path, first_sequence: u64) -> io::Result<File> {
        let path = directory.join(file_name(first_sequence));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        file.write_all(MAGIC)?;
        file.sync_all()?;
        // The new name must survive a power loss too.
        File::open(directory)?.sync_all()?;
        file.seek(SeekFrom::End(0))?;
        Ok(file)
    }

    /// Encodes a record into the pending buffer and returns its sequence number.
    pub fn stage(&mut self, signal: u8, written_unix_nano: u64, payload: &[u8]) -> u64 {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let body_length = BODY_HEADER + payload.len();
        let start = self.buffer.len();
        self.buffer
            .extend_from_slice(&(body_length as u32).to_le_bytes());
        self.buffer.extend_from_slice(&[0u8; 4]);
        self.buffer.extend_from_slice(&sequence.to_le_bytes());
        self.buffer
            .extend_from_slice(&written_unix_nano.to_le_bytes());
        self.buffer.push(signal);
        self.buffer.extend_from_slice(payload);
        let checksum = crc32fast::hash(&self.buffer[start + RECORD_HEADER..]);
        self.buffer[start + 4..start + 8].copy_from_slice(&checksum.to_le_bytes());
        sequence
    }

    /// Writes the staged records with one system call: after this they survive a process crash.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buffer)?;
        self.file_bytes += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Flushes the file to stable storage: after this the records survive a power loss.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Closes the current file and starts a new one; returns the last sequence of the old one.
    pub fn rotate(&mut self) -> io::Result<u64> {
        self.write_pending()?;
        self.file.sync_data()?;
        self.file = Self::create_file(&self.directory, self.next_sequence)?;
        self.file_bytes = MAGIC.len() as u64;
        Ok(self.next_sequence - 1)
    }

    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    pub fn current_file_bytes(&self) -> u64 {
        self.file_bytes
    }
}

/// Deletes the files whose records all have sequences up to `checkpoint`, keeping the newest.
pub fn remove_covered(directory: &Path, checkpoint: u64) -> io::Result<()> {
    let files = list_files(directory)?;
    for window in files.windows(2) {
        let (_, path) = &window[0];
        let (next_first, _) = window[1];
        if next_first <= checkpoint + 1 {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Bytes of all log files in the directory.
pub fn total_bytes(directory: &Path) -> u64 {
    list_files(directory)
        .map(|files| {
            files
                .iter()
                .filter_map(|(_, path)| fs::metadata(path).ok())
                .map(|meta| meta.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_torn_tails_are_cut() {
        let directory = tempfile::tempdir().unwrap();
        let mut writer = WalWriter::open(directory.path(), 1).unwrap();
        for index in 0..5u8 {
            writer.stage(1, 1000 + u64::from(index), &[index; 100]);
        }
        writer.write_pending().unwrap();
        drop(writer);
        let path = list_files(directory.path()).unwrap()[0].1.clone();
        // A crash mid-record: half of a sixth record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
        drop(file);

        let recovery = recover(directory.path(), 0).unwrap();
        assert_eq!(recovery.records.len(), 5);
        assert_eq!(recovery.records[4].payload, vec![4u8; 100]);
        assert_eq!(recovery.truncated.len(), 1);
        assert_eq!(recovery.truncated[0].1, 9);
        assert_eq!(recovery.next_sequence, 6);
        // Truncation made the file whole again.
        assert!(recover(directory.path(), 0).unwrap().truncated.is_empty());
    }

    #[test]
    fn a_flipped_bit_ends_the_readable_log() {
        let directory = tempfile::tempdir().unwrap();
        let mut writer = WalWriter::open(directory.path(), 1).unwrap();
        writer.stage(1, 0, b"first");
        writer.stage(1, 0, b"second");
        writer.write_pending().unwrap();
        drop(writer);
        let path = list_files(directory.path()).unwrap()[0].1.clone();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        let recovery = recover(directory.path(), 0).unwrap();
        assert_eq!(recovery.records.len(), 1);
        assert_eq!(recovery.records[0].payload, b"first");
    }

    #[test]
    fn checkpointed_files_are_removed_and_skipped() {
        let directory = tempfile::tempdir().unwrap();
        let mut writer = WalWriter::open(directory.path(), 1).unwrap();
        writer.stage(1, 0, b"a");
        writer.stage(1, 0, b"b");
        let checkpoint = writer.rotate().unwrap();
        writer.stage(1, 0, b"c");
        writer.write_pending().unwrap();
        remove_covered(directory.path(), checkpoint).unwrap();
        assert_eq!(list_files(directory.path()).unwrap().len(), 1);
        let recovery = recover(directory.path(), checkpoint).unwrap();
        assert_eq!(recovery.records.len(), 1);
        assert_eq!(recovery.records[0].payload, b"c");
        assert_eq!(recovery.next_sequence, 4);
    }
}
