//! Demo soft copies: a real one-page PDF rendered per invoice, and scanned-page images
//! (generated once by assets/make_samples.py) for the JPEG, PNG and TIFF formats.

use ledgerdock_shared::domain::DocumentFormat;

pub const SAMPLE_JPEG: &[u8] = include_bytes!("../../assets/sample.jpg");
pub const SAMPLE_PNG: &[u8] = include_bytes!("../../assets/sample.png");
pub const SAMPLE_TIFF: &[u8] = include_bytes!("../../assets/sample.tiff");

pub fn image(format: DocumentFormat) -> Option<&'static [u8]> {
    match format {
        DocumentFormat::Jpeg => Some(SAMPLE_JPEG),
        DocumentFormat::Png => Some(SAMPLE_PNG),
        DocumentFormat::Tiff => Some(SAMPLE_TIFF),
        DocumentFormat::Pdf => None,
    }
}

/// Escapes text for a PDF literal string.
fn pdf_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '(' | ')' | '\\' => format!("\\{c}"),
            c if c.is_ascii() && !c.is_ascii_control() => c.to_string(),
            _ => "?".to_string(),
        })
        .collect()
}

/// A valid single-page PDF 1.4 (Helvetica, correct xref offsets) showing `lines` of text.
pub fn pdf(lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 11 Tf 14 TL 56 780 Td\n");
    for line in lines.iter().take(50) {
        content.push_str(&format!("({}) Tj T*\n", pdf_text(line)));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref_at = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_is_well_formed() {
        let bytes = pdf(&["Invoice (INV-1)".to_string()]);
        assert_eq!(DocumentFormat::sniff(&bytes), Some(DocumentFormat::Pdf));
        // Work on bytes: the header's binary marker is not UTF-8, so a lossy string shifts offsets.
        let marker = b"startxref\n";
        let at = bytes
            .windows(marker.len())
            .rposition(|w| w == marker)
            .unwrap()
            + marker.len();
        let digits: String = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|b| *b as char)
            .collect();
        let startxref: usize = digits.parse().unwrap();
        assert!(
            bytes[startxref..].starts_with(b"xref"),
            "startxref points at the xref table"
        );
        let needle = br"Invoice \(INV-1\)";
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn sample_images_are_what_they_claim() {
        for format in [
            DocumentFormat::Jpeg,
            DocumentFormat::Png,
            DocumentFormat::Tiff,
        ] {
            assert_eq!(DocumentFormat::sniff(image(format).unwrap()), Some(format));
        }
    }
}
