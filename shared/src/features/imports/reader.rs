//! Streaming record readers for import files, generic over the kind of master data. Both are
//! push parsers: the worker feeds them the S3 object chunk by chunk, and they hand back each
//! complete record, so a 100 MB file never sits in memory. Problems with one record become
//! that record's errors; problems with the file as a whole (not UTF-8, no header, broken JSON
//! structure) are a [`FileError`].
//!
//! A CSV file of a grouped kind (purchase orders: a row per line) makes a record of each run
//! of adjacent rows with the same value in the kind's `GROUP_BY` column; the run is held only
//! until the next one starts, and at most [`MAX_GROUP_BYTES`] of it.

use std::marker::PhantomData;

use crate::domain::master_data::fields::{truncate, RawValue};
use crate::domain::master_data::{key_hint, MasterKind, Row};
use crate::domain::ImportFormat;
use crate::foundation::error::FieldError;

/// Largest single record (one CSV row or one JSON array element).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// At most this many file-level warnings (unknown columns) are kept.
const MAX_WARNINGS: usize = 100;
/// Most bytes of one group of rows held while it is read (a purchase order's 200 lines at their
/// longest take about 280 KB); a group past it fails as too large.
pub const MAX_GROUP_BYTES: usize = 2 * 1024 * 1024;

/// Why a whole file cannot be imported: becomes the job's `failureReason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// One record read from the file, validated.
#[derive(Debug)]
pub struct ParsedRecord<R> {
    /// 1-based position: the element of the JSON array or the data row of the CSV (a group's
    /// first row).
    pub number: u64,
    pub record: Result<R, RecordProblems>,
}

/// Why a record was not imported.
#[derive(Debug)]
pub struct RecordProblems {
    /// The record's key parts, when they could be read.
    pub key: Option<Vec<String>>,
    /// Each problem, with the data row it is on where that is not the record's own number (a
    /// purchase order's later rows).
    pub errors: Vec<(Option<u64>, FieldError)>,
}

impl RecordProblems {
    fn of_record(key: Option<Vec<String>>, errors: Vec<FieldError>) -> Self {
        Self {
            key,
            errors: errors.into_iter().map(|e| (None, e)).collect(),
        }
    }
}

/// The reader for a file of `format` holding records of `K`.
pub fn for_format<K: MasterKind>(format: ImportFormat) -> Box<dyn RecordReader<K::Record>> {
    match format {
        ImportFormat::Csv => Box::new(CsvReader::<K>::new()),
        ImportFormat::Json => Box::new(JsonReader::<K>::new()),
    }
}

pub trait RecordReader<R>: Send {
    /// Feeds the next chunk of the file, appending every record it completes to `out`.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<ParsedRecord<R>>) -> Result<(), FileError>;
    /// Signals the end of the file.
    fn finish(&mut self, out: &mut Vec<ParsedRecord<R>>) -> Result<(), FileError>;
    /// Problems with the file that do not stop it (unknown CSV columns).
    fn warnings(&self) -> &[FieldError];
}

fn not_utf8(what: String) -> FileError {
    FileError(format!(
        "the file is not UTF-8 text ({what}); export it as UTF-8 and start a new job"
    ))
}

/// A CSV file (RFC 4180: comma separated, `"` quoted, CRLF or LF) whose first row names the
/// fields. Columns that are not fields of `K` are reported as warnings and their values ignored.
pub struct CsvReader<K> {
    parser: csv_core::Reader,
    output: Vec<u8>,
    output_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// For each column, the field it fills (None: unknown column, ignored).
    columns: Option<Vec<Option<&'static str>>>,
    rows: u64,
    warnings: Vec<FieldError>,
    /// Grouped kinds: the rows of the group being read.
    group: Group,
    kind: PhantomData<fn() -> K>,
}

/// The run of adjacent rows being read as one record (grouped kinds).
#[derive(Default)]
struct Group {
    /// Its value in the grouping column.
    value: Option<String>,
    rows: Vec<Row>,
    bytes: usize,
    /// Problems found on its rows before they were parsed (a row of the wrong width, a group
    /// too large to hold).
    errors: Vec<(u64, FieldError)>,
}

