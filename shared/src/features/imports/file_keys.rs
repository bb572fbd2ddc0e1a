//! The keys an import file names: gathered in pass one, asked in pass two, in a bounded amount
//! of memory whatever the size of the file.
//!
//! Pass two asks of each valid record whether an earlier valid record of the file had its key
//! (then it is a duplicate, reported naming the first), and a full sync (`REPLACE`) asks of each
//! stored record whether the file named it at all, validly or not. A hash map of every key
//! (a 16-byte digest and a record number) grew with the file: about 40 MB of a function's
//! memory at the 1,000,000 records a file may hold.
//!
//! Here pass one adds each record's (digest, number, valid) to a buffer of [`SPILL_AT`]
//! entries. A file that fits never touches disk: the buffer is sorted and folded to one entry
//! per key, and questions binary-search it. Past that, each full buffer is sorted and written
//! to a run file in a directory of its own under the temp dir (Lambda's `/tmp`, 512 MB by
//! default: a million records take about 50 MB there at most, and the directory is removed
//! when the index is dropped). At the end the runs are merged into one sorted file with one
//! entry per key, of which memory holds only every [`BLOCK`]th digest; a question reads the one
//! block its digest can be in (3 KB, from the page cache). Memory stays at the buffer
//! (2 MB), the merge's read buffers and the sparse index (256 KB at a million keys).
//!
//! The file I/O is plain blocking `std::fs`: each call moves at most a few MB to or from the
//! page cache, and the worker is the only task of its invocation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::foundation::error::ApiError;

/// Entries the buffer holds before it is sorted and written out as a run (32 bytes each).
pub const SPILL_AT: usize = 65_536;
/// Merged entries per block: the sparse index keeps the first digest of each.
pub const BLOCK: usize = 128;

/// A run entry on disk: digest (16), record number (8), valid (1).
const RUN_ENTRY: usize = 25;
/// A merged entry on disk: digest (16), first valid record number or `NONE` (8).
const KEY_ENTRY: usize = 24;
const NONE: u64 = u64::MAX;

/// What the file said of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    /// The first valid record with the key; `None` when only records that failed named it.
    pub first_valid: Option<u64>,
}

/// Gathers the keys of pass one.
pub struct FileKeysBuilder {
    buffer: Vec<(u128, u64, bool)>,
    spill_at: usize,
    dir: Option<ScratchDir>,
    runs: Vec<PathBuf>,
    label: String,
}

impl FileKeysBuilder {
    /// `label` names the scratch directory (the job id), should the keys spill.
    pub fn new(label: &str) -> Self {
        Self::with_spill_at(label, SPILL_AT)
    }

    /// With a buffer of `spill_at` entries (the tests spill small files).
    pub fn with_spill_at(label: &str, spill_at: usize) -> Self {
        Self {
            buffer: Vec::new(),
            spill_at: spill_at.max(1),
            dir: None,
            runs: Vec::new(),
            label: label.to_string(),
        }
    }

