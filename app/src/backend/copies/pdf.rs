//! The PDF renderer of released copies and letters: a small page-layout engine over printpdf
//! (which draws but does not lay out). Pure: a `PdfCopy` of text in, the file's bytes out.
//!
//! - An embedded Unicode TrueType font (DejaVu Sans Condensed, regular and bold; licence in
//!   `app/assets/fonts/`), subset into the file: "León", Polish, Greek, Cyrillic all print; a
//!   character the font lacks prints as "?" rather than vanishing.
//! - Lines are broken by measured glyph widths; tables repeat their header on each page.
//! - Every page has the header (patient, birth date, record number, request) and the footer
//!   ("Page X of Y", the confidentiality notice and, when Part 2 records are included, the
//!   redisclosure notice of 42 CFR 2.32). Page numbers come from a second pass, so the table of
//!   contents and "of Y" are exact.

use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon,
    PolygonRing, Pt, Rgb, TextItem, WindingOrder,
};
use std::collections::HashMap;
use std::sync::OnceLock;

const REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansCondensed.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansCondensed-Bold.ttf");

/// Why a document could not be rendered (the embedded font, or a date out of range); never
/// the document's text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PdfError(String);

impl From<String> for PdfError {
    fn from(message: String) -> Self {
        PdfError(message)
    }
}

/// US Letter, in points.
const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN_X: f32 = 48.0;
const HEADER_Y: f32 = PAGE_H - 34.0;
const CONTENT_TOP: f32 = PAGE_H - 62.0;
const BODY: f32 = 9.0;
const SMALL: f32 = 7.5;
const CELL: f32 = 8.0;

/// A document to render: the cover, then a table of contents, then the sections.
#[derive(Debug, Clone, Default)]
pub struct PdfCopy {
    pub title: String,
    pub subject: String,
    pub author: String,
    /// The running header of every page.
    pub header: String,
    /// The confidentiality notice in every footer.
    pub footer_notice: String,
    /// 42 CFR 2.32's notice, in every footer when Part 2 records are included.
    pub redisclosure_notice: Option<String>,
    pub created_unix: i64,
    pub cover: Vec<Block>,
    /// Without sections (a letter), there is no table of contents.
    pub sections: Vec<PdfSection>,
    /// The last page, after the sections and outside the contents (how to verify the copy).
    pub closing: Vec<Block>,
    /// Scanned documents and images placed after the sections, one page each (`attach` fills
    /// the reserved area after rendering): (title, pages).
    pub attachments: Vec<(String, usize)>,
}

/// The area reserved on a page for one page of an attachment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// The page of the rendered document (0-based).
    pub page: usize,
    /// Which attachment, and which of its pages (0-based).
    pub attachment: usize,
    pub page_within: usize,
    /// x, y (lower left), width, height, in points.
    pub rect: (f32, f32, f32, f32),
}

#[derive(Debug, Clone, Default)]
pub struct PdfSection {
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
pub enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    /// Label and value pairs (the cover's facts).
    Facts(Vec<(String, String)>),
    Table { columns: Vec<(String, f32)>, rows: Vec<Vec<String>> },
    /// A QR code of the text (an address), drawn as filled squares.
    Qr(String),
}

/// The rendered file and its page count.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub pages: usize,
    /// Where the attachments' pages go.
    pub slots: Vec<Slot>,
}

struct Face {
    font: ParsedFont,
    /// Advance widths per character, in thousandths of the font size.
    widths: HashMap<char, f32>,
}

impl Face {
    fn load(bytes: &[u8]) -> Option<Face> {
        let font = ParsedFont::from_bytes(bytes, 0, &mut Vec::new())?;
        let per_em = f32::from(font.units_per_em.max(1));
        let widths = font
            .codepoint_to_glyph
            .iter()
            .filter_map(|(cp, gid)| Some((char::from_u32(*cp)?, f32::from(font.glyph_widths.get(gid).copied().unwrap_or(0)) * 1000.0 / per_em)))
            .collect();
        Some(Face { font, widths })
    }

