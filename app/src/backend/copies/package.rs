//! What a copy ships as: its files, the release manifest, and (for more than one file) the
//! `.zip` that carries them together.
//!
//! The manifest (`manifest.json`) lists each released item (type, id, date, SHA-256 of its
//! canonical JSON, see `fhir::canonical_json`), what was left out with its legal basis, and the
//! SHA-256 of every other file of the download, so a recipient can check that nothing was
//! changed or dropped. Its summary is on the PDF's cover; `/verify` checks a file against the
//! hashes the portal stored.
//!
//! A file is in memory, or, for a download whose PDF carries scanned pages, spooled to an
//! unnamed temporary file as it is written (`Spooler`): a record with a hundred scanned pages
//! is never held whole by the server, and the download streams from the spool, which the
//! operating system removes when the response ends (it never has a name on disk).

use super::fhir::ManifestItem;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};

/// One file of a copy.
#[derive(Debug)]
pub struct CopyFile {
    pub name: String,
    pub content_type: &'static str,
    pub body: Body,
    /// A PDF's page count.
    pub pages: Option<usize>,
}

/// A file's content.
#[derive(Debug)]
pub enum Body {
    Memory(Vec<u8>),
    Spooled(Spool),
}

/// A file written to an unnamed temporary file, with its size and SHA-256 taken as it was
/// written (never read back to be hashed).
#[derive(Debug)]
pub struct Spool {
    file: std::fs::File,
    len: u64,
    sha256: String,
}

/// Writes a spool: counts and hashes what passes.
pub struct Spooler {
    out: std::io::BufWriter<std::fs::File>,
    len: u64,
    hasher: Sha256,
}

impl Spooler {
    /// A new unnamed temporary file (`TMPDIR`; on Linux never linked into a directory).
    pub fn new() -> std::io::Result<Spooler> {
        Ok(Spooler { out: std::io::BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?), len: 0, hasher: Sha256::new() })
    }

    /// The bytes written so far (a PDF writer's offsets).
    pub fn position(&self) -> u64 {
        self.len
    }

    pub fn finish(self) -> std::io::Result<Spool> {
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(Spool { file, len: self.len, sha256: hex::encode(self.hasher.finalize()) })
    }
}

impl Write for Spooler {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Spool {
    /// A finished temporary file, read through once for its size and hash.
    fn hashed(mut file: std::fs::File) -> std::io::Result<Spool> {
        file.rewind()?;
        let (mut hasher, mut len, mut buffer) = (Sha256::new(), 0u64, vec![0u8; 64 * 1024]);
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            len += n as u64;
        }
        file.rewind()?;
        Ok(Spool { file, len, sha256: hex::encode(hasher.finalize()) })
    }
}

impl Body {
    /// The size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Body::Memory(bytes) => bytes.len(),
            Body::Spooled(spool) => usize::try_from(spool.len).unwrap_or(usize::MAX),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SHA-256, in hex.
    pub fn sha256(&self) -> String {
        match self {
            Body::Memory(bytes) => super::sha256_hex(bytes),
            Body::Spooled(spool) => spool.sha256.clone(),
        }
    }

    /// The content in memory, for what is stored in the database or mailed (a spool is read).
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        match self {
            Body::Memory(bytes) => Ok(bytes),
            Body::Spooled(mut spool) => {
                let mut bytes = Vec::with_capacity(usize::try_from(spool.len).unwrap_or(0));
                spool.file.rewind()?;
                spool.file.read_to_end(&mut bytes)?;
                Ok(bytes)
            }
        }
    }

    /// A copy of the content in memory (a spool is read where it lies; its position is kept).
    pub fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Body::Memory(bytes) => Ok(bytes.clone()),
            Body::Spooled(spool) => {
                use std::os::unix::fs::FileExt;
                let mut bytes = vec![0u8; usize::try_from(spool.len).unwrap_or(0)];
                spool.file.read_exact_at(&mut bytes, 0)?;
                Ok(bytes)
            }
        }
    }

    /// Writes the content to `out` (a spool is copied through a small buffer).
    fn copy_to(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Body::Memory(bytes) => out.write_all(bytes),
            Body::Spooled(spool) => {
                spool.file.rewind()?;
                std::io::copy(&mut spool.file, out).map(|_| ())
            }
        }
    }

    /// A spool of `bytes` (an attachment travelling beside the PDF of a download, so the
    /// server holds one attachment at a time).
    pub fn spooled(bytes: &[u8]) -> std::io::Result<Body> {
        let mut spooler = Spooler::new()?;
        spooler.write_all(bytes)?;
        spooler.finish().map(Body::Spooled)
    }
}

