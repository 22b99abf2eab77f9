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
//! - One attachment is read at a time (the caller fetches it, places it, drops it), and what
//!   is placed is written out at once as an incremental update of the rendered file, so a
//!   copy with a hundred scanned pages never holds more than one of them.

use super::pdf::Slot;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use std::io::Write;

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

/// The copy being completed, written as it goes: the rendered PDF first, unchanged, then each
/// attachment's objects as it is placed, as one incremental update (PDF 32000 7.5.6: new
/// objects, the changed pages, and a cross-reference section pointing back to the rendered
/// file's). Only one attachment is in memory at a time; nothing placed is kept once written.
pub struct Placer<W: Write> {
    out: W,
    /// Bytes written so far: the offsets of the cross-reference section.
    at: u64,
    /// The rendered copy, parsed for its pages (its own text, never an attachment).
    base: Document,
    pages: Vec<ObjectId>,
    /// Where the rendered file's cross-reference section starts (the update's `/Prev`).
    previous: usize,
    next_id: u32,
    /// The objects written, with their offsets.
    written: Vec<(u32, u64)>,
    placed: usize,
    /// A write that failed: the output is unusable.
    failed: Option<String>,
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

/// The objects `root` refers to, directly or not, in the attached file: what a page's
/// resources need (fonts, images, colour spaces). Never its pages, page tree or catalog (a
/// reference to one is left dangling, which a reader takes as null), so nothing else of the
/// file comes along.
fn needed(document: &Document, root: &Object) -> Vec<ObjectId> {
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = Vec::new();
    let refs = |object: &Object, stack: &mut Vec<ObjectId>| {
        let mut pending = vec![object];
        while let Some(o) = pending.pop() {
            match o {
                Object::Reference(id) => stack.push(*id),
                Object::Array(items) => pending.extend(items.iter()),
                Object::Dictionary(d) => pending.extend(d.iter().filter(|(k, _)| k.as_slice() != b"Parent").map(|(_, v)| v)),
                Object::Stream(s) => pending.extend(s.dict.iter().filter(|(k, _)| k.as_slice() != b"Parent").map(|(_, v)| v)),
                _ => {}
            }
        }
    };
    refs(root, &mut stack);
    while let Some(id) = stack.pop() {
        if seen.contains(&id) {
            continue;
        }
        let Ok(object) = document.get_object(id) else { continue };
        let kind = object.as_dict().ok().or_else(|| object.as_stream().ok().map(|s| &s.dict)).and_then(|d| d.get(b"Type").ok()).and_then(|t| t.as_name().ok());
        if matches!(kind, Some(b"Page" | b"Pages" | b"Catalog")) {
            continue;
        }
        seen.insert(id);
        refs(object, &mut stack);
    }
    seen.into_iter().collect()
}

/// An object as PDF syntax (PDF 32000 7.3; lopdf keeps its writer to itself).
fn serialize(out: &mut Vec<u8>, object: &Object) {
    match object {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        // Rust prints floats without an exponent, as PDF needs.
        Object::Real(r) => out.extend_from_slice(if r.is_finite() { r.to_string() } else { "0".into() }.as_bytes()),
        Object::Name(name) => {
            out.push(b'/');
            for &b in name {
                if (0x21..=0x7e).contains(&b) && !b"()<>[]{}/%#".contains(&b) {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("#{b:02X}").as_bytes());
                }
            }
        }
        Object::String(text, lopdf::StringFormat::Hexadecimal) => {
            out.push(b'<');
            out.extend_from_slice(hex::encode(text).as_bytes());
            out.push(b'>');
        }
        Object::String(text, _) => {
            out.push(b'(');
            for &b in text {
                match b {
                    b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
            out.push(b')');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                serialize(out, item);
            }
            out.push(b']');
        }
        Object::Dictionary(d) => serialize_dictionary(out, d),
        Object::Stream(stream) => {
            serialize_dictionary(out, &stream.dict);
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(&stream.content);
            out.extend_from_slice(b"\nendstream");
        }
        Object::Reference((id, generation)) => out.extend_from_slice(format!("{id} {generation} R").as_bytes()),
    }
}

fn serialize_dictionary(out: &mut Vec<u8>, d: &Dictionary) {
    out.extend_from_slice(b"<<");
    for (key, value) in d.iter() {
        serialize(out, &Object::Name(key.clone()));
        out.push(b' ');
        serialize(out, value);
        out.push(b' ');
    }
    out.extend_from_slice(b">>");
}

impl<W: Write> Placer<W> {
    /// Starts the copy: writes the rendered file to `out` as it is.
    pub fn open(rendered: &[u8], mut out: W) -> Result<Placer<W>, String> {
        let base = Document::load_mem(rendered).map_err(|e| format!("reading the rendered copy: {e}"))?;
        let pages = base.get_pages().into_values().collect();
        out.write_all(rendered).map_err(|e| format!("writing the copy: {e}"))?;
        let mut at = rendered.len() as u64;
        if !rendered.ends_with(b"\n") {
            out.write_all(b"\n").map_err(|e| format!("writing the copy: {e}"))?;
            at += 1;
        }
        let (previous, next_id) = (base.xref_start, base.max_id + 1);
        Ok(Placer { out, at, base, pages, previous, next_id, written: Vec::new(), placed: 0, failed: None })
    }