    fn has(&self, c: char) -> bool {
        self.widths.contains_key(&c)
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.widths.get(&c).copied().unwrap_or(500.0)).sum::<f32>() * size / 1000.0
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

fn fonts() -> Result<&'static Fonts, PdfError> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| Some(Fonts { regular: Face::load(REGULAR_TTF)?, bold: Face::load(BOLD_TTF)? }))
        .as_ref()
        .ok_or_else(|| PdfError("the embedded font could not be read".into()))
}

impl Fonts {
    fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }

    /// Text the font can draw: controls dropped, tabs as spaces, missing glyphs as "?".
    fn clean(&self, text: &str) -> String {
        text.chars()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                '\n' => Some('\n'),
                c if c.is_control() => None,
                c if self.regular.has(c) => Some(c),
                _ => Some('?'),
            })
            .collect()
    }

    /// Breaks text into lines no wider than `width`: at spaces, and inside a word only when the
    /// word alone is too wide. Hard line breaks are kept; blank lines are kept once.
    fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let face = self.face(bold);
        let space = face.width(" ", size);
        let mut lines = Vec::new();
        for raw in self.clean(text).split('\n') {
            let raw = raw.trim_end();
            if raw.trim().is_empty() {
                if lines.last().is_some_and(|l: &String| !l.is_empty()) {
                    lines.push(String::new());
                }
                continue;
            }
            let mut line = String::new();
            let mut line_w = 0.0;
            for word in raw.split(' ').filter(|w| !w.is_empty()) {
                let w = face.width(word, size);
                if !line.is_empty() && line_w + space + w <= width {
                    line.push(' ');
                    line.push_str(word);
                    line_w += space + w;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                if w <= width {
                    line = word.to_string();
                    line_w = w;
                } else {
                    // A word wider than the line (a URL, a long code): break it by characters.
                    line_w = 0.0;
                    for c in word.chars() {
                        let cw = face.width(c.encode_utf8(&mut [0; 4]), size);
                        if line_w + cw > width && !line.is_empty() {
                            lines.push(std::mem::take(&mut line));
                            line_w = 0.0;
                        }
                        line.push(c);
                        line_w += cw;
                    }
                }
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
    }
}

/// The face cut down to the glyphs a document uses (allsorts, as printpdf's own subsetting
/// does): a copy embeds a few kilobytes of font instead of the whole face. Always a Unicode
/// cmap: the smallest one allsorts may pick (Mac Roman) is read back as Unicode and would turn
/// "ó" into "·".
fn subset(face: &Face, used: &std::collections::BTreeSet<char>) -> Result<ParsedFont, PdfError> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{CmapTarget, SubsetProfile, subset};
    let data = ReadScope::new(&face.font.original_bytes).read::<FontData<'_>>().map_err(|e| format!("reading the font: {e}"))?;
    let provider = data.table_provider(0).map_err(|e| format!("reading the font: {e}"))?;
    let mut glyphs: Vec<u16> = vec![0];
    glyphs.extend(used.iter().filter_map(|c| face.font.codepoint_to_glyph.get(&u32::from(*c)).copied()));
    glyphs.sort_unstable();
    glyphs.dedup();
    let bytes = subset(&provider, &glyphs, &SubsetProfile::Minimal, CmapTarget::Unicode).map_err(|e| format!("subsetting the font: {e}"))?;
    ParsedFont::from_bytes(&bytes, 0, &mut Vec::new()).ok_or_else(|| PdfError("the subset font could not be read".into()))
}

#[derive(Default)]
struct Page {
    texts: Vec<(f32, f32, bool, f32, String)>,
    rules: Vec<(f32, f32, f32)>,
    /// Filled rectangles (x, y of the lower edge, width, height): a QR code's dark modules.
    boxes: Vec<(f32, f32, f32, f32)>,
}

/// Lays blocks out top to bottom, opening pages as it goes.
struct Flow<'a> {
    fonts: &'a Fonts,
    pages: Vec<Page>,
    y: f32,
    bottom: f32,
}

fn line_height(size: f32) -> f32 {
    size * 1.32
}

impl<'a> Flow<'a> {
    fn new(fonts: &'a Fonts, bottom: f32) -> Self {
        let mut flow = Flow { fonts, pages: Vec::new(), y: CONTENT_TOP, bottom };
        flow.new_page();
        flow
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = CONTENT_TOP;
    }

    fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Makes room for `height`; a new page when this one is full (never for an empty page).
    fn room(&mut self, height: f32) {
        if self.y - height < self.bottom && self.y < CONTENT_TOP {
            self.new_page();
        }
    }

    fn text(&mut self, x: f32, bold: bool, size: f32, text: String) {
        let y = self.y - size;
        self.page().texts.push((x, y, bold, size, text));
    }

    fn lines(&mut self, text: &str, size: f32, bold: bool, indent: f32) {
        let width = PAGE_W - 2.0 * MARGIN_X - indent;
        for line in self.fonts.wrap(text, width, size, bold) {
            self.room(line_height(size));
            if !line.is_empty() {
                self.text(MARGIN_X + indent, bold, size, line);
            }
            self.y -= line_height(size);
        }
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Title(t) => {
                self.room(60.0);
                self.lines(t, 16.0, true, 0.0);
                self.y -= 6.0;
            }
            Block::Heading(t) => {
                // Keep a heading with at least two lines of what follows.
                self.room(line_height(11.0) + 3.0 * line_height(BODY));
                self.y -= 4.0;
                self.lines(t, 11.0, true, 0.0);
                self.y -= 2.0;
            }
            Block::Paragraph(t) => {
                self.lines(t, BODY, false, 0.0);
                self.y -= 4.0;
            }
            Block::Facts(pairs) => {
                let label_w = 130.0;
                let value_w = PAGE_W - 2.0 * MARGIN_X - label_w;
                for (label, value) in pairs {
                    let label_lines = self.fonts.wrap(label, label_w - 6.0, BODY, true);
                    let value_lines = self.fonts.wrap(value, value_w, BODY, false);
                    let rows = label_lines.len().max(value_lines.len()).max(1);
                    self.room(rows as f32 * line_height(BODY));
                    let top = self.y;
                    for (i, l) in label_lines.into_iter().enumerate() {
                        self.y = top - i as f32 * line_height(BODY);
                        self.text(MARGIN_X, true, BODY, l);
                    }
                    for (i, l) in value_lines.into_iter().enumerate() {
                        self.y = top - i as f32 * line_height(BODY);
                        self.text(MARGIN_X + label_w, false, BODY, l);
                    }
                    self.y = top - rows as f32 * line_height(BODY) - 2.0;
                }
                self.y -= 4.0;
            }
            Block::Table { columns, rows } => self.table(columns, rows),
            Block::Qr(text) => self.qr(text),
        }
    }

    /// A QR code 1.4 inches wide (with its quiet zone), dark modules merged into runs per row.
    fn qr(&mut self, text: &str) {
        let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
            // Too long to encode: the address printed beside it is enough.
            return;
        };
        let n = code.width();
        let colors = code.to_colors();
        let side = 100.0;
        let module = side / (n as f32 + 8.0);
        self.room(side + 8.0);
        let top = self.y - 4.0 * module;
        let left = MARGIN_X + 4.0 * module;
        let mut boxes = Vec::new();
        for row in 0..n {
            let mut col = 0;
            while col < n {
                if colors[row * n + col] == qrcode::Color::Dark {
                    let start = col;
                    while col < n && colors[row * n + col] == qrcode::Color::Dark {
                        col += 1;
                    }
                    let y = top - (row as f32 + 1.0) * module;
                    boxes.push((left + start as f32 * module, y, (col - start) as f32 * module, module));
                } else {
                    col += 1;
                }
            }
        }
        self.page().boxes.extend(boxes);
        self.y -= side + 8.0;
    }

    fn table(&mut self, columns: &[(String, f32)], rows: &[Vec<String>]) {
        let total: f32 = columns.iter().map(|(_, s)| s).sum::<f32>().max(0.01);
        let full = PAGE_W - 2.0 * MARGIN_X;
        let widths: Vec<f32> = columns.iter().map(|(_, s)| s / total * full).collect();
        let lh = line_height(CELL);
        // A cell never takes more than 40 lines: a table row must fit on a page.
        let wrap_row = |cells: &[String], bold: bool| -> Vec<Vec<String>> {
            widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let mut lines = self.fonts.wrap(cells.get(i).map(String::as_str).unwrap_or(""), w - 6.0, CELL, bold);
                    if lines.len() > 40 {
                        lines.truncate(40);
                        lines.push("…".into());
                    }
                    lines
                })
                .collect()
        };
        let header_cells: Vec<String> = columns.iter().map(|(t, _)| t.clone()).collect();
        let header = wrap_row(&header_cells, true);
        let header_h = header.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 4.0;
        let draw_row = |flow: &mut Flow, cells: &[Vec<String>], bold: bool| {
            let top = flow.y;
            let mut x = MARGIN_X;
            for (i, lines) in cells.iter().enumerate() {
                for (n, l) in lines.iter().enumerate() {
                    flow.y = top - n as f32 * lh;
                    flow.text(x, bold, CELL, l.clone());
                }
                x += widths[i];
            }
            let h = cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * lh;
            flow.y = top - h - 2.0;
            let y = flow.y + 1.0;
            flow.page().rules.push((MARGIN_X, PAGE_W - MARGIN_X, y));
            flow.y -= 2.0;
        };
        self.room(header_h + lh * 2.0);
        draw_row(self, &header, true);
        for row in rows {
            let cells = wrap_row(row, false);
            let h = cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 4.0;
            if self.y - h < self.bottom {
                self.new_page();
                draw_row(self, &header, true);
            }
            draw_row(self, &cells, false);
        }
        self.y -= 6.0;
    }
}

