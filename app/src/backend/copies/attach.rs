//! Scanned documents and images in the PDF copy (the self-service issue's "Complete copies"):
//! each page of an attached PDF, and each JPEG or PNG image, is placed on a page of the copy that
//! carries the copy's own header (patient, birth date, record number) and footer, inside the area
//! the renderer reserved for it (`pdf::Slot`).
//!
//! - A PDF's page becomes a Form XObject (its content and resources, clipped to its media box),
//!   scaled to fit; nothing of the attached file runs (no scripts, forms or links are carried).
//! - A JPEG goes in as it is (`DCTDecode`); a PNG's compressed data goes in as it is too
//!   (`FlateDecode` with the PNG predictor): neither is decoded here.
//! - `inspect` checks a file before anything is rendered: a file that is not what its type says,
//!   is encrypted or is damaged is refused as broken, and the cover lists it as "could not be
//!   included" with the reason; a sound file the PDF cannot show safely (a TIFF, a PNG with
//!   transparency) travels beside the PDF in a download's `.zip`, and the cover says so. The
//!   rest of the copy is always made.
//! - One attachment is read at a time (the caller fetches it, places it, drops it).

use super::pdf::Slot;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

/// The most decompressed content one attached page may have (a bomb stops here).
const MAX_PAGE_CONTENT: usize = 32 * 1024 * 1024;
/// The most pages one attached PDF may bring.
const MAX_PAGES: usize = 2000;

/// An attachment's kind, by its content (never by its declared type alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Jpeg,
    Png,
}

impl Kind {
    /// The kind a declared content type promises, if the copy can place it.
    pub fn declared(content_type: &str) -> Option<Kind> {
        match content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "application/pdf" => Some(Kind::Pdf),
            "image/jpeg" | "image/jpg" => Some(Kind::Jpeg),
            "image/png" => Some(Kind::Png),
            _ => None,
        }
    }

    fn sniffed(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(b"%PDF-") {
            Some(Kind::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else {
            None
        }
    }
}

/// Why a file is not placed in the PDF: it is sound but cannot be placed safely (it can travel
/// beside the PDF in a download), or it is broken (not what its type says, encrypted, damaged)
/// and is only listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unplaceable(String),
    Broken(String),
}

impl Refusal {
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Unplaceable(r) | Refusal::Broken(r) => r,
        }
    }
}

fn broken(reason: &str) -> Refusal {
    Refusal::Broken(reason.to_string())
}

fn unplaceable(reason: &str) -> Refusal {
    Refusal::Unplaceable(reason.to_string())
}

/// A placeable image: its size and how its data is decoded.
struct Image {
    width: u32,
    height: u32,
    dictionary: Dictionary,
    data: Vec<u8>,
}

fn jpeg(bytes: &[u8]) -> Result<Image, Refusal> {
    // Walk the markers to the frame header (SOF0..SOF15 but DHT, JPG and DAC).
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return Err(broken("it is damaged (not a JPEG image)"));
        }
        let marker = bytes[at + 1];
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let header = bytes.get(at + 4..at + 2 + length).ok_or_else(|| broken("it is damaged (a cut JPEG image)"))?;
            if header.len() < 6 {
                return Err(broken("it is damaged (a cut JPEG image)"));
            }
            let height = u32::from(u16::from_be_bytes([header[1], header[2]]));
            let width = u32::from(u16::from_be_bytes([header[3], header[4]]));
            let space = match header[5] {
                1 => "DeviceGray",
                3 => "DeviceRGB",
                4 => "DeviceCMYK",
                _ => return Err(unplaceable("a JPEG colour layout the copy cannot place")),
            };
            if width == 0 || height == 0 || header[0] != 8 {
                return Err(unplaceable("a JPEG image the copy cannot place"));
            }
            let mut dictionary = Dictionary::new();
            dictionary.set("Type", Object::Name(b"XObject".to_vec()));
            dictionary.set("Subtype", Object::Name(b"Image".to_vec()));
            dictionary.set("Width", i64::from(width));
            dictionary.set("Height", i64::from(height));
            dictionary.set("ColorSpace", Object::Name(space.as_bytes().to_vec()));
            dictionary.set("BitsPerComponent", 8);
            dictionary.set("Filter", Object::Name(b"DCTDecode".to_vec()));
            if space == "DeviceCMYK" {
                // Adobe's CMYK JPEGs are stored inverted.
                dictionary.set("Decode", vec![1.into(), 0.into(), 1.into(), 0.into(), 1.into(), 0.into(), 1.into(), 0.into()]);
            }
            return Ok(Image { width, height, dictionary, data: bytes.to_vec() });
        }
        at += 2 + length;
    }
    Err(broken("it is damaged (a JPEG image without a frame)"))
}

