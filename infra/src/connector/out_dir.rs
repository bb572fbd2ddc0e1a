//! The directory `ledgerdock poll` exports into, as the ERP side sees it: `<invoiceId>.json`
//! (the invoice's detail) and `<invoiceId>.<pdf|jpg|png|tiff>` (its soft copies). Every file
//! appears whole or not at all: written to a hidden temporary name, flushed to disk, renamed
//! into place, and the directory flushed, so a crash at any point leaves either nothing or the
//! whole file. The JSON is written last: its presence says the invoice is fully in the
//! directory. The poll's own state (its journal, its feed cursor, its lock) lives in
//! `.ledgerdock-poll/` inside it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ledgerdock_shared::domain::InvoiceId;

/// The folder of the poll's own state inside the export directory.
pub const STATE_DIR: &str = ".ledgerdock-poll";
/// What a temporary file's name ends with.
const TEMP_SUFFIX: &str = ".partial";

pub struct OutDir {
    root: PathBuf,
    /// Held while the poll runs: a second poll into the same directory is refused (the OS
    /// releases it when the process ends, however it ends).
    _lock: File,
}

impl OutDir {
    /// Opens (creating) `root`, takes its lock, and removes temporary files a killed run left.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(root.join(STATE_DIR))
            .with_context(|| format!("creating {}", root.display()))?;
        let lock_path = root.join(STATE_DIR).join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "another `ledgerdock poll` is exporting into {} (its lock is {})",
                root.display(),
                lock_path.display()
            );
        }
        for entry in fs::read_dir(root)? {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(TEMP_SUFFIX) {
                fs::remove_file(&path)
                    .with_context(|| format!("removing {} a killed run left", path.display()))?;
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_file(&self, name: &str) -> PathBuf {
        self.root.join(STATE_DIR).join(name)
    }

    /// The name of an invoice's detail file, which is also the `externalId` the poll completes
    /// it with: the same on every run, so completing again after a crash is the same request.
    pub fn invoice_file_name(id: InvoiceId) -> String {
        format!("{id}.json")
    }

    /// Whether the invoice is wholly in the directory (its JSON, written last, is there).
    pub fn holds(&self, id: InvoiceId) -> bool {
        self.root.join(Self::invoice_file_name(id)).is_file()
    }

    /// Writes `bytes` as `name`, whole or not at all (see the module docs).
    pub fn write_atomically(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_atomically(&self.root, name, bytes)
    }
}

/// Writes `bytes` to `dir/name` through a temporary file, flushed, renamed, the directory
/// flushed.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let target = dir.join(name);
    let temp = dir.join(format!(".{name}{TEMP_SUFFIX}"));
    let mut file = File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, &target).with_context(|| format!("renaming into {}", target.display()))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_poll_into_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutDir::open(dir.path()).unwrap();
        let second = OutDir::open(dir.path()).err().expect("refused");
        assert!(
            second.to_string().contains("another `ledgerdock poll`"),
            "{second}"
        );
        drop(first);
        OutDir::open(dir.path()).expect("free again once the first is gone");
    }

    #[test]
    fn opening_removes_what_a_killed_write_left_and_keeps_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".a.json.partial"), b"{\"half").unwrap();
        let out = OutDir::open(dir.path()).unwrap();
        out.write_atomically("b.json", b"{}").unwrap();
        drop(out);
        OutDir::open(dir.path()).unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [STATE_DIR, "b.json"]);
    }
}
