//! The one rule for free text the API accepts: not blank, bounded in characters, and free of
//! control characters (except, where a field allows it, newlines and tabs).

use crate::foundation::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, codes, identifiers: no control characters at all.
    Single,
    /// Free-form notes such as a rejection reason: `\n` and `\t` allowed.
    Multi,
}

pub fn check(field: &str, value: &str, max_chars: usize, lines: Lines) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be blank"));
    }
    if value.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    let allowed = |c: char| lines == Lines::Multi && (c == '\n' || c == '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Longest file name a soft copy may carry (most file systems' limit).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// A soft copy's file name, which becomes the downloaded file's name: one name, not a path.
/// Single-line text with no `/` or `\`, not `.` or `..`, no surrounding spaces.
pub fn check_file_name(field: &str, value: &str) -> Result<(), FieldError> {
    check(field, value, MAX_FILE_NAME_CHARS, Lines::Single)?;
    if value.contains(['/', '\\']) {
        return Err(FieldError::new(
            field,
            "must be a file name, without '/' or '\\'",
        ));
    }
    if value == "." || value == ".." {
        return Err(FieldError::new(field, "must be a file name, not . or .."));
    }
    if value.trim() != value {
        return Err(FieldError::new(
            field,
            "must not start or end with white space",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_names_not_paths() {
        for good in ["INV-1.pdf", "Rechnung März 2026.pdf", "a..b.png", ".hidden"] {
            assert!(check_file_name("f", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "a/b.pdf",
            "a\\b.pdf",
            "..",
            ".",
            "a\nb.pdf",
            "a\u{0}.pdf",
            " x.pdf",
            "x.pdf\t",
        ] {
            assert_eq!(check_file_name("f", bad).unwrap_err().field, "f", "{bad:?}");
        }
        assert!(check_file_name("f", &"x".repeat(256)).is_err());
    }

    #[test]
    fn blank_long_and_control_characters_are_named() {
        assert_eq!(check("n", "  ", 5, Lines::Single).unwrap_err().field, "n");
        assert!(check("n", "abcdef", 5, Lines::Single).is_err());
        assert!(
            check("n", "äöüßé", 5, Lines::Single).is_ok(),
            "counts characters"
        );
        assert!(check("n", "a\nb", 5, Lines::Single).is_err());
        assert!(check("n", "a\nb", 5, Lines::Multi).is_ok());
        assert!(check("n", "a\u{7}b", 5, Lines::Multi).is_err());
    }
}