fn png(bytes: &[u8]) -> Result<Image, Refusal> {
    let mut at = 8;
    let (mut width, mut height, mut depth, mut color, mut interlace) = (0u32, 0u32, 0u8, 0u8, 0u8);
    let mut palette: Option<Vec<u8>> = None;
    let mut data = Vec::new();
    let mut transparent = false;
    while at + 8 <= bytes.len() {
        let length = usize::try_from(u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])).map_err(|_| broken("it is damaged"))?;
        let kind = &bytes[at + 4..at + 8];
        let body = bytes.get(at + 8..at + 8 + length).ok_or_else(|| broken("it is damaged (a cut PNG image)"))?;
        match kind {
            b"IHDR" if body.len() >= 13 => {
                width = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                height = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                depth = body[8];
                color = body[9];
                interlace = body[12];
            }
            b"PLTE" => palette = Some(body.to_vec()),
            b"tRNS" => transparent = true,
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + length;
    }
    if width == 0 || height == 0 || data.is_empty() {
        return Err(broken("it is damaged (a PNG image without its data)"));
    }
    if interlace != 0 || transparent || matches!(color, 4 | 6) {
        return Err(unplaceable("a PNG image with transparency or interlacing, which the copy cannot place safely"));
    }
    let (space, colors): (Object, i64) = match (color, depth) {
        (0, 8) => (Object::Name(b"DeviceGray".to_vec()), 1),
        (2, 8) => (Object::Name(b"DeviceRGB".to_vec()), 3),
        (3, 1 | 2 | 4 | 8) => {
            let table = palette.ok_or_else(|| broken("it is damaged (a PNG palette image without its palette)"))?;
            let entries = i64::try_from(table.len() / 3).unwrap_or(0);
            (Object::Array(vec![Object::Name(b"Indexed".to_vec()), Object::Name(b"DeviceRGB".to_vec()), (entries - 1).into(), Object::String(table, lopdf::StringFormat::Hexadecimal)]), 1)
        }
        _ => return Err(unplaceable("a PNG colour depth the copy cannot place")),
    };
    let mut parms = Dictionary::new();
    parms.set("Predictor", 15);
    parms.set("Colors", colors);
    parms.set("BitsPerComponent", i64::from(depth));
    parms.set("Columns", i64::from(width));
    let mut dictionary = Dictionary::new();
    dictionary.set("Type", Object::Name(b"XObject".to_vec()));
    dictionary.set("Subtype", Object::Name(b"Image".to_vec()));
    dictionary.set("Width", i64::from(width));
    dictionary.set("Height", i64::from(height));
    dictionary.set("ColorSpace", space);
    dictionary.set("BitsPerComponent", i64::from(depth));
    dictionary.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    dictionary.set("DecodeParms", parms);
    Ok(Image { width, height, dictionary, data })
}

fn load_pdf(bytes: &[u8]) -> Result<Document, Refusal> {
    let document = Document::load_mem(bytes).map_err(|e| match e {
        lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword => broken("it is encrypted"),
        _ => broken("it is damaged (the PDF could not be read)"),
    })?;
    if document.is_encrypted() || document.trailer.has(b"Encrypt") {
        return Err(broken("it is encrypted"));
    }
    Ok(document)
}

/// How many pages a file brings to the copy, or why it cannot be included. `declared` is the
/// type the record gives it; the content must agree.
pub fn inspect(declared: &str, bytes: &[u8]) -> Result<usize, Refusal> {
    let Some(kind) = Kind::declared(declared) else {
        return Err(Refusal::Unplaceable(format!("a kind of file the PDF copy cannot show ({declared})")));
    };
    if Kind::sniffed(bytes) != Some(kind) {
        return Err(Refusal::Broken(format!("it is not what its type says ({declared})")));
    }
    match kind {
        Kind::Pdf => {
            let document = load_pdf(bytes)?;
            match document.get_pages().len() {
                0 => Err(broken("it is damaged (a PDF without pages)")),
                n if n > MAX_PAGES => Err(Refusal::Unplaceable(format!("it has more than {MAX_PAGES} pages"))),
                n => Ok(n),
            }
        }
        Kind::Jpeg => jpeg(bytes).map(|_| 1),
        Kind::Png => png(bytes).map(|_| 1),
    }
}

