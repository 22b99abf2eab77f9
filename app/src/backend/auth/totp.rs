//! Time-based one-time passwords (RFC 6238, on HOTP, RFC 4226): HMAC-SHA1, 30-second steps,
//! six digits, the parameters every authenticator app understands. Pure functions; the caller
//! supplies the time and remembers the last accepted step, so a code cannot be used twice.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// RFC 6238 4.1: the default time step X = 30 seconds.
pub const STEP_SECS: i64 = 30;
/// A secret of 160 bits, the HMAC-SHA1 output length (RFC 4226 4, R6).
pub const SECRET_BYTES: usize = 20;

/// A fresh random secret.
pub fn new_secret() -> [u8; SECRET_BYTES] {
    rand::random()
}

/// The secret as people type it into an app: base32 without padding (RFC 4648), in groups of 4.
pub fn manual_key(secret: &[u8]) -> String {
    let encoded = data_encoding::BASE32_NOPAD.encode(secret);
    encoded.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The stored form of a secret (base32, no spaces).
pub fn encode_secret(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

pub fn decode_secret(stored: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD.decode(stored.as_bytes()).ok()
}

/// HOTP (RFC 4226 5.3): HMAC-SHA1 of the counter, dynamic truncation, 6 decimal digits.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX; // HMAC takes keys of any length; unreachable in practice, never a valid code.
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    binary % 1_000_000
}

/// The time step of a Unix time in seconds.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// Checks a typed code against the steps around `now` (one step either side, for clock drift,
/// RFC 6238 5.2) that are later than `last_step`. Returns the matching step to remember.
pub fn verify(secret: &[u8], typed: &str, unix_secs: i64, last_step: Option<i64>) -> Option<i64> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u32 = digits.parse().ok()?;
    let now = step_at(unix_secs);
    (now - 1..=now + 1)
        .filter(|step| last_step.is_none_or(|last| *step > last) && *step >= 0)
        .find(|step| hotp(secret, *step as u64) == code)
}

/// The `otpauth://` URI that authenticator apps read from the QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        encode_secret(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8-digit codes there; the last 6 digits are ours).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(secret, step_at(time) as u64), expected % 1_000_000, "t={time}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let secret = b"12345678901234567890";
        let t = 1_111_111_109;
        let code = format!("{:06}", hotp(secret, step_at(t) as u64));
        let step = verify(secret, &code, t, None).expect("valid now");
        assert_eq!(verify(secret, &code, t, Some(step)), None, "replay refused");
        assert!(verify(secret, &code, t + 30, None).is_some(), "one step of drift is fine");
        assert_eq!(verify(secret, &code, t + 90, None), None, "three steps later it is not");
        assert!(verify(secret, &format!("{} {}", &code[..3], &code[3..]), t, None).is_some(), "spaces are ignored");
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = b"12345678901234567890";
        for bad in ["", "12345", "1234567", "abcdef", "12345x", "１２３４５６"] {
            assert_eq!(verify(secret, bad, 59, None), None, "{bad}");
        }
    }

    #[test]
    fn secrets_round_trip_and_print_for_typing() {
        let secret = new_secret();
        assert_eq!(decode_secret(&encode_secret(&secret)).as_deref(), Some(&secret[..]));
        let key = manual_key(b"12345678901234567890");
        assert_eq!(key, "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        let uri = otpauth_uri("Patient portal", "ana@example.org", b"12345678901234567890");
        assert!(uri.starts_with("otpauth://totp/Patient%20portal:ana@example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Patient%20portal"), "{uri}");
    }
}