/// The footer's lines, and how much room they take above the page's bottom edge.
fn footer_lines(fonts: &Fonts, copy: &PdfCopy) -> (Vec<String>, Vec<String>, f32) {
    let width = PAGE_W - 2.0 * MARGIN_X - 70.0;
    let notice = fonts.wrap(&copy.footer_notice, width, SMALL, false);
    let part2 = copy.redisclosure_notice.as_deref().map(|n| fonts.wrap(n, PAGE_W - 2.0 * MARGIN_X, SMALL, false)).unwrap_or_default();
    let height = 30.0 + (notice.len() + part2.len()) as f32 * line_height(SMALL) + 10.0;
    (notice, part2, height)
}

fn toc_blocks(entries: &[(String, usize)]) -> Vec<(String, String)> {
    entries.iter().map(|(t, p)| (t.clone(), p.to_string())).collect()
}

/// Lays the table of contents out: one line per section, the page number right-aligned.
fn toc_pages(fonts: &Fonts, bottom: f32, entries: &[(String, String)]) -> Vec<Page> {
    let mut flow = Flow::new(fonts, bottom);
    flow.block(&Block::Title("Contents".into()));
    let right = PAGE_W - MARGIN_X;
    for (title, page) in entries {
        let width = PAGE_W - 2.0 * MARGIN_X - 60.0;
        let lines = fonts.wrap(title, width, 10.0, false);
        flow.room(lines.len() as f32 * line_height(10.0));
        let top = flow.y;
        for (i, l) in lines.iter().enumerate() {
            flow.y = top - i as f32 * line_height(10.0);
            flow.text(MARGIN_X, false, 10.0, l.clone());
        }
        flow.y = top;
        let w = fonts.regular.width(page, 10.0);
        flow.text(right - w, false, 10.0, page.clone());
        flow.y = top - lines.len().max(1) as f32 * line_height(10.0) - 3.0;
    }
    flow.pages
}