/// The copy being completed: the rendered PDF, loaded once, with attachments placed in turn.
pub struct Placer {
    document: Document,
    pages: Vec<ObjectId>,
    placed: usize,
}

/// A page attribute, from the page or the nearest ancestor that has it (PDF 32000 7.7.3.4).
fn inherited(document: &Document, page: ObjectId, key: &[u8]) -> Option<Object> {
    let mut id = page;
    for _ in 0..64 {
        let dictionary = document.get_dictionary(id).ok()?;
        if let Ok(value) = dictionary.get(key) {
            return Some(value.clone());
        }
        id = dictionary.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

fn number(o: &Object) -> Option<f32> {
    o.as_float().ok().or_else(|| o.as_i64().ok().map(|i| i as f32))
}

impl Placer {
    pub fn open(rendered: &[u8]) -> Result<Placer, String> {
        let document = Document::load_mem(rendered).map_err(|e| format!("reading the rendered copy: {e}"))?;
        let pages = document.get_pages().into_values().collect();
        Ok(Placer { document, pages, placed: 0 })
    }

    /// Draws `object` (an XObject of `width` × `height` units, its origin at `origin`) centred
    /// and scaled to fit in the slot.
    fn draw(&mut self, slot: &Slot, object: ObjectId, width: f32, height: f32, origin: (f32, f32)) -> Result<(), String> {
        let page = *self.pages.get(slot.page).ok_or("a slot outside the copy")?;
        self.placed += 1;
        let name = format!("Att{}", self.placed);
        // The page's resources, made its own, with the XObject added.
        let resources = match inherited(&self.document, page, b"Resources") {
            Some(Object::Reference(id)) => self.document.get_dictionary(id).cloned().unwrap_or_default(),
            Some(Object::Dictionary(d)) => d,
            _ => Dictionary::new(),
        };
        let mut resources = resources;
        let mut xobjects = match resources.get(b"XObject") {
            Ok(Object::Reference(id)) => self.document.get_dictionary(*id).cloned().unwrap_or_default(),
            Ok(Object::Dictionary(d)) => d.clone(),
            _ => Dictionary::new(),
        };
        xobjects.set(name.as_bytes(), Object::Reference(object));
        resources.set("XObject", xobjects);
        let (x, y, w, h) = slot.rect;
        let scale = (w / width.max(1.0)).min(h / height.max(1.0));
        let (dx, dy) = (x + (w - width * scale) / 2.0 - origin.0 * scale, y + (h - height * scale) / 2.0 - origin.1 * scale);
        let ops = format!("q {scale:.5} 0 0 {scale:.5} {dx:.3} {dy:.3} cm /{name} Do Q\n");
        let stream = self.document.add_object(Stream::new(Dictionary::new(), ops.into_bytes()));
        let contents = match self.document.get_dictionary(page).ok().and_then(|d| d.get(b"Contents").ok().cloned()) {
            Some(Object::Array(mut list)) => {
                list.push(Object::Reference(stream));
                list
            }
            Some(other @ Object::Reference(_)) => vec![other, Object::Reference(stream)],
            _ => vec![Object::Reference(stream)],
        };
        let dictionary = self.document.get_dictionary_mut(page).map_err(|e| e.to_string())?;
        dictionary.set("Resources", resources);
        dictionary.set("Contents", contents);
        Ok(())
    }

    /// Places one attachment in its slots (one per page, in order). The caller checked it with
    /// `inspect`; a failure here leaves the copy without it (the slots stay with their title).
    pub fn place(&mut self, declared: &str, bytes: &[u8], slots: &[Slot]) -> Result<(), String> {
        match Kind::declared(declared).filter(|k| Kind::sniffed(bytes) == Some(*k)) {
            Some(Kind::Pdf) => self.place_pdf(bytes, slots),
            Some(kind) => {
                let image = if kind == Kind::Jpeg { jpeg(bytes) } else { png(bytes) }.map_err(|r| r.reason().to_string())?;
                let slot = slots.first().ok_or("no room reserved")?;
                let (width, height) = (image.width as f32, image.height as f32);
                let id = self.document.add_object(Stream::new(image.dictionary, image.data).with_compression(false));
                // An image XObject is drawn in a 1 × 1 square: scale it to its own size first.
                let form = {
                    let mut d = Dictionary::new();
                    d.set("Type", Object::Name(b"XObject".to_vec()));
                    d.set("Subtype", Object::Name(b"Form".to_vec()));
                    d.set("BBox", vec![0.into(), 0.into(), Object::Real(width), Object::Real(height)]);
                    let mut res = Dictionary::new();
                    let mut xo = Dictionary::new();
                    xo.set("Im", Object::Reference(id));
                    res.set("XObject", xo);
                    d.set("Resources", res);
                    Stream::new(d, format!("q {width} 0 0 {height} 0 0 cm /Im Do Q\n").into_bytes())
                };
                let form = self.document.add_object(form);
                self.draw(slot, form, width, height, (0.0, 0.0))
            }
            None => Err("it is not what its type says".into()),
        }
    }

    fn place_pdf(&mut self, bytes: &[u8], slots: &[Slot]) -> Result<(), String> {
        let mut other = load_pdf(bytes).map_err(|r| r.reason().to_string())?;
        other.renumber_objects_with(self.document.max_id + 1);
        let pages: Vec<ObjectId> = other.get_pages().into_values().collect();
        let mut forms = Vec::with_capacity(slots.len());
        for slot in slots {
            let page = *pages.get(slot.page_within).ok_or("fewer pages than counted")?;
            let content = other.get_page_content_with_limit(page, MAX_PAGE_CONTENT).map_err(|_| "a page is too large to include")?;
            let media: Vec<f32> = inherited(&other, page, b"MediaBox")
                .and_then(|o| match o {
                    Object::Array(a) => Some(a.iter().filter_map(number).collect()),
                    Object::Reference(id) => other.get_object(id).ok().and_then(|o| o.as_array().ok()).map(|a| a.iter().filter_map(number).collect()),
                    _ => None,
                })
                .filter(|v: &Vec<f32>| v.len() == 4)
                .unwrap_or_else(|| vec![0.0, 0.0, 612.0, 792.0]);
            let mut d = Dictionary::new();
            d.set("Type", Object::Name(b"XObject".to_vec()));
            d.set("Subtype", Object::Name(b"Form".to_vec()));
            d.set("BBox", media.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>());
            if let Some(resources) = inherited(&other, page, b"Resources") {
                d.set("Resources", resources);
            }
            forms.push((slot, Stream::new(d, content), media));
        }
        // The attached file's objects join the copy (its own page tree and catalog stay
        // unreferenced and are pruned when the copy is saved).
        self.document.max_id = self.document.max_id.max(other.max_id);
        self.document.objects.extend(std::mem::take(&mut other.objects));
        for (slot, mut form, media) in forms {
            form.compress().ok();
            let id = self.document.add_object(form);
            self.draw(slot, id, media[2] - media[0], media[3] - media[1], (media[0], media[1]))?;
        }
        Ok(())
    }

    /// The completed copy.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.document.prune_objects();
        self.document.compress();
        let mut out = Vec::new();
        self.document.save_to(&mut out).map_err(|e| format!("saving the copy: {e}"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_by_content_not_by_name() {
        let refused = |t: &str, b: &[u8]| inspect(t, b).err().unwrap_or(Refusal::Broken(String::new()));
        assert!(matches!(refused("application/pdf", b"GIF89a...."), Refusal::Broken(r) if r.contains("not what its type says")));
        assert!(matches!(refused("application/pdf", b"%PDF-1.4 garbage"), Refusal::Broken(r) if r.contains("damaged")));
        assert!(matches!(refused("image/tiff", b"II*\0"), Refusal::Unplaceable(r) if r.contains("cannot show")), "sound but not placeable: it can travel beside");
        assert!(matches!(refused("image/png", b"\x89PNG\r\n\x1a\n"), Refusal::Broken(r) if r.contains("damaged")));
    }
}
