//! Streaming record readers for import files. Both are push parsers: the worker feeds them the
//! S3 object chunk by chunk, and they hand back each complete record, so a 100 MB file never
//! sits in memory. Problems with one record become that record's errors; problems with the
//! file as a whole (not UTF-8, no header, broken JSON structure) are a [`FileError`].

use crate::domain::supplier::{
    card_from_fields, card_from_json, external_id_hint, RawValue, SupplierCard,
    REQUIRED_SUPPLIER_FIELDS, SUPPLIER_FIELDS,
};
use crate::domain::ImportFormat;
use crate::foundation::error::FieldError;

/// Largest single record (one CSV row or one JSON array element).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// At most this many file-level warnings (unknown columns) are kept.
const MAX_WARNINGS: usize = 100;

/// Why a whole file cannot be imported: becomes the job's `failureReason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// One record read from the file, validated.
#[derive(Debug)]
pub struct ParsedRecord {
    /// 1-based position: the element of the JSON array or the data row of the CSV.
    pub number: u64,
    pub card: Result<SupplierCard, RecordProblems>,
}

/// Why a record was not imported.
#[derive(Debug)]
pub struct RecordProblems {
    /// The record's externalId when it could be read.
    pub external_id: Option<String>,
    pub errors: Vec<FieldError>,
}

/// The reader for a file of `format`.
pub fn for_format(format: ImportFormat) -> Box<dyn RecordReader> {
    match format {
        ImportFormat::Csv => Box::new(CsvReader::new()),
        ImportFormat::Json => Box::new(JsonReader::new()),
    }
}

pub trait RecordReader: Send {
    /// Feeds the next chunk of the file, appending every record it completes to `out`.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<ParsedRecord>) -> Result<(), FileError>;
    /// Signals the end of the file.
    fn finish(&mut self, out: &mut Vec<ParsedRecord>) -> Result<(), FileError>;
    /// Problems with the file that do not stop it (unknown CSV columns).
    fn warnings(&self) -> &[FieldError];
}

fn not_utf8(what: String) -> FileError {
    FileError(format!(
        "the file is not UTF-8 text ({what}); export it as UTF-8 and start a new job"
    ))
}

/// A CSV file (RFC 4180: comma separated, `"` quoted, CRLF or LF) whose first row names the
/// fields. Columns that are not card fields are reported as warnings and their values ignored.
pub struct CsvReader {
    parser: csv_core::Reader,
    output: Vec<u8>,
    output_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// For each column, the card field it fills (None: unknown column, ignored).
    columns: Option<Vec<Option<&'static str>>>,
    rows: u64,
    warnings: Vec<FieldError>,
}

impl Default for CsvReader {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvReader {
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
        }
    }

    fn read(&mut self, mut input: &[u8], out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
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

    fn record(&mut self, out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
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
        match &self.columns {
            None => {
                let (columns, warnings) = header(&cells)?;
                self.columns = Some(columns);
                self.warnings = warnings;
            }
            Some(columns) => {
                self.rows += 1;
                let card = if cells.len() != columns.len() {
                    Err(RecordProblems {
                        external_id: None,
                        errors: vec![FieldError::new(
                            "row",
                            format!(
                                "has {} values; the header row has {} columns",
                                cells.len(),
                                columns.len()
                            ),
                        )],
                    })
                } else {
                    let fields = columns
                        .iter()
                        .zip(&cells)
                        .filter_map(|(field, cell)| field.map(|f| (f, RawValue::Cell(cell))));
                    card_from_fields(fields).map_err(|errors| RecordProblems {
                        external_id: columns
                            .iter()
                            .position(|f| *f == Some("externalId"))
                            .and_then(|i| external_id_hint(Some(RawValue::Cell(cells[i])))),
                        errors,
                    })
                };
                out.push(ParsedRecord {
                    number: self.rows,
                    card,
                });
            }
        }
        Ok(())
    }
}