    /// Record `record` names the key with `digest`; `valid` when it was imported (not failed).
    pub fn add(&mut self, digest: u128, record: u64, valid: bool) -> Result<(), ApiError> {
        self.buffer.push((digest, record, valid));
        if self.buffer.len() >= self.spill_at {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), ApiError> {
        self.buffer.sort_unstable();
        let dir = match &self.dir {
            Some(dir) => dir,
            None => self.dir.insert(ScratchDir::create(&self.label)?),
        };
        let path = dir.0.join(format!("run-{}", self.runs.len()));
        let mut out = BufWriter::new(File::create(&path).map_err(scratch("creating a run"))?);
        let mut entry = [0u8; RUN_ENTRY];
        for (digest, record, valid) in self.buffer.drain(..) {
            entry[..16].copy_from_slice(&digest.to_le_bytes());
            entry[16..24].copy_from_slice(&record.to_le_bytes());
            entry[24] = u8::from(valid);
            out.write_all(&entry).map_err(scratch("writing a run"))?;
        }
        out.flush().map_err(scratch("writing a run"))?;
        self.runs.push(path);
        // The buffer's memory is kept for the next run; it never grows past `spill_at`.
        Ok(())
    }

    /// The index of everything added.
    pub fn finish(mut self) -> Result<FileKeys, ApiError> {
        if self.runs.is_empty() {
            self.buffer.sort_unstable();
            let mut fold = Fold::default();
            let mut keys = Vec::new();
            for (digest, record, valid) in self.buffer {
                keys.extend(fold.push(digest, record, valid));
            }
            let valid_keys = fold.valid_keys;
            keys.extend(fold.current);
            return Ok(FileKeys {
                valid_keys,
                store: Store::Memory(keys),
            });
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        self.buffer = Vec::new();
        let dir = self.dir.take().expect("a spilled index has its directory");
        let merged_path = dir.0.join("keys");
        let mut out = BufWriter::new(File::create(&merged_path).map_err(scratch("creating"))?);
        let mut readers = self
            .runs
            .iter()
            .map(|path| File::open(path).map(|f| BufReader::with_capacity(32 * 1024, f)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(scratch("reading a run"))?;
        // A k-way merge: the smallest head of all runs next.
        let mut heads = BinaryHeap::new();
        for (n, reader) in readers.iter_mut().enumerate() {
            if let Some(entry) = read_run_entry(reader)? {
                heads.push(Reverse((entry, n)));
            }
        }
        let (mut fold, mut index, mut written) = (Fold::default(), Vec::new(), 0u64);
        let mut write = |(digest, first): (u128, u64)| {
            if written % BLOCK as u64 == 0 {
                index.push(digest);
            }
            written += 1;
            out.write_all(&key_entry(digest, first))
                .map_err(scratch("writing the keys"))
        };
        while let Some(Reverse(((digest, record, valid), n))) = heads.pop() {
            if let Some(done) = fold.push(digest, record, valid) {
                write(done)?;
            }
            if let Some(next) = read_run_entry(&mut readers[n])? {
                heads.push(Reverse((next, n)));
            }
        }
        if let Some(last) = fold.current {
            write(last)?;
        }
        out.flush().map_err(scratch("writing the keys"))?;
        drop(readers);
        for run in &self.runs {
            let _ = std::fs::remove_file(run);
        }
        let file = File::open(&merged_path).map_err(scratch("reading the keys"))?;
        Ok(FileKeys {
            valid_keys: fold.valid_keys,
            store: Store::Disk {
                file,
                index,
                len: written,
                _dir: dir,
            },
        })
    }
}

/// Folds entries sorted by digest to one per key: its first valid record (`NONE` when only
/// records that failed named it).
#[derive(Default)]
struct Fold {
    current: Option<(u128, u64)>,
    valid_keys: u64,
}

impl Fold {
    /// Takes the next entry; returns the key it finished, when its digest starts a new one.
    fn push(&mut self, digest: u128, record: u64, valid: bool) -> Option<(u128, u64)> {
        let first = if valid { record } else { NONE };
        match &mut self.current {
            Some((current, known)) if *current == digest => {
                if *known == NONE && first != NONE {
                    self.valid_keys += 1;
                }
                *known = (*known).min(first);
                None
            }
            _ => {
                if first != NONE {
                    self.valid_keys += 1;
                }
                self.current.replace((digest, first))
            }
        }
    }
}

fn read_run_entry(reader: &mut impl Read) -> Result<Option<(u128, u64, bool)>, ApiError> {
    let mut entry = [0u8; RUN_ENTRY];
    match reader.read_exact(&mut entry) {
        Ok(()) => Ok(Some((
            u128::from_le_bytes(entry[..16].try_into().expect("16 bytes")),
            u64::from_le_bytes(entry[16..24].try_into().expect("8 bytes")),
            entry[24] == 1,
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(scratch("reading a run")(e)),
    }
}

/// A merged entry as written to disk.
fn key_entry(digest: u128, first: u64) -> [u8; KEY_ENTRY] {
    let mut entry = [0u8; KEY_ENTRY];
    entry[..16].copy_from_slice(&digest.to_le_bytes());
    entry[16..].copy_from_slice(&first.to_le_bytes());
    entry
}

/// A merged entry as read back: (digest, first valid record or `NONE`).
fn read_key_entry(entry: &[u8]) -> (u128, u64) {
    (
        u128::from_le_bytes(entry[..16].try_into().expect("16 bytes")),
        u64::from_le_bytes(entry[16..KEY_ENTRY].try_into().expect("8 bytes")),
    )
}

/// The keys a file names, sorted, one entry each.
pub struct FileKeys {
    valid_keys: u64,
    store: Store,
}

enum Store {
    Memory(Vec<(u128, u64)>),
    Disk {
        file: File,
        /// The first digest of each block of [`BLOCK`] entries.
        index: Vec<u128>,
        len: u64,
        _dir: ScratchDir,
    },
}

impl FileKeys {
    /// How many keys a valid record named.
    pub fn valid_keys(&self) -> u64 {
        self.valid_keys
    }

    /// What the file said of the key with `digest`; `None` when no record named it.
    pub fn named(&self, digest: u128) -> Result<Option<Named>, ApiError> {
        let first = match &self.store {
            Store::Memory(keys) => keys
                .binary_search_by_key(&digest, |(d, _)| *d)
                .ok()
                .map(|at| keys[at].1),
            Store::Disk {
                file, index, len, ..
            } => {
                let block = index.partition_point(|first| *first <= digest);
                if block == 0 {
                    return Ok(None);
                }
                let start = (block - 1) as u64 * BLOCK as u64;
                let count = (len - start).min(BLOCK as u64) as usize;
                let mut bytes = [0u8; BLOCK * KEY_ENTRY];
                let bytes = &mut bytes[..count * KEY_ENTRY];
                file.read_exact_at(bytes, start * KEY_ENTRY as u64)
                    .map_err(scratch("reading the keys"))?;
                let mut entries = [(0u128, 0u64); BLOCK];
                for (entry, bytes) in entries.iter_mut().zip(bytes.chunks_exact(KEY_ENTRY)) {
                    *entry = read_key_entry(bytes);
                }
                let entries = &entries[..count];
                entries
                    .binary_search_by_key(&digest, |(d, _)| *d)
                    .ok()
                    .map(|at| entries[at].1)
            }
        };
        Ok(first.map(|first| Named {
            first_valid: (first != NONE).then_some(first),
        }))
    }

    /// Whether the index is on disk (the file had more than [`SPILL_AT`] records).
    pub fn spilled(&self) -> bool {
        matches!(self.store, Store::Disk { .. })
    }
}

/// A directory of one index's files under the temp dir, removed with everything in it when
/// dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(label: &str) -> Result<Self, ApiError> {
        let path = std::env::temp_dir().join(format!(
            "ledgerdock-import-{label}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).map_err(scratch("creating its directory"))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An I/O failure of the scratch files: the invocation fails and Lambda retries it.
fn scratch(doing: &'static str) -> impl Fn(std::io::Error) -> ApiError {
    move |e| ApiError::internal(format!("the import's key index on /tmp, {doing}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A file's entries: keys drawn from a small range so that many repeat, some records
    /// failing. Deterministic (a linear congruential sequence).
    fn entries(n: u64) -> Vec<(u128, u64, bool)> {
        let mut x: u64 = 12345;
        (1..=n)
            .map(|record| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let digest = u128::from((x >> 33) % (n / 2 + 1)) * 0x9E37_79B9_7F4A_7C15 + 5;
                (digest, record, !(x >> 20).is_multiple_of(5))
            })
            .collect()
    }

    /// What a hash map of every key says: the first valid record of each key named.
    fn model(entries: &[(u128, u64, bool)]) -> HashMap<u128, Option<u64>> {
        let mut named: HashMap<u128, Option<u64>> = HashMap::new();
        for &(digest, record, valid) in entries {
            let first = named.entry(digest).or_insert(None);
            if valid && first.is_none() {
                *first = Some(record);
            }
        }
        named
    }

    fn build(entries: &[(u128, u64, bool)], spill_at: usize) -> FileKeys {
        let mut builder = FileKeysBuilder::with_spill_at("test", spill_at);
        for &(digest, record, valid) in entries {
            builder.add(digest, record, valid).unwrap();
        }
        builder.finish().unwrap()
    }

    #[test]
    fn spilled_or_not_the_index_answers_as_a_map_of_every_key_would() {
        let entries = entries(5_000);
        let model = model(&entries);
        // In memory; spilled into many small runs; spilled into runs of one entry each.
        for spill_at in [usize::MAX, 333, 1] {
            let keys = build(&entries, spill_at);
            assert_eq!(keys.spilled(), spill_at < entries.len());
            for (digest, first) in &model {
                let named = keys.named(*digest).unwrap();
                assert_eq!(
                    named,
                    Some(Named {
                        first_valid: *first
                    }),
                    "spill at {spill_at}"
                );
            }
            // Below the first key, between two, above the last.
            for absent in [0, 0x9E37_79B9_7F4A_7C15 + 6, u128::MAX] {
                assert_eq!(keys.named(absent).unwrap(), None, "spill at {spill_at}");
            }
            let valid = model.values().filter(|f| f.is_some()).count() as u64;
            assert_eq!(keys.valid_keys(), valid, "spill at {spill_at}");
        }
    }

    #[test]
    fn a_key_only_failures_named_is_named_without_a_first_valid_record() {
        let keys = build(&[(7, 1, false), (9, 2, true), (7, 3, false)], 2);
        assert_eq!(keys.named(7).unwrap(), Some(Named { first_valid: None }));
        assert_eq!(
            keys.named(9).unwrap(),
            Some(Named {
                first_valid: Some(2)
            })
        );
        assert_eq!(keys.valid_keys(), 1);
    }

    #[test]
    fn the_first_valid_record_is_the_earliest_even_after_a_failure_named_the_key() {
        let keys = build(&[(5, 1, false), (5, 4, true), (5, 2, true)], 1);
        assert_eq!(
            keys.named(5).unwrap(),
            Some(Named {
                first_valid: Some(2)
            })
        );
        assert_eq!(keys.valid_keys(), 1);
    }

    #[test]
    fn a_spilled_index_leaves_nothing_in_the_temp_dir_once_dropped() {
        let keys = build(&entries(100), 10);
        let Store::Disk { _dir: dir, .. } = &keys.store else {
            panic!("100 entries spill at 10");
        };
        let path = dir.0.clone();
        assert!(path.join("keys").is_file());
        // The runs are gone once merged; the merged file goes with the index.
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), 1);
        drop(keys);
        assert!(!path.exists());
    }

    #[test]
    fn an_empty_file_names_nothing() {
        let keys = build(&[], 10);
        assert_eq!(keys.named(1).unwrap(), None);
        assert_eq!(keys.valid_keys(), 0);
    }
}