impl axum::response::IntoResponse for Body {
    /// The file as a response body: from memory, or streamed from the spool with its length.
    fn into_response(self) -> axum::response::Response {
        match self {
            Body::Memory(bytes) => bytes.into_response(),
            Body::Spooled(spool) => {
                let len = spool.len;
                let stream = tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(spool.file), 64 * 1024);
                let mut response = axum::body::Body::from_stream(stream).into_response();
                response.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
                response
            }
        }
    }
}

/// A file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    pub name: String,
    pub bytes: usize,
    pub sha256: String,
}

/// Something left out of the copy and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestExclusion {
    pub what: String,
    pub basis: String,
}

/// The release manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// The verification code printed on the copy.
    pub code: String,
    pub created: String,
    pub producer: String,
    pub scope: String,
    pub items: Vec<ManifestItem>,
    pub excluded: Vec<ManifestExclusion>,
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// The manifest as pretty JSON (people open it too).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Lists the files (each with its hash).
    pub fn with_files<'a>(mut self, files: impl IntoIterator<Item = &'a CopyFile>) -> Self {
        self.files = files.into_iter().map(|f| ManifestFile { name: f.name.clone(), bytes: f.body.len(), sha256: f.body.sha256() }).collect();
        self
    }
}

/// The files in one `.zip` (deflated), in the given order: in memory, or spooled when any of
/// them is (a download with scanned pages).
pub fn zip(files: &mut [CopyFile]) -> Result<Body, zip::result::ZipError> {
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    if files.iter().any(|f| matches!(f.body, Body::Spooled(_))) {
        let mut writer = zip::ZipWriter::new(tempfile::tempfile()?);
        for file in files.iter_mut() {
            writer.start_file(file.name.as_str(), options)?;
            file.body.copy_to(&mut writer)?;
        }
        // The archive's headers are written back in place as it goes: hash the finished file.
        return Ok(Body::Spooled(Spool::hashed(writer.finish()?)?));
    }
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(files.iter().map(|f| f.body.len()).sum::<usize>() / 2 + 1024)));
    for file in files.iter_mut() {
        writer.start_file(file.name.as_str(), options)?;
        file.body.copy_to(&mut writer)?;
    }
    Ok(Body::Memory(writer.finish()?.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(spool: bool) -> Vec<CopyFile> {
        let bundle = br#"{"resourceType":"Bundle"}"#;
        let body = if spool { Body::spooled(bundle).unwrap_or_else(|e| panic!("{e}")) } else { Body::Memory(bundle.to_vec()) };
        vec![
            CopyFile { name: "record.json".into(), content_type: "application/fhir+json", body, pages: None },
            CopyFile { name: "manifest.json".into(), content_type: "application/json", body: Body::Memory(b"{}".to_vec()), pages: None },
        ]
    }

    #[test]
    fn a_zip_holds_every_file_unchanged_in_memory_or_spooled() {
        for spool in [false, true] {
            let zipped = zip(&mut files(spool)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(matches!(zipped, Body::Spooled(_)), spool, "a zip of a spooled file is spooled");
            let (len, sha) = (zipped.len(), zipped.sha256());
            let bytes = zipped.into_bytes().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((bytes.len(), super::super::sha256_hex(&bytes)), (len, sha), "size and hash are the file's");
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(archive.len(), 2);
            let mut text = String::new();
            std::io::Read::read_to_string(&mut archive.by_name("record.json").unwrap_or_else(|e| panic!("{e}")), &mut text).unwrap_or_default();
            assert_eq!(text, r#"{"resourceType":"Bundle"}"#);
        }
    }

    #[test]
    fn a_spool_hashes_what_was_written() {
        let mut spooler = Spooler::new().unwrap_or_else(|e| panic!("{e}"));
        spooler.write_all(b"%PDF-1.3\n").unwrap_or_else(|e| panic!("{e}"));
        spooler.write_all(b"rest").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spooler.position(), 13);
        let body = Body::Spooled(spooler.finish().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(body.sha256(), super::super::sha256_hex(b"%PDF-1.3\nrest"));
        assert_eq!(body.into_bytes().unwrap_or_default(), b"%PDF-1.3\nrest");
    }
}