    fn new_id(&mut self) -> ObjectId {
        self.next_id += 1;
        (self.next_id - 1, 0)
    }

    /// Writes one object of the update under `id`. A stream's content goes to the output as it
    /// is, never copied: a scanned page is held once.
    fn write(&mut self, id: ObjectId, object: &Object) -> Result<(), String> {
        let mut head = format!("{} {} obj\n", id.0, id.1).into_bytes();
        let (content, tail): (&[u8], &[u8]) = match object {
            Object::Stream(stream) => {
                // Said here, whatever the source file said (its length may have been a reference).
                let mut dict = stream.dict.clone();
                dict.set("Length", stream.content.len() as i64);
                serialize_dictionary(&mut head, &dict);
                head.extend_from_slice(b"\nstream\n");
                (&stream.content, b"\nendstream\nendobj\n")
            }
            other => {
                serialize(&mut head, other);
                (&[], b"\nendobj\n")
            }
        };
        if let Err(e) = self.out.write_all(&head).and_then(|()| self.out.write_all(content)).and_then(|()| self.out.write_all(tail)) {
            let e = format!("writing the copy: {e}");
            self.failed = Some(e.clone());
            return Err(e);
        }
        self.written.push((id.0, self.at));
        self.at += (head.len() + content.len() + tail.len()) as u64;
        Ok(())
    }

    /// Draws `object` (an XObject of `width` × `height` units, its origin at `origin`) centred
    /// and scaled to fit in the slot: the page is written again with the XObject in its
    /// resources and one more content stream.
    fn draw(&mut self, slot: &Slot, object: ObjectId, width: f32, height: f32, origin: (f32, f32)) -> Result<(), String> {
        let page = *self.pages.get(slot.page).ok_or("a slot outside the copy")?;
        self.placed += 1;
        let name = format!("Att{}", self.placed);
        // The page's resources, made its own, with the XObject added.
        let mut resources = match inherited(&self.base, page, b"Resources") {
            Some(Object::Reference(id)) => self.base.get_dictionary(id).cloned().unwrap_or_default(),
            Some(Object::Dictionary(d)) => d,
            _ => Dictionary::new(),
        };
        let mut xobjects = match resources.get(b"XObject") {
            Ok(Object::Reference(id)) => self.base.get_dictionary(*id).cloned().unwrap_or_default(),
            Ok(Object::Dictionary(d)) => d.clone(),
            _ => Dictionary::new(),
        };
        xobjects.set(name.as_bytes(), Object::Reference(object));
        resources.set("XObject", xobjects);
        let (x, y, w, h) = slot.rect;
        let scale = (w / width.max(1.0)).min(h / height.max(1.0));
        let (dx, dy) = (x + (w - width * scale) / 2.0 - origin.0 * scale, y + (h - height * scale) / 2.0 - origin.1 * scale);
        let ops = format!("q {scale:.5} 0 0 {scale:.5} {dx:.3} {dy:.3} cm /{name} Do Q\n");
        let stream = self.new_id();
        self.write(stream, &Object::Stream(Stream::new(Dictionary::new(), ops.into_bytes())))?;
        let dictionary = self.base.get_dictionary_mut(page).map_err(|e| e.to_string())?;
        let contents = match dictionary.get(b"Contents").ok().cloned() {
            Some(Object::Array(mut list)) => {
                list.push(Object::Reference(stream));
                list
            }
            Some(other @ Object::Reference(_)) => vec![other, Object::Reference(stream)],
            _ => vec![Object::Reference(stream)],
        };
        dictionary.set("Resources", resources);
        dictionary.set("Contents", contents);
        let updated = Object::Dictionary(dictionary.clone());
        self.write(page, &updated)
    }

