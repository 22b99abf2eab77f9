//! Encryption of released files at rest: AES-256-GCM with a key from settings (`file_keys`), a
//! random 96-bit nonce per file, and the file's id and request as associated data, so a stored
//! file cannot be swapped onto another row unnoticed. Keys carry an id; the first key seals,
//! every listed key opens: rotation is "put the new key first, drop the old one once the files it
//! sealed have expired" (README, "Released files").

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use rand::RngCore;

/// The keys that seal and open released files.
#[derive(Clone)]
pub struct FileKeys {
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for FileKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids only: key bytes never reach a log.
        f.debug_struct("FileKeys").field("ids", &self.keys.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>()).finish()
    }
}

/// Why sealing or opening a file failed. Says nothing about the file's content.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealing a file failed")]
    Seal,
    #[error("the file was sealed with key {0}, which is no longer configured")]
    UnknownKey(String),
    #[error("the stored file is damaged or was sealed for another request")]
    Damaged,
}

/// The prefix of a secret sealed into a text column.
const SEALED_TEXT: &str = "sealed:";

/// A sealed file as stored.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl FileKeys {
    /// Reads `id:base64key[,id:base64key...]`; each key is 32 bytes (standard base64).
    pub fn parse(text: &str) -> Result<FileKeys, String> {
        let mut keys = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((id, encoded)) = part.split_once(':') else {
                return Err("each file key is written id:base64 (32 bytes), e.g. k2026:...".into());
            };
            let id = id.trim();
            if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(format!("file key id {id:?} must be 1 to 64 letters, digits, - or _"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| format!("file key {id} is not base64"))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| format!("file key {id} must be 32 bytes (AES-256)"))?;
            if keys.iter().any(|(k, _)| k == id) {
                return Err(format!("file key id {id} is listed twice"));
            }
            keys.push((id.to_string(), key));
        }
        if keys.is_empty() {
            return Err("no file key given".into());
        }
        Ok(FileKeys { keys })
    }

    /// The key development and tests use when none is configured (production refuses to start
    /// without one: settings validation).
    pub fn development() -> FileKeys {
        let mut key = [0u8; 32];
        for (i, b) in b"development-only-file-key-000000".iter().enumerate() {
            key[i] = *b;
        }
        FileKeys { keys: vec![("dev".into(), key)] }
    }

    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    fn cipher(key: &[u8; 32]) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
    }

    /// Seals with the first key. `context` (file id and request id) is bound as associated data.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Sealed, SealError> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = Self::cipher(key)
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: context.as_bytes() })
            .map_err(|_| SealError::Seal)?;
        Ok(Sealed { key_id: id.clone(), nonce: nonce.to_vec(), ciphertext })
    }

    /// A key for another purpose (`session-id`, say), derived from the sealing key with
    /// HMAC-SHA256: the site keeps one secret, and each use gets its own key. Rotating the first
    /// key changes every derived key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let (_, key) = &self.keys[0];
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Seals a short secret into one line of text (for a text column): `sealed:<key id>:<nonce
    /// hex>:<ciphertext hex>`, bound to `context`.
    pub fn seal_text(&self, plain: &[u8], context: &str) -> Result<String, SealError> {
        let sealed = self.seal(plain, context)?;
        Ok(format!("{SEALED_TEXT}{}:{}:{}", sealed.key_id, hex::encode(&sealed.nonce), hex::encode(&sealed.ciphertext)))
    }

    /// Opens what [`seal_text`](Self::seal_text) wrote; `None` when the text is not sealed at all
    /// (a value stored before sealing), an error when it is sealed but cannot be opened.
    pub fn open_text(&self, text: &str, context: &str) -> Option<Result<Vec<u8>, SealError>> {
        let rest = text.strip_prefix(SEALED_TEXT)?;
        let mut parts = rest.splitn(3, ':');
        let parsed = (|| Some(Sealed { key_id: parts.next()?.to_string(), nonce: hex::decode(parts.next()?).ok()?, ciphertext: hex::decode(parts.next()?).ok()? }))();
        Some(parsed.ok_or(SealError::Damaged).and_then(|sealed| self.open(&sealed, context)))
    }

    /// Opens a sealed file; fails when the key is unknown, or the file, nonce or context differ
    /// from what was sealed.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, SealError> {
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == sealed.key_id) else {
            return Err(SealError::UnknownKey(sealed.key_id.clone()));
        };
        if sealed.nonce.len() != 12 {
            return Err(SealError::Damaged);
        }
        Self::cipher(key)
            .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: context.as_bytes() })
            .map_err(|_| SealError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> FileKeys {
        FileKeys::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "HxwdHhscGRoYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

    #[test]
    fn secrets_sealed_as_text_open_with_their_context_and_plain_text_is_told_apart() {
        let k = keys(&format!("a:{K1}"));
        let text = k.seal_text(b"twenty bytes secret!", "totp/user-1").expect("sealed");
        assert!(text.starts_with("sealed:a:") && !text.contains("twenty"));
        assert_eq!(k.open_text(&text, "totp/user-1").map(Result::ok), Some(Some(b"twenty bytes secret!".to_vec())));
        assert!(k.open_text(&text, "totp/user-2").is_some_and(|r| r.is_err()), "bound to its owner");
        assert!(k.open_text("JBSWY3DPEHPK3PXP", "totp/user-1").is_none(), "not sealed");
        assert!(k.open_text("sealed:a:zz", "totp/user-1").is_some_and(|r| r.is_err()), "damaged");
    }

    #[test]
    fn sealed_files_open_with_the_same_context_only() {
        let k = keys(&format!("a:{K1}"));
        let sealed = k.seal(b"the copy", "file-1/request-1").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(sealed.ciphertext, b"the copy");
        assert_eq!(k.open(&sealed, "file-1/request-1").unwrap_or_default(), b"the copy");
        assert!(k.open(&sealed, "file-1/request-2").is_err(), "moved onto another request");
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(k.open(&tampered, "file-1/request-1").is_err(), "tampered");
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_opens_with_any() {
        let old = keys(&format!("old:{K1}"));
        let sealed_old = old.seal(b"x", "c").unwrap_or_else(|e| panic!("{e}"));
        let rotated = keys(&format!("new:{K2},old:{K1}"));
        assert_eq!(rotated.open(&sealed_old, "c").unwrap_or_default(), b"x");
        assert_eq!(rotated.seal(b"y", "c").map(|s| s.key_id).unwrap_or_default(), "new");
        let dropped = keys(&format!("new:{K2}"));
        assert!(dropped.open(&sealed_old, "c").unwrap_err().to_string().contains("no longer configured"));
    }

    #[test]
    fn bad_key_settings_are_refused_with_a_reason() {
        assert!(FileKeys::parse("").is_err());
        assert!(FileKeys::parse(K1).unwrap_err().contains("id:base64"));
        assert!(FileKeys::parse("a:not base64!").unwrap_err().contains("not base64"));
        assert!(FileKeys::parse("a:AAAA").unwrap_err().contains("32 bytes"));
        assert!(FileKeys::parse(&format!("a:{K1},a:{K2}")).unwrap_err().contains("twice"));
        assert!(FileKeys::parse(&format!("a b:{K1}")).is_err());
    }
}
