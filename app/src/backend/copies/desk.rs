//! The release desk's letters (issue 17): the extension notice of 45 CFR 164.524(b)(2)(iii) (the
//! reason and the new date, sent before the first deadline) and the invoice for a copy (the fee
//! and how it was reckoned, 164.524(c)(4) for the patient's own copy). Each is a PDF made with the
//! same renderer as the copies, so every page carries the patient and the request.

use super::CONFIDENTIALITY_NOTICE;
use super::pdf::{Block, PdfCopy};

/// Who and what a desk letter is about.
#[derive(Debug, Clone, Default)]
pub struct DeskFacts {
    pub letterhead: super::Letterhead,
    pub date: String,
    /// Who the letter goes to: the requester's name (and their address on the next line).
    pub addressee: String,
    pub address: Option<String>,
    pub patient_name: String,
    pub birth_date: String,
    pub record_number: String,
    pub request_number: String,
    pub received: String,
    pub scope: String,
    pub created_unix: i64,
}

fn letter(f: &DeskFacts, title: &str, body: Vec<Block>) -> PdfCopy {
    let mut cover = vec![
        Block::Title(title.into()),
        Block::Paragraph(format!("{}. {}", f.letterhead.heading(), f.date)),
        Block::Paragraph([Some(f.addressee.clone()), f.address.clone()].into_iter().flatten().collect::<Vec<_>>().join(", ")),
        Block::Facts(vec![
            ("Request".into(), f.request_number.clone()),
            ("Patient".into(), f.patient_name.clone()),
            ("Date of birth".into(), f.birth_date.clone()),
            ("Record number".into(), f.record_number.clone()),
            ("Received".into(), f.received.clone()),
            ("Asked for".into(), f.scope.clone()),
        ]),
    ];
    cover.extend(body);
    cover.push(Block::Paragraph(format!("Questions: {}.", f.letterhead.contact_line())));
    PdfCopy {
        title: format!("{title} {}", f.request_number),
        subject: format!("{title} for request {}", f.request_number),
        author: f.letterhead.organization.clone(),
        header: format!("{} · born {} · record {} · request {}", f.patient_name, f.birth_date, f.record_number, f.request_number),
        footer_notice: CONFIDENTIALITY_NOTICE.into(),
        redisclosure_notice: None,
        created_unix: f.created_unix,
        cover,
        sections: Vec::new(),
        closing: Vec::new(),
        attachments: Vec::new(),
    }
}

/// The written notice of the one extension (164.524(b)(2)(iii)): why, and the date by which the
/// copy will be provided.
pub fn extension_letter(f: &DeskFacts, new_due: &str, reason: &str) -> PdfCopy {
    letter(
        f,
        "We need more time for your request",
        vec![
            Block::Paragraph(format!("Dear {},", f.addressee)),
            Block::Paragraph(format!(
                "We received request {} on {}. We are not able to answer it within the time the law gives us, and we are using the one extension the law allows (45 CFR 164.524(b)(2)(iii)).",
                f.request_number, f.received
            )),
            Block::Heading("Why".into()),
            Block::Paragraph(reason.into()),
            Block::Heading("When you will hear from us".into()),
            Block::Paragraph(format!("We will provide the copy, or tell you in writing why we cannot, no later than {new_due}.")),
        ],
    )
}

/// The invoice for a copy: the fee, how it was reckoned, and the rule that bounds it.
pub fn invoice(f: &DeskFacts, lines: &[(String, String)], total: &str, rule: &str) -> PdfCopy {
    let mut rows: Vec<Vec<String>> = lines.iter().map(|(what, amount)| vec![what.clone(), amount.clone()]).collect();
    rows.push(vec!["Total".into(), total.into()]);
    letter(
        f,
        "Invoice for a copy of a health record",
        vec![
            Block::Paragraph(format!("Dear {},", f.addressee)),
            Block::Paragraph(format!("This is the fee for the copy asked for in request {}. It is shown before the copy is made; we record the payment when it arrives.", f.request_number)),
            Block::Table { columns: vec![("Item".into(), 3.0), ("Amount".into(), 1.0)], rows },
            Block::Paragraph(rule.into()),
        ],
    )
}
