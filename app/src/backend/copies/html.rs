//! The same document as HTML, for the benchmark's comparison with a browser printing to PDF
//! (`portal bench pdf`): the cover, contents and sections as headings, definition lists, tables
//! and paragraphs, styled with the portal's own stylesheet.

use super::pdf::{Block, PdfCopy};

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn block(out: &mut String, b: &Block) {
    match b {
        Block::Title(t) => out.push_str(&format!("<h1>{}</h1>\n", escape(t))),
        Block::Heading(t) => out.push_str(&format!("<h3>{}</h3>\n", escape(t))),
        Block::Paragraph(t) => {
            for para in t.split("\n\n") {
                out.push_str(&format!("<p style=\"white-space:pre-wrap\">{}</p>\n", escape(para)));
            }
        }
        Block::Facts(pairs) => {
            out.push_str("<dl class=\"facts\">");
            for (k, v) in pairs {
                out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
            }
            out.push_str("</dl>\n");
        }
        Block::Table { columns, rows } => {
            out.push_str("<table><thead><tr>");
            for (c, _) in columns {
                out.push_str(&format!("<th>{}</th>", escape(c)));
            }
            out.push_str("</tr></thead><tbody>");
            for row in rows {
                out.push_str("<tr>");
                for cell in row {
                    out.push_str(&format!("<td>{}</td>", escape(cell)));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>\n");
        }
        Block::Qr(url) => out.push_str(&format!("<p>{}</p>\n", escape(url))),
    }
}

/// The document as one HTML page; `css` is inlined (the portal's stylesheet).
pub fn to_html(copy: &PdfCopy, css: &str) -> String {
    let mut out = String::with_capacity(1 << 20);
    out.push_str(&format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{css}\n\
         table {{ border-collapse: collapse; width: 100%; font-size: 9pt; }} th, td {{ border-bottom: 1px solid #999; text-align: left; padding: 2px 4px; vertical-align: top; }}\n\
         thead {{ display: table-header-group; }} section {{ break-before: page; }}</style></head><body>\n<header>{}</header>\n",
        escape(&copy.title),
        escape(&copy.header)
    ));
    for b in &copy.cover {
        block(&mut out, b);
    }
    out.push_str("<section><h1>Contents</h1><ol>");
    for s in &copy.sections {
        out.push_str(&format!("<li>{}</li>", escape(&s.title)));
    }
    out.push_str("</ol></section>\n");
    for s in &copy.sections {
        out.push_str(&format!("<section><h2>{}</h2>\n", escape(&s.title)));
        for b in &s.blocks {
            block(&mut out, b);
        }
        out.push_str("</section>\n");
    }
    out.push_str(&format!("<footer>{}</footer></body></html>\n", escape(&copy.footer_notice)));
    out
}
