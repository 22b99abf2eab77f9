//! `ErrorRef`: the short reference shown to a person when something fails on the server, and
//! written beside the full cause in the server log, so support staff can find one from the other.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `E-` followed by eight upper-case hexadecimal digits, e.g. `E-7F3A9C2D`.
/// Short enough to read over the phone; never derived from the error's content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ErrorRef(String);

/// Why a string is not an [`ErrorRef`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an error reference looks like E-7F3A9C2D")]
pub struct ErrorRefParseError;

impl ErrorRef {
    /// Parses a reference typed or pasted by a person: surrounding spaces and lower case are accepted.
    pub fn parse(text: &str) -> Result<Self, ErrorRefParseError> {
        let upper = text.trim().to_ascii_uppercase();
        let digits = upper.strip_prefix("E-").ok_or(ErrorRefParseError)?;
        if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(ErrorRef(upper))
        } else {
            Err(ErrorRefParseError)
        }
    }

    /// Builds a reference from 32 random bits supplied by the caller (the server's RNG).
    pub fn from_bits(bits: u32) -> Self {
        ErrorRef(format!("E-{bits:08X}"))
    }

    /// A reference for a failure inside the server-function framework itself, where no server log
    /// entry exists: derived from the message so that repeated reports of one fault match.
    pub fn for_framework_error(message: &str) -> Self {
        // FNV-1a: tiny, stable across platforms (wasm and server), and not security-relevant here.
        let mut hash: u32 = 0x811c_9dc5;
        for byte in message.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        Self::from_bits(hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ErrorRef {
    type Error = ErrorRefParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ErrorRef> for String {
    fn from(value: ErrorRef) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_bits_as_eight_hex_digits() {
        assert_eq!(ErrorRef::from_bits(0xAB).as_str(), "E-000000AB");
    }

    #[test]
    fn accepts_what_a_person_might_type() {
        assert_eq!(ErrorRef::parse(" e-7f3a9c2d ").map(|r| r.to_string()), Ok("E-7F3A9C2D".into()));
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in ["", "E-", "E-123", "E-1234567G", "X-12345678", "E-123456789", "7F3A9C2D"] {
            assert_eq!(ErrorRef::parse(bad), Err(ErrorRefParseError), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_checks_the_format() {
        assert!(serde_json::from_str::<ErrorRef>("\"E-00000001\"").is_ok());
        assert!(serde_json::from_str::<ErrorRef>("\"select * from patient\"").is_err());
    }

    #[test]
    fn framework_references_are_stable() {
        assert_eq!(ErrorRef::for_framework_error("x"), ErrorRef::for_framework_error("x"));
        assert_ne!(ErrorRef::for_framework_error("x"), ErrorRef::for_framework_error("y"));
    }
}