    /// Places one attachment in its slots (one per page, in order) and writes it out. The
    /// caller checked it with `inspect`; a failure here leaves the copy without it (the slots
    /// stay with their title).
    pub fn place(&mut self, declared: &str, bytes: &[u8], slots: &[Slot]) -> Result<(), String> {
        match Kind::declared(declared).filter(|k| Kind::sniffed(bytes) == Some(*k)) {
            Some(Kind::Pdf) => self.place_pdf(bytes, slots),
            Some(kind) => {
                let image = if kind == Kind::Jpeg { jpeg(bytes) } else { png(bytes) }.map_err(|r| r.reason().to_string())?;
                let slot = slots.first().ok_or("no room reserved")?;
                let (width, height) = (image.width as f32, image.height as f32);
                let id = self.new_id();
                self.write(id, &Object::Stream(Stream::new(image.dictionary, image.data).with_compression(false)))?;
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
                let form_id = self.new_id();
                self.write(form_id, &Object::Stream(form))?;
                self.draw(slot, form_id, width, height, (0.0, 0.0))
            }
            None => Err("it is not what its type says".into()),
        }
    }

    fn place_pdf(&mut self, bytes: &[u8], slots: &[Slot]) -> Result<(), String> {
        let mut other = load_pdf(bytes).map_err(|r| r.reason().to_string())?;
        other.renumber_objects_with(self.next_id);
        self.next_id = self.next_id.max(other.objects.keys().map(|id| id.0 + 1).max().unwrap_or(0));
        let pages: Vec<ObjectId> = other.get_pages().into_values().collect();
        // Each page becomes a form: its content, its resources and what they need. An object
        // two pages share is written once.
        let mut done = std::collections::HashSet::new();
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
                for id in needed(&other, &resources) {
                    if done.insert(id)
                        && let Ok(object) = other.get_object(id)
                    {
                        self.write(id, object)?;
                    }
                }
                d.set("Resources", resources);
            }
            let mut form = Stream::new(d, content);
            form.compress().ok();
            let form_id = self.new_id();
            self.write(form_id, &Object::Stream(form))?;
            self.draw(slot, form_id, media[2] - media[0], media[3] - media[1], (media[0], media[1]))?;
        }
        Ok(())
    }

    /// Ends the update (its cross-reference section and trailer) and gives the output back.
    /// A failed write (the disk, not an attachment) fails the whole copy.
    pub fn finish(mut self) -> Result<W, String> {
        if self.written.is_empty() && self.failed.is_none() {
            return Ok(self.out);
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        // A page written twice is listed once, at its last place.
        let mut entries = std::mem::take(&mut self.written);
        entries.sort_unstable_by_key(|(id, offset)| (*id, std::cmp::Reverse(*offset)));
        entries.dedup_by_key(|(id, _)| *id);
        // Subsections of consecutive object numbers (PDF 32000 7.5.4); entries of 20 bytes.
        let mut text = String::from("xref\n");
        let mut n = 0;
        while n < entries.len() {
            let mut end = n + 1;
            while end < entries.len() && entries[end].0 == entries[end - 1].0 + 1 {
                end += 1;
            }
            text.push_str(&format!("{} {}\n", entries[n].0, end - n));
            for (_, offset) in &entries[n..end] {
                text.push_str(&format!("{offset:010} 00000 n\r\n"));
            }
            n = end;
        }
        let mut trailer = Dictionary::new();
        for key in [b"Root".as_slice(), b"Info", b"ID"] {
            if let Ok(value) = self.base.trailer.get(key) {
                trailer.set(key, value.clone());
            }
        }
        let size = self.next_id.max(self.base.max_id + 1).max(entries.last().map_or(0, |e| e.0 + 1));
        trailer.set("Size", i64::from(size));
        trailer.set("Prev", self.previous as i64);
        let mut tail = text.into_bytes();
        tail.extend_from_slice(b"trailer\n");
        serialize(&mut tail, &Object::Dictionary(trailer));
        tail.extend_from_slice(format!("\nstartxref\n{}\n%%EOF\n", self.at).as_bytes());
        self.out.write_all(&tail).map_err(|e| format!("writing the copy: {e}"))?;
        self.out.flush().map_err(|e| format!("writing the copy: {e}"))?;
        Ok(self.out)
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

    fn rendered(attachments: Vec<(String, usize)>) -> super::super::pdf::Rendered {
        use super::super::pdf::{Block, PdfCopy, render};
        let copy = PdfCopy { title: "Copy".into(), header: "Patient".into(), created_unix: 1_700_000_000, cover: vec![Block::Paragraph("COVER".into())], attachments, ..Default::default() };
        render(copy, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn attachments_are_appended_as_an_update_that_keeps_the_rendered_file_and_resolves() {
        // The scan: a two-page PDF of the renderer's own (its fonts are its resources).
        let scan = rendered(vec![("inner".into(), 1)]).bytes;
        let scan_pages = inspect("application/pdf", &scan).unwrap_or_else(|r| panic!("{r:?}"));
        let copy = rendered(vec![("Scan".into(), scan_pages)]);
        let mut placer = Placer::open(&copy.bytes, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        placer.place("application/pdf", &scan, &copy.slots).unwrap_or_else(|e| panic!("{e}"));
        let out = placer.finish().unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with(&copy.bytes), "the rendered file is written first, unchanged");
        assert!(out.len() < copy.bytes.len() + 2 * scan.len(), "only what the scan's pages need is written");
        let document = Document::load_mem(&out).unwrap_or_else(|e| panic!("{e}"));
        let pages: Vec<ObjectId> = document.get_pages().into_values().collect();
        assert_eq!(pages.len(), copy.pages, "no page added or lost");
        for slot in &copy.slots {
            let page = document.get_dictionary(pages[slot.page]).unwrap_or_else(|e| panic!("{e}"));
            let resources = page.get(b"Resources").and_then(Object::as_dict).unwrap_or_else(|e| panic!("{e}"));
            let xobjects = resources.get(b"XObject").and_then(Object::as_dict).unwrap_or_else(|e| panic!("{e}"));
            let form = xobjects.iter().find(|(k, _)| k.starts_with(b"Att")).and_then(|(_, v)| v.as_reference().ok()).unwrap_or_else(|| panic!("the page draws its scan"));
            let form = document.get_object(form).and_then(Object::as_stream).unwrap_or_else(|e| panic!("{e}"));
            // Every object the form's resources need is in the file.
            for id in needed(&document, form.dict.get(b"Resources").unwrap_or_else(|e| panic!("{e}"))) {
                assert!(document.get_object(id).is_ok(), "{id:?} resolves");
            }
            let dictionary = |o: &Object| match o {
                Object::Reference(id) => document.get_dictionary(*id).ok().cloned(),
                other => other.as_dict().ok().cloned(),
            };
            let fonts = form.dict.get(b"Resources").ok().and_then(dictionary).and_then(|r| r.get(b"Font").ok().and_then(dictionary)).map(|f| f.len()).unwrap_or(0);
            assert!(fonts > 0, "the scan's fonts came with it");
            let contents = page.get(b"Contents").and_then(Object::as_array).map(Vec::len).unwrap_or(0);
            assert_eq!(contents, 2, "the page's own content, then the drawing of the scan");
        }
    }

    #[test]
    fn nothing_placed_leaves_the_rendered_file_as_it_was() {
        let copy = rendered(Vec::new());
        let out = Placer::open(&copy.bytes, Vec::new()).and_then(Placer::finish).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with(&copy.bytes) && out.len() <= copy.bytes.len() + 1, "at most a line end added");
    }
}