impl<K: MasterKind> Default for CsvReader<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: MasterKind> CsvReader<K> {
    pub fn new() -> Self {
        Self {
            parser: csv_core::Reader::new(),
            output: vec![0; 4096],
            output_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            columns: None,
            rows: 0,
            warnings: Vec::new(),
            group: Group::default(),
            kind: PhantomData,
        }
    }

    fn read(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<ParsedRecord<K::Record>>,
    ) -> Result<(), FileError> {
        use csv_core::ReadRecordResult as R;
        loop {
            let (result, read, written, ended) = self.parser.read_record(
                input,
                &mut self.output[self.output_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[read..];
            // csv-core reports field ends from the start of the record, across calls.
            self.output_len += written;
            self.ends_len += ended;
            match result {
                R::InputEmpty => return Ok(()),
                R::OutputFull => {
                    if self.output.len() >= MAX_RECORD_BYTES {
                        return Err(FileError(format!(
                            "row {} is longer than {} bytes",
                            self.rows + 1,
                            MAX_RECORD_BYTES
                        )));
                    }
                    self.output.resize(self.output.len() * 2, 0);
                }
                R::OutputEndsFull => {
                    if self.ends.len() >= 4096 {
                        return Err(FileError(format!(
                            "row {} has more than 4096 columns",
                            self.rows + 1
                        )));
                    }
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                R::Record => {
                    self.record(out)?;
                    self.output_len = 0;
                    self.ends_len = 0;
                }
                R::End => return Ok(()),
            }
        }
    }

    fn record(&mut self, out: &mut Vec<ParsedRecord<K::Record>>) -> Result<(), FileError> {
        let text = std::str::from_utf8(&self.output[..self.output_len]).map_err(|_| {
            not_utf8(match self.columns {
                None => "in the header row".to_string(),
                Some(_) => format!("first invalid byte in data row {}", self.rows + 1),
            })
        })?;
        let mut cells = Vec::with_capacity(self.ends_len);
        let mut from = 0;
        for &end in &self.ends[..self.ends_len] {
            cells.push(&text[from..end]);
            from = end;
        }
        let Some(columns) = &self.columns else {
            let (columns, warnings) = header::<K>(&cells)?;
            self.columns = Some(columns);
            self.warnings = warnings;
            return Ok(());
        };
        self.rows += 1;
        let number = self.rows;
        let cell_of = |field: &str| {
            columns
                .iter()
                .position(|f| *f == Some(field))
                .and_then(|i| cells.get(i).copied())
        };
        let width_error = (cells.len() != columns.len()).then(|| {
            FieldError::new(
                "row",
                format!(
                    "has {} values; the header row has {} columns",
                    cells.len(),
                    columns.len()
                ),
            )
        });
        let Some(group_by) = K::GROUP_BY else {
            let pairs: Vec<(&str, RawValue<'_>)> = columns
                .iter()
                .zip(&cells)
                .filter_map(|(field, cell)| field.map(|f| (f, RawValue::Cell(cell))))
                .collect();
            let record = match width_error {
                Some(e) => Err(RecordProblems::of_record(None, vec![e])),
                None => K::from_pairs(&pairs)
                    .map_err(|errors| RecordProblems::of_record(key_hint::<K>(&pairs), errors)),
            };
            out.push(ParsedRecord { number, record });
            return Ok(());
        };
        // Grouped: a row with another value in the grouping column starts the next record.
        let value = cell_of(group_by).map(|v| v.trim().to_string());
        if self.group.value != value || self.group.rows.is_empty() && self.group.errors.is_empty() {
            Self::end_group(&mut self.group, out);
            self.group.value = value;
        }
        if let Some(e) = width_error {
            self.group.errors.push((number, e));
            return Ok(());
        }
        let bytes = self.output_len;
        if self.group.bytes + bytes > MAX_GROUP_BYTES {
            if self.group.bytes <= MAX_GROUP_BYTES {
                self.group.errors.push((
                    number,
                    FieldError::new(
                        "row",
                        format!(
                            "the rows of this {} hold more than {MAX_GROUP_BYTES} bytes",
                            K::NOUN
                        ),
                    ),
                ));
            }
            self.group.bytes = MAX_GROUP_BYTES + 1;
            return Ok(());
        }
        self.group.bytes += bytes;
        let row = Row {
            number,
            cells: columns
                .iter()
                .zip(&cells)
                .filter_map(|(field, cell)| field.map(|f| (f, cell.to_string())))
                .collect(),
        };
        self.group.rows.push(row);
        Ok(())
    }

    /// Hands on the group read so far as one record.
    fn end_group(group: &mut Group, out: &mut Vec<ParsedRecord<K::Record>>) {
        let group = std::mem::take(group);
        let Some(number) = group
            .rows
            .first()
            .map(|r| r.number)
            .into_iter()
            .chain(group.errors.first().map(|(n, _)| *n))
            .min()
        else {
            return;
        };
        let key = group.value.clone().map(|v| vec![truncate(&v, 64)]);
        // The rows that could be read are checked even when others could not, so the report
        // names every problem at once.
        let parsed = match (K::from_rows(&group.rows), group.errors.is_empty()) {
            (Ok(record), true) => Ok(record),
            (Ok(_), false) => Err(Vec::new()),
            (Err(errors), _) => Err(errors),
        };
        let record = parsed.map_err(|mut errors| {
            errors.extend(group.errors);
            errors.sort_by_key(|(row, _)| *row);
            RecordProblems {
                key,
                errors: errors
                    .into_iter()
                    .map(|(row, e)| ((row != number).then_some(row), e))
                    .collect(),
            }
        });
        out.push(ParsedRecord { number, record });
    }
}

type Header = (Vec<Option<&'static str>>, Vec<FieldError>);

fn header<K: MasterKind>(cells: &[&str]) -> Result<Header, FileError> {
    let mut columns = Vec::with_capacity(cells.len());
    let mut warnings = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let name = cell.trim_start_matches('\u{feff}').trim();
        let field = K::FIELDS.iter().copied().find(|f| *f == name);
        match field {
            Some(f) if columns.contains(&Some(f)) => {
                return Err(FileError(format!(
                    "the header row names the column {f} twice"
                )))
            }
            Some(_) => {}
            None if warnings.len() < MAX_WARNINGS => warnings.push(FieldError::new(
                if name.is_empty() {
                    format!("column {}", i + 1)
                } else {
                    truncate(name, 64)
                },
                format!("is not a {} field; its values were ignored", K::NOUN),
            )),
            None => {}
        }
        columns.push(field);
    }
    let missing: Vec<&str> = K::REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|f| !columns.contains(&Some(*f)))
        .collect();
    if !missing.is_empty() {
        return Err(FileError(format!(
            "the CSV header row lacks the required column{} {}; the first row must name the fields, e.g. {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            K::REQUIRED_COLUMNS.join(",")
        )));
    }
    Ok((columns, warnings))
}

impl<K: MasterKind> RecordReader<K::Record> for CsvReader<K> {
    fn push(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<ParsedRecord<K::Record>>,
    ) -> Result<(), FileError> {
        self.read(chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<ParsedRecord<K::Record>>) -> Result<(), FileError> {
        self.read(&[], out)?;
        Self::end_group(&mut self.group, out);
        if self.columns.is_none() {
            return Err(FileError(
                "the file is empty; a CSV import needs a header row naming the fields".into(),
            ));
        }
        Ok(())
    }

    fn warnings(&self) -> &[FieldError] {
        &self.warnings
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonState {
    /// Before the opening `[` (a UTF-8 byte order mark and whitespace allowed).
    Start,
    /// Right after `[`: a record or `]`.
    First,
    /// After a `,`: a record.
    Next,
    /// Inside a record.
    Record,
    /// After a record: `,` or `]`.
    After,
    /// After the closing `]`: only whitespace.
    Done,
}

/// A JSON file holding one array of record objects: `[{"externalId": …}, …]`. The reader finds
/// each element's bounds itself and parses one element at a time.
pub struct JsonReader<K> {
    state: JsonState,
    record: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The record is a bare scalar (number, literal): it ends at a delimiter, not a bracket.
    scalar: bool,
    records: u64,
    offset: u64,
    bom: usize,
    kind: PhantomData<fn() -> K>,
}

impl<K: MasterKind> Default for JsonReader<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: MasterKind> JsonReader<K> {
    pub fn new() -> Self {
        Self {
            state: JsonState::Start,
            record: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            scalar: false,
            records: 0,
            offset: 0,
            bom: 0,
            kind: PhantomData,
        }
    }

    fn emit(&mut self, out: &mut Vec<ParsedRecord<K::Record>>) -> Result<(), FileError> {
        self.records += 1;
        let number = self.records;
        let bytes = std::mem::take(&mut self.record);
        if std::str::from_utf8(&bytes).is_err() {
            return Err(not_utf8(format!("first invalid byte in record {number}")));
        }
        let record = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(value) => K::from_json(&value).map_err(|errors| {
                let pairs: Vec<(&str, RawValue<'_>)> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), RawValue::Json(v)))
                    .collect();
                RecordProblems::of_record(key_hint::<K>(&pairs), errors)
            }),
            Err(e) => Err(RecordProblems::of_record(
                None,
                vec![FieldError::new(
                    "record",
                    format!("is not valid JSON ({})", strip_position(&e.to_string())),
                )],
            )),
        };
        out.push(ParsedRecord { number, record });
        self.state = JsonState::After;
        Ok(())
    }

    fn unexpected(&self, byte: u8, expected: &str) -> FileError {
        let what = if byte.is_ascii_graphic() {
            format!("{:?}", byte as char)
        } else {
            format!("byte 0x{byte:02x}")
        };
        FileError(format!(
            "the file is not a JSON array of records: expected {expected} at byte {} but found {what}",
            self.offset
        ))
    }
}

fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

impl<K: MasterKind> RecordReader<K::Record> for JsonReader<K> {
    fn push(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<ParsedRecord<K::Record>>,
    ) -> Result<(), FileError> {
        const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
        for &b in chunk {
            self.offset += 1;
            match self.state {
                JsonState::Start => {
                    let at = self.offset as usize - 1;
                    if at < BOM.len() && self.bom == at && b == BOM[at] {
                        self.bom += 1;
                    } else if self.bom != 0 && self.bom != BOM.len() {
                        // Part of a byte order mark, then something else.
                        return Err(self.unexpected(b, "'['"));
                    } else if b == b'[' {
                        self.state = JsonState::First;
                    } else if !b.is_ascii_whitespace() {
                        return Err(self.unexpected(b, "'['"));
                    }
                }
                JsonState::First | JsonState::Next => {
                    if b.is_ascii_whitespace() {
                        continue;
                    }
                    if b == b']' && self.state == JsonState::First {
                        self.state = JsonState::Done;
                        continue;
                    }
                    if b == b']' || b == b',' {
                        return Err(self.unexpected(b, "a record"));
                    }
                    self.state = JsonState::Record;
                    self.record.push(b);
                    self.depth = u32::from(b == b'{' || b == b'[');
                    self.in_string = b == b'"';
                    self.escaped = false;
                    self.scalar = self.depth == 0 && !self.in_string;
                }
                JsonState::Record => {
                    if self.scalar && (b == b',' || b == b']' || b.is_ascii_whitespace()) {
                        self.emit(out)?;
                        match b {
                            b',' => self.state = JsonState::Next,
                            b']' => self.state = JsonState::Done,
                            _ => {}
                        }
                        continue;
                    }
                    if self.record.len() >= MAX_RECORD_BYTES {
                        return Err(FileError(format!(
                            "record {} is longer than {MAX_RECORD_BYTES} bytes",
                            self.records + 1
                        )));
                    }
                    self.record.push(b);
                    if self.in_string {
                        if self.escaped {
                            self.escaped = false;
                        } else if b == b'\\' {
                            self.escaped = true;
                        } else if b == b'"' {
                            self.in_string = false;
                            if self.depth == 0 {
                                self.emit(out)?;
                            }
                        }
                    } else {
                        match b {
                            b'"' => self.in_string = true,
                            b'{' | b'[' => self.depth += 1,
                            b'}' | b']' => {
                                self.depth = self.depth.saturating_sub(1);
                                if self.depth == 0 && !self.scalar {
                                    self.emit(out)?;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                JsonState::After => match b {
                    b',' => self.state = JsonState::Next,
                    b']' => self.state = JsonState::Done,
                    b if b.is_ascii_whitespace() => {}
                    b => return Err(self.unexpected(b, "',' or ']' after a record")),
                },
                JsonState::Done => {
                    if !b.is_ascii_whitespace() {
                        return Err(self.unexpected(b, "nothing after the closing ']'"));
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ParsedRecord<K::Record>>) -> Result<(), FileError> {
        if self.state == JsonState::Record && self.scalar {
            self.emit(out)?;
        }
        match self.state {
            JsonState::Done => Ok(()),
            JsonState::Start => Err(FileError(
                "the file is empty; a JSON import is an array of records: [{\"externalId\": …}]"
                    .into(),
            )),
            _ => Err(FileError(format!(
                "the JSON array is not closed: the file ends after {} byte(s), inside or after record {}",
                self.offset,
                self.records.max(1)
            ))),
        }
    }

    fn warnings(&self) -> &[FieldError] {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master_data::purchase_order::PurchaseOrders;
    use crate::domain::supplier::{SupplierCard, SupplierCards};

    type Cards = CsvReader<SupplierCards>;
    type CardsJson = JsonReader<SupplierCards>;

    /// Feeds `bytes` in chunks of `chunk` bytes and returns every record (or the file error).
    fn read_all<R>(
        reader: &mut dyn RecordReader<R>,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Vec<ParsedRecord<R>>, FileError> {
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            reader.push(piece, &mut out)?;
        }
        reader.finish(&mut out)?;
        Ok(out)
    }

    fn ok_ids(records: &[ParsedRecord<SupplierCard>]) -> Vec<String> {
        records
            .iter()
            .filter_map(|r| r.record.as_ref().ok().map(|c| c.external_id.clone()))
            .collect()
    }

    #[test]
    fn csv_reads_quotes_crlf_bom_and_reports_rows_in_any_chunking() {
        let csv = "\u{feff}externalId,name,city,colour\r\nS1,\"Acme, Inc.\",Oslo,red\r\nS2,\"Line \"\"Q\"\"\",,\"multi\nline\"\r\n,NoId,,\r\nS4,Short\r\n";
        for chunk in [1, 2, 7, 4096] {
            let mut reader = Cards::new();
            let records = read_all(&mut reader, csv.as_bytes(), chunk).unwrap();
            assert_eq!(records.len(), 4, "chunk {chunk}");
            assert_eq!(ok_ids(&records), ["S1", "S2"]);
            let card = records[1].record.as_ref().unwrap();
            assert_eq!(card.name, "Line \"Q\"");
            assert_eq!(records[0].record.as_ref().unwrap().name, "Acme, Inc.");
            let bad = records[2].record.as_ref().unwrap_err();
            assert_eq!(
                (records[2].number, bad.errors[0].1.field.as_str()),
                (3, "externalId")
            );
            let short = records[3].record.as_ref().unwrap_err();
            assert_eq!(short.errors[0].1.field, "row");
            assert_eq!(reader.warnings()[0].field, "colour");
        }
    }

    #[test]
    fn csv_file_level_failures() {
        let missing = read_all(&mut Cards::new(), b"id,title\n1,2\n", 5).unwrap_err();
        assert!(missing.0.contains("externalId, name"), "{missing}");
        let empty = read_all(&mut Cards::new(), b"", 5).unwrap_err();
        assert!(empty.0.contains("empty"));
        let latin1 =
            read_all(&mut Cards::new(), b"externalId,name\nS1,M\xfcller\n", 3).unwrap_err();
        assert!(
            latin1.0.contains("UTF-8") && latin1.0.contains("row 1"),
            "{latin1}"
        );
        let twice = read_all(&mut Cards::new(), b"name,name,externalId\n", 64).unwrap_err();
        assert!(twice.0.contains("twice"));
        let long = format!(
            "externalId,name\nS1,{}\n",
            "x".repeat(MAX_RECORD_BYTES + 10)
        );
        assert!(read_all(&mut Cards::new(), long.as_bytes(), 65536).is_err());
    }

    #[test]
    fn csv_rows_of_one_purchase_order_are_one_record_and_a_late_row_is_another() {
        let csv = "poNumber,supplierExternalId,currency,issueDate,status,lineNumber,quantity,unitPrice,amount\n\
                   PO-1,S-1,EUR,2026-11-30,OPEN,1,1,10,10\n\
                   PO-1,,,,,2,2,5,10\n\
                   PO-2,S-2,EUR,2026-11-30,OPEN,1,1,1,1\n\
                   PO-2,S-2,EUR,2026-11-30,OPEN,2,x,1,1\n\
                   PO-2,S-2\n\
                   PO-1,S-1,EUR,2026-11-30,OPEN,3,1,1,1\n";
        for chunk in [1, 5, 4096] {
            let mut reader = CsvReader::<PurchaseOrders>::new();
            let records = read_all(&mut reader, csv.as_bytes(), chunk).unwrap();
            let numbers: Vec<u64> = records.iter().map(|r| r.number).collect();
            assert_eq!(numbers, [1, 3, 6], "chunk {chunk}");
            assert_eq!(records[0].record.as_ref().unwrap().lines.len(), 2);
            // PO-2's problems, each on its own row.
            let bad = records[1].record.as_ref().unwrap_err();
            assert_eq!(bad.key.as_deref(), Some(&["PO-2".to_string()][..]));
            let at: Vec<_> = bad
                .errors
                .iter()
                .map(|(row, e)| (*row, e.field.as_str()))
                .collect();
            assert_eq!(at, [(Some(4), "quantity"), (Some(5), "row")]);
            // PO-1 again, after another order: a record of its own (the worker reports it as a
            // duplicate).
            assert_eq!(records[2].record.as_ref().unwrap().po_number, "PO-1");
        }
    }

    #[test]
    fn json_array_elements_are_records_in_any_chunking() {
        let json = br#" [ {"externalId":"S1","name":"A \"]}\\"}, 5, {"externalId":"S3","name":"C","x":{"y":[1]}} ,
            {"externalId":"S4","name":"D"}, {bad json}, "text" ] "#;
        for chunk in [1, 3, 4096] {
            let records = read_all(&mut CardsJson::new(), json, chunk).unwrap();
            assert_eq!(records.len(), 6, "chunk {chunk}");
            assert_eq!(ok_ids(&records), ["S1", "S4"]);
            assert_eq!(records[0].record.as_ref().unwrap().name, "A \"]}\\");
            let unknown = records[2].record.as_ref().unwrap_err();
            assert_eq!(unknown.key.as_deref(), Some(&["S3".to_string()][..]));
            assert_eq!(unknown.errors[0].1.field, "x");
            assert_eq!(
                records[4].record.as_ref().unwrap_err().errors[0].1.field,
                "record"
            );
            assert_eq!(records[5].number, 6);
        }
        assert!(read_all(&mut CardsJson::new(), b"\xef\xbb\xbf[]", 1)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn json_file_level_failures() {
        for bad in [
            &b""[..],
            b"{\"records\": []}",
            b"[{\"externalId\":\"S1\",\"name\":\"A\"}",
            b"[{}, ]",
            b"[{} {}]",
            b"[] x",
            b"\x89PNG\r\n\x1a\n",
        ] {
            assert!(
                read_all(&mut CardsJson::new(), bad, 2).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let latin1 = read_all(&mut CardsJson::new(), b"[{\"name\":\"M\xfcller\"}]", 4).unwrap_err();
        assert!(latin1.0.contains("UTF-8"));
    }
}