/// Renders the document (taken, so each section's text is let go once it is laid out).
/// `progress(done, total)` is called as sections are laid out.
pub fn render(mut copy: PdfCopy, progress: &dyn Fn(usize, usize)) -> Result<Rendered, PdfError> {
    let fonts = fonts()?;
    let (notice, part2, footer_h) = footer_lines(fonts, &copy);
    let bottom = footer_h;

    // First pass: the sections, each from a new page, numbered from 0.
    let mut body = Flow::new(fonts, bottom);
    body.pages.clear();
    let sections = std::mem::take(&mut copy.sections);
    let titles: Vec<String> = sections.iter().map(|s| s.title.clone()).collect();
    let mut starts = Vec::with_capacity(sections.len());
    let total = sections.len();
    for (n, section) in sections.into_iter().enumerate() {
        body.new_page();
        starts.push(body.pages.len() - 1);
        body.block(&Block::Title(section.title));
        for block in &section.blocks {
            body.block(block);
        }
        progress(n + 1, total);
    }

    let mut cover = Flow::new(fonts, bottom);
    for block in &copy.cover {
        cover.block(block);
    }
    let cover_pages = cover.pages;

    // The contents' length does not depend on the numbers, so lay it out once to count its pages.
    let toc = if titles.is_empty() {
        Vec::new()
    } else {
        let draft: Vec<(String, usize)> = titles.iter().map(|t| (t.clone(), 9999)).collect();
        let toc_len = toc_pages(fonts, bottom, &toc_blocks(&draft)).len();
        let first = cover_pages.len() + toc_len + 1;
        let entries: Vec<(String, usize)> = titles.iter().zip(&starts).map(|(t, start)| (t.clone(), first + start)).collect();
        toc_pages(fonts, bottom, &toc_blocks(&entries))
    };
    let front = cover_pages.len() + toc.len();
    // One page per attachment page: its title and the rest of the page reserved for it.
    let mut attached = Flow::new(fonts, bottom);
    attached.pages.clear();
    let mut reserved = Vec::new();
    for (n, (title, count)) in copy.attachments.iter().enumerate() {
        for p in 0..*count {
            attached.new_page();
            attached.lines(&format!("Attached document: {title} (page {} of {count})", p + 1), 10.0, true, 0.0);
            let top = attached.y - 6.0;
            reserved.push((attached.pages.len() - 1, n, p, (MARGIN_X, bottom + 4.0, PAGE_W - 2.0 * MARGIN_X, top - bottom - 4.0)));
        }
    }
    let closing = if copy.closing.is_empty() {
        Vec::new()
    } else {
        let mut flow = Flow::new(fonts, bottom);
        for block in &copy.closing {
            flow.block(block);
        }
        flow.pages
    };
    let attached_at = front + body.pages.len();
    let slots: Vec<Slot> = reserved.into_iter().map(|(page, attachment, page_within, rect)| Slot { page: attached_at + page, attachment, page_within, rect }).collect();
    let pages: Vec<Page> = cover_pages.into_iter().chain(toc).chain(body.pages).chain(attached.pages).chain(closing).collect();
    let count = pages.len();

    let header = {
        let mut h = fonts.clean(&copy.header);
        let max = PAGE_W - 2.0 * MARGIN_X;
        while fonts.regular.width(&h, SMALL + 0.5) > max && h.pop().is_some() {}
        h
    };
    // Every text of every page, with the running header and footer, so the fonts can be
    // subset to the characters used before anything is written.
    type Text = (f32, f32, bool, f32, String, bool);
    type Rule = (f32, f32, f32);
    type Boxes = Vec<(f32, f32, f32, f32)>;
    let mut laid_out: Vec<(Vec<Text>, Vec<Rule>, Boxes, f32)> = Vec::with_capacity(count);
    let (mut used_regular, mut used_bold) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for (index, page) in pages.into_iter().enumerate() {
        let mut texts: Vec<Text> = Vec::with_capacity(page.texts.len() + 8);
        texts.push((MARGIN_X, HEADER_Y, false, SMALL + 0.5, header.clone(), true));
        texts.extend(page.texts.into_iter().map(|(x, y, b, size, text)| (x, y, b, size, text, false)));
        let mut y = 24.0;
        for line in part2.iter().rev() {
            texts.push((MARGIN_X, y, false, SMALL, line.clone(), true));
            y += line_height(SMALL);
        }
        for line in notice.iter().rev() {
            texts.push((MARGIN_X, y, false, SMALL, line.clone(), true));
            y += line_height(SMALL);
        }
        let number = format!("Page {} of {}", index + 1, count);
        let w = fonts.bold.width(&number, 8.0);
        texts.push((PAGE_W - MARGIN_X - w, y - line_height(SMALL), true, 8.0, number, false));
        for (_, _, is_bold, _, text, _) in &texts {
            let set = if *is_bold { &mut used_bold } else { &mut used_regular };
            set.extend(text.chars());
        }
        laid_out.push((texts, page.rules, page.boxes, y + 2.0));
    }

    let mut doc = PdfDocument::new(&copy.title);
    let regular = doc.add_font(&subset(&fonts.regular, &used_regular)?);
    let bold = doc.add_font(&subset(&fonts.bold, &used_bold)?);
    let created = printpdf::OffsetDateTime::from_unix_timestamp(copy.created_unix).map_err(|e| e.to_string())?;
    let info = &mut doc.metadata.info;
    info.creation_date = created;
    info.modification_date = created;
    info.metadata_date = created;
    info.document_title = copy.title.clone();
    info.author = copy.author.clone();
    info.subject = copy.subject.clone();
    info.creator = "Patient-access portal".into();
    info.producer = "printpdf".into();

    let black = Color::Rgb(Rgb { r: 0.0, g: 0.0, b: 0.0, icc_profile: None });
    let grey = Color::Rgb(Rgb { r: 0.35, g: 0.35, b: 0.35, icc_profile: None });
    let mut out = Vec::with_capacity(count);
    for (texts, rules, boxes, footer_rule) in laid_out {
        // A page's texts in one text object (absolute positions; font and colour set only when
        // they change), then its rules: small content streams compress fast.
        let mut ops = Vec::with_capacity(texts.len() * 3 + rules.len() + 16);
        ops.push(Op::StartTextSection);
        let mut current: Option<(bool, u32)> = None;
        let mut current_grey: Option<bool> = None;
        for (x, y, is_bold, size, text, is_grey) in texts {
            if current != Some((is_bold, size.to_bits())) {
                ops.push(Op::SetFont { font: PdfFontHandle::External(if is_bold { bold.clone() } else { regular.clone() }), size: Pt(size) });
                current = Some((is_bold, size.to_bits()));
            }
            if current_grey != Some(is_grey) {
                ops.push(Op::SetFillColor { col: if is_grey { grey.clone() } else { black.clone() } });
                current_grey = Some(is_grey);
            }
            ops.push(Op::SetTextMatrix { matrix: printpdf::TextMatrix::Translate(Pt(x), Pt(y)) });
            ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
        }
        ops.push(Op::EndTextSection);
        ops.push(Op::SetOutlineColor { col: Color::Rgb(Rgb { r: 0.6, g: 0.6, b: 0.6, icc_profile: None }) });
        ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
        let rule = |x1: f32, x2: f32, y: f32| Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint { p: Point { x: Pt(x1), y: Pt(y) }, bezier: false },
                    LinePoint { p: Point { x: Pt(x2), y: Pt(y) }, bezier: false },
                ],
                is_closed: false,
            },
        };
        ops.push(rule(MARGIN_X, PAGE_W - MARGIN_X, HEADER_Y - 5.0));
        for (x1, x2, y) in rules {
            ops.push(rule(x1, x2, y));
        }
        ops.push(rule(MARGIN_X, PAGE_W - MARGIN_X, footer_rule));
        if !boxes.is_empty() {
            let corner = |x: f32, y: f32| LinePoint { p: Point { x: Pt(x), y: Pt(y) }, bezier: false };
            ops.push(Op::SetFillColor { col: black.clone() });
            ops.push(Op::DrawPolygon {
                polygon: Polygon {
                    rings: boxes
                        .into_iter()
                        .map(|(x, y, w, h)| PolygonRing { points: vec![corner(x, y), corner(x + w, y), corner(x + w, y + h), corner(x, y + h)] })
                        .collect(),
                    mode: PaintMode::Fill,
                    winding_order: WindingOrder::NonZero,
                },
            });
        }
        out.push(PdfPage::new(Mm(PAGE_W * 25.4 / 72.0), Mm(PAGE_H * 25.4 / 72.0), ops));
    }
    for (title, start) in titles.iter().zip(&starts) {
        doc.add_bookmark(title, front + start + 1);
    }
    doc.with_pages(out);
    let bytes = doc.save(&PdfSaveOptions { optimize: true, subset_fonts: true, secure: true, image_optimization: None }, &mut Vec::new());
    Ok(Rendered { bytes, pages: count, slots })
}