type Header = (Vec<Option<&'static str>>, Vec<FieldError>);

fn header(cells: &[&str]) -> Result<Header, FileError> {
    let mut columns = Vec::with_capacity(cells.len());
    let mut warnings = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let name = cell.trim_start_matches('\u{feff}').trim();
        let field = SUPPLIER_FIELDS.iter().copied().find(|f| *f == name);
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
                    crate::domain::supplier::truncate(name, 64)
                },
                "is not a supplier card field; its values were ignored",
            )),
            None => {}
        }
        columns.push(field);
    }
    let missing: Vec<&str> = REQUIRED_SUPPLIER_FIELDS
        .iter()
        .copied()
        .filter(|f| !columns.contains(&Some(*f)))
        .collect();
    if !missing.is_empty() {
        return Err(FileError(format!(
            "the CSV header row lacks the required column{} {}; the first row must name the fields, e.g. externalId,name,country",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    Ok((columns, warnings))
}

impl RecordReader for CsvReader {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
        self.read(chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
        self.read(&[], out)?;
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
pub struct JsonReader {
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
}

impl Default for JsonReader {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonReader {
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
        }
    }

    fn emit(&mut self, out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
        self.records += 1;
        let number = self.records;
        let bytes = std::mem::take(&mut self.record);
        if std::str::from_utf8(&bytes).is_err() {
            return Err(not_utf8(format!("first invalid byte in record {number}")));
        }
        let card = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(value) => card_from_json(&value).map_err(|errors| RecordProblems {
                external_id: value
                    .get("externalId")
                    .and_then(|v| external_id_hint(Some(RawValue::Json(v)))),
                errors,
            }),
            Err(e) => Err(RecordProblems {
                external_id: None,
                errors: vec![FieldError::new(
                    "record",
                    format!("is not valid JSON ({})", strip_position(&e.to_string())),
                )],
            }),
        };
        out.push(ParsedRecord { number, card });
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

impl RecordReader for JsonReader {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
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

    fn finish(&mut self, out: &mut Vec<ParsedRecord>) -> Result<(), FileError> {
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

    /// Feeds `bytes` in chunks of `chunk` bytes and returns every record (or the file error).
    fn read_all(
        reader: &mut dyn RecordReader,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Vec<ParsedRecord>, FileError> {
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            reader.push(piece, &mut out)?;
        }
        reader.finish(&mut out)?;
        Ok(out)
    }

    fn ok_ids(records: &[ParsedRecord]) -> Vec<String> {
        records
            .iter()
            .filter_map(|r| r.card.as_ref().ok().map(|c| c.external_id.clone()))
            .collect()
    }

    #[test]
    fn csv_reads_quotes_crlf_bom_and_reports_rows_in_any_chunking() {
        let csv = "\u{feff}externalId,name,city,colour\r\nS1,\"Acme, Inc.\",Oslo,red\r\nS2,\"Line \"\"Q\"\"\",,\"multi\nline\"\r\n,NoId,,\r\nS4,Short\r\n";
        for chunk in [1, 2, 7, 4096] {
            let mut reader = CsvReader::new();
            let records = read_all(&mut reader, csv.as_bytes(), chunk).unwrap();
            assert_eq!(records.len(), 4, "chunk {chunk}");
            assert_eq!(ok_ids(&records), ["S1", "S2"]);
            let card = records[1].card.as_ref().unwrap();
            assert_eq!(card.name, "Line \"Q\"");
            assert_eq!(records[0].card.as_ref().unwrap().name, "Acme, Inc.");
            let bad = records[2].card.as_ref().unwrap_err();
            assert_eq!(
                (records[2].number, bad.errors[0].field.as_str()),
                (3, "externalId")
            );
            let short = records[3].card.as_ref().unwrap_err();
            assert_eq!(short.errors[0].field, "row");
            assert_eq!(reader.warnings()[0].field, "colour");
        }
    }

    #[test]
    fn csv_file_level_failures() {
        let missing = read_all(&mut CsvReader::new(), b"id,title\n1,2\n", 5).unwrap_err();
        assert!(missing.0.contains("externalId, name"), "{missing}");
        let empty = read_all(&mut CsvReader::new(), b"", 5).unwrap_err();
        assert!(empty.0.contains("empty"));
        let latin1 =
            read_all(&mut CsvReader::new(), b"externalId,name\nS1,M\xfcller\n", 3).unwrap_err();
        assert!(
            latin1.0.contains("UTF-8") && latin1.0.contains("row 1"),
            "{latin1}"
        );
        let twice = read_all(&mut CsvReader::new(), b"name,name,externalId\n", 64).unwrap_err();
        assert!(twice.0.contains("twice"));
        let long = format!(
            "externalId,name\nS1,{}\n",
            "x".repeat(MAX_RECORD_BYTES + 10)
        );
        assert!(read_all(&mut CsvReader::new(), long.as_bytes(), 65536).is_err());
    }

    #[test]
    fn json_array_elements_are_records_in_any_chunking() {
        let json = br#" [ {"externalId":"S1","name":"A \"]}\\"}, 5, {"externalId":"S3","name":"C","x":{"y":[1]}} ,
            {"externalId":"S4","name":"D"}, {bad json}, "text" ] "#;
        for chunk in [1, 3, 4096] {
            let records = read_all(&mut JsonReader::new(), json, chunk).unwrap();
            assert_eq!(records.len(), 6, "chunk {chunk}");
            assert_eq!(ok_ids(&records), ["S1", "S4"]);
            assert_eq!(records[0].card.as_ref().unwrap().name, "A \"]}\\");
            let unknown = records[2].card.as_ref().unwrap_err();
            assert_eq!(unknown.external_id.as_deref(), Some("S3"));
            assert_eq!(unknown.errors[0].field, "x");
            assert_eq!(
                records[4].card.as_ref().unwrap_err().errors[0].field,
                "record"
            );
            assert_eq!(records[5].number, 6);
        }
        assert!(read_all(&mut JsonReader::new(), b"\xef\xbb\xbf[]", 1)
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
                read_all(&mut JsonReader::new(), bad, 2).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let latin1 =
            read_all(&mut JsonReader::new(), b"[{\"name\":\"M\xfcller\"}]", 4).unwrap_err();
        assert!(latin1.0.contains("UTF-8"));
    }
}
