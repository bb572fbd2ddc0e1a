//! The one rule for free text the API accepts: not blank, bounded in characters, and free of
//! control characters (except, where a field allows it, newlines and tabs).

use crate::error::FieldError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
