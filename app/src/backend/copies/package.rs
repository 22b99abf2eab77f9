//! What a copy ships as: its files, the release manifest, and (for more than one file) the
//! `.zip` that carries them together.
//!
//! The manifest (`manifest.json`) lists each released item (type, id, date, SHA-256 of its
//! canonical JSON, see `fhir::canonical_json`), what was left out with its legal basis, and the
//! SHA-256 of every other file of the download, so a recipient can check that nothing was
//! changed or dropped. Its summary is on the PDF's cover; `/verify` checks a file against the
//! hashes the portal stored.

use super::fhir::ManifestItem;
use serde::Serialize;
use std::io::Write;

/// One file of a copy.
#[derive(Debug, Clone)]
pub struct CopyFile {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    /// A PDF's page count.
    pub pages: Option<usize>,
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
        self.files = files.into_iter().map(|f| ManifestFile { name: f.name.clone(), bytes: f.bytes.len(), sha256: super::sha256_hex(&f.bytes) }).collect();
        self
    }
}

/// The files in one `.zip` (deflated), in the given order.
pub fn zip(files: &[CopyFile]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(files.iter().map(|f| f.bytes.len()).sum::<usize>() / 2 + 1024)));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for file in files {
        writer.start_file(file.name.as_str(), options)?;
        writer.write_all(&file.bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_holds_every_file_unchanged() {
        let files = vec![
            CopyFile { name: "record.json".into(), content_type: "application/fhir+json", bytes: br#"{"resourceType":"Bundle"}"#.to_vec(), pages: None },
            CopyFile { name: "manifest.json".into(), content_type: "application/json", bytes: b"{}".to_vec(), pages: None },
        ];
        let bytes = zip(&files).unwrap_or_default();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(archive.len(), 2);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("record.json").unwrap_or_else(|e| panic!("{e}")), &mut text).unwrap_or_default();
        assert_eq!(text, r#"{"resourceType":"Bundle"}"#);
    }
}
