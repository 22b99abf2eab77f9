//! The files a release produces, built from what the access context read (never from the
//! database directly): the PDF copy of the record (`pdf`), the self-contained FHIR R4 `collection`
//! Bundle (`fhir`), the C-CDA CCD (`ccda`), the manifest and `.zip` (`package`), and their
//! encryption at rest (`seal`).

pub mod attach;
pub mod ccda;
pub mod desk;
pub mod fhir;
pub mod html;
pub mod package;
pub mod pdf;
pub mod seal;

use crate::domain::{DocumentRow, ItemRow, Section};
use pdf::{Block, PdfCopy, PdfSection};
use sha2::{Digest, Sha256};

/// The confidentiality notice in every footer.
pub const CONFIDENTIALITY_NOTICE: &str = "Confidential health information, released at the patient's request. Keep it private; \
the recipient of a copy sent to someone else may use it only as the patient authorized.";

/// 42 CFR 2.32's notice (the short form), on every page of a copy that includes records of a
/// Part 2 substance-use disorder program.
pub const PART2_NOTICE: &str = "42 CFR part 2 prohibits unauthorized use or disclosure of these records. This record is protected \
by federal confidentiality rules (42 CFR part 2); they prohibit any further disclosure of it without the patient's written consent, \
and its use to investigate or prosecute the patient.";

/// The organization as every letter names it: its name and postal address, and who patients
/// complain to, with their telephone (45 CFR 164.524(d)(2)(iii)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Letterhead {
    pub organization: String,
    pub address: String,
    /// A name or title ("the Privacy Officer").
    pub contact: String,
    pub phone: String,
}

impl Letterhead {
    /// The letter's first lines: the organization and its address.
    pub fn heading(&self) -> String {
        format!("{}, {}", self.organization, self.address)
    }

    /// Who to write or call: "the Privacy Officer, Springfield General Hospital, 1 Hospital
    /// Drive, Springfield; telephone 217-555-0100".
    pub fn contact_line(&self) -> String {
        format!("{}, {}, {}; telephone {}", self.contact.trim_end_matches('.'), self.organization, self.address, self.phone)
    }
}

/// What the cover page states about a copy.
#[derive(Debug, Clone, Default)]
pub struct CoverFacts {
    pub request_number: String,
    pub patient_name: String,
    pub birth_date: String,
    pub record_number: String,
    pub requester: String,
    pub recipient: String,
    pub scope: String,
    /// What was left out and why: (what, legal basis).
    pub excluded: Vec<(String, String)>,
    pub released_by: String,
    pub released_on: String,
    pub site: String,
    pub created_unix: i64,
    /// Made by the patient themselves (download now, send now), not released by staff.
    pub instant: bool,
    /// For a release to someone other than the patient: the rule it goes under ("45 CFR
    /// 164.508", "45 CFR 164.512(e)(1)(i)"); `None`: the patient's right of access.
    pub released_under: Option<String>,
    /// The release manifest's summary, shown on the cover.
    pub summary: Vec<(String, String)>,
    /// The verification code and the address of `/verify` with it (the last page, with a QR code).
    pub verification: Option<(String, String)>,
    /// What each attachment's entry says (document id, note): shown on the attached pages, or
    /// why it could not be included.
    pub attachment_notes: Vec<(String, String)>,
    /// Attachments that could not be included: (title, reason), listed on the cover.
    pub not_included: Vec<(String, String)>,
}

/// The hex SHA-256 of a file, recorded and shown so a recipient can check what they received.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn code_text(row: &ItemRow) -> String {
    row.codes.first().map(|c| format!("{} {}", c.system, c.code)).unwrap_or_default()
}

fn date_text(row: &ItemRow) -> String {
    match (&row.date, &row.end_date) {
        (Some(d), Some(e)) if d != e => format!("{d} to {e}"),
        (Some(d), _) => d.clone(),
        (None, Some(e)) => format!("until {e}"),
        (None, None) => String::new(),
    }
}

fn section_blocks(section: Section, rows: &[ItemRow]) -> Vec<Block> {
    if rows.is_empty() {
        return vec![Block::Paragraph("Nothing recorded in this part of the record for the period of the copy.".into())];
    }
    let table = if matches!(section, Section::Labs | Section::Vitals) {
        Block::Table {
            columns: vec![("Date".into(), 1.3), ("Test".into(), 2.6), ("Result".into(), 1.6), ("Reference range".into(), 1.1), ("Flag".into(), 0.7), ("Code".into(), 1.2)],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        date_text(r),
                        r.display.clone(),
                        r.value.clone().unwrap_or_default(),
                        r.range.clone().unwrap_or_default(),
                        r.flag.map(|f| f.label().to_string()).unwrap_or_default(),
                        code_text(r),
                    ]
                })
                .collect(),
        }
    } else {
        Block::Table {
            columns: vec![("Date".into(), 1.3), ("Description".into(), 3.0), ("Status".into(), 0.9), ("Details".into(), 2.0), ("Code".into(), 1.3)],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        date_text(r),
                        r.display.clone(),
                        r.status.clone().unwrap_or_default(),
                        r.detail.clone().or_else(|| r.value.clone()).unwrap_or_default(),
                        code_text(r),
                    ]
                })
                .collect(),
        }
    };
    vec![Block::Paragraph(format!("{} entries, newest first.", rows.len())), table]
}

fn document_blocks(documents: &[(DocumentRow, Option<String>)], notes: &[(String, String)]) -> Vec<Block> {
    if documents.is_empty() {
        return vec![Block::Paragraph("No documents or notes for the period of the copy.".into())];
    }
    let mut blocks = Vec::with_capacity(documents.len() * 2);
    for (doc, text) in documents {
        let when = doc.date.clone().unwrap_or_else(|| "undated".into());
        blocks.push(Block::Heading(format!("{} ({when})", doc.title)));
        blocks.push(Block::Paragraph(match text {
            Some(t) if !t.trim().is_empty() => t.clone(),
            _ => match notes.iter().find(|(id, _)| *id == doc.id) {
                Some((_, note)) => format!("An attachment ({}, {} bytes). {note}", doc.content_type, doc.size),
                None => format!("An attachment ({}, {} bytes) that cannot be shown as text in this PDF; open it in the portal under Documents and notes.", doc.content_type, doc.size),
            },
        }));
    }
    blocks
}

/// The PDF copy of a record: cover, contents, one section per part of the record.
pub fn record_copy(facts: &CoverFacts, sections: &[(Section, Vec<ItemRow>)], documents: Option<&[(DocumentRow, Option<String>)]>, part2: bool) -> PdfCopy {
    let basis = if facts.instant {
        format!("{}. Made by the patient portal at once, at the request of the patient or their caregiver, without staff review (the right of access, 45 CFR 164.524; ONC 45 CFR 170.315(e)(1)).", facts.site)
    } else if let Some(rule) = &facts.released_under {
        format!("{}. Released to the recipient below under {rule}; not under the patient's right of access.", facts.site)
    } else {
        format!("{}. Released under the patient's right of access (45 CFR 164.524).", facts.site)
    };
    let mut cover = vec![
        Block::Title("Copy of health record".into()),
        Block::Paragraph(basis),
        Block::Facts(vec![
            ((if facts.instant { "Verification code" } else { "Request" }).into(), facts.request_number.clone()),
            ("Patient".into(), facts.patient_name.clone()),
            ("Date of birth".into(), facts.birth_date.clone()),
            ("Record number".into(), facts.record_number.clone()),
            ("Requested by".into(), facts.requester.clone()),
            ("Recipient".into(), facts.recipient.clone()),
            ("What the copy covers".into(), facts.scope.clone()),
            ("Released by".into(), facts.released_by.clone()),
            ("Date released".into(), facts.released_on.clone()),
        ]),
        Block::Heading("Left out of this copy".into()),
    ];
    if facts.excluded.is_empty() {
        cover.push(Block::Paragraph("Nothing within the scope of the request was left out.".into()));
    } else {
        cover.push(Block::Table {
            columns: vec![("What".into(), 2.0), ("Why (legal basis)".into(), 3.0)],
            rows: facts.excluded.iter().map(|(what, why)| vec![what.clone(), why.clone()]).collect(),
        });
    }
    if !facts.not_included.is_empty() {
        cover.push(Block::Heading("Attachments that could not be included".into()));
        cover.push(Block::Table {
            columns: vec![("Document".into(), 2.0), ("Why".into(), 3.0)],
            rows: facts.not_included.iter().map(|(what, why)| vec![what.clone(), why.clone()]).collect(),
        });
    }
    if !facts.summary.is_empty() {
        cover.push(Block::Heading("Release manifest".into()));
        cover.push(Block::Facts(facts.summary.clone()));
    }
    if part2 {
        cover.push(Block::Heading("Substance use disorder records".into()));
        cover.push(Block::Paragraph(PART2_NOTICE.into()));
    }
    let mut out: Vec<PdfSection> = sections.iter().map(|(s, rows)| PdfSection { title: s.title().into(), blocks: section_blocks(*s, rows) }).collect();
    if let Some(docs) = documents {
        out.push(PdfSection { title: Section::Documents.title().into(), blocks: document_blocks(docs, &facts.attachment_notes) });
    }
    PdfCopy {
        title: format!("Health record copy {} for {}", facts.request_number, facts.patient_name),
        subject: format!("Copy of the health record of {}, request {}", facts.patient_name, facts.request_number),
        author: facts.site.clone(),
        header: format!(
            "{} · born {} · record {} · {} {}",
            facts.patient_name,
            facts.birth_date,
            facts.record_number,
            if facts.instant { "copy" } else { "request" },
            facts.request_number
        ),
        footer_notice: CONFIDENTIALITY_NOTICE.into(),
        redisclosure_notice: part2.then(|| PART2_NOTICE.to_string()),
        created_unix: facts.created_unix,
        cover,
        sections: out,
        closing: facts.verification.as_ref().map(|(code, url)| verification_page(code, url)).unwrap_or_default(),
        attachments: Vec::new(),
    }
}

/// The last page of a copy: how anyone holding it can check that this portal produced it.
fn verification_page(code: &str, url: &str) -> Vec<Block> {
    vec![
        Block::Title("Verify this copy".into()),
        Block::Paragraph(
            "Anyone holding this copy can check that this portal produced it, and when: open the address below (or scan the code) and drop the file, or type the verification code. The check shows no health information."
                .into(),
        ),
        Block::Facts(vec![("Verification code".into(), code.to_string()), ("Address".into(), url.to_string())]),
        Block::Qr(url.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latin_only_copy_keeps_its_accents_in_the_subset_font() {
        // Only Mac Roman characters: the subset must still carry a Unicode cmap.
        let facts = CoverFacts { request_number: "R-1".into(), patient_name: "Lucas León · José Núñez".into(), birth_date: "1969-01-05".into(), created_unix: 1_700_000_000, ..Default::default() };
        let copy = record_copy(&facts, &[], None, false);
        let rendered = pdf::render(copy, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
        assert!(rendered.bytes.len() < 60_000, "the fonts are subset: {} bytes", rendered.bytes.len());
        let Ok(out) = std::process::Command::new("pdftotext").arg("-").arg("-").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&rendered.bytes)?;
            }
            child.wait_with_output()
        }) else {
            panic!("pdftotext is needed (Debian poppler-utils; scripts/setup.sh installs it)");
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Lucas León · José Núñez"), "{text}");
    }

    #[test]
    fn a_copy_renders_every_section_with_page_numbers() {
        let facts = CoverFacts { request_number: "R-1001".into(), patient_name: "Łucja León".into(), birth_date: "2001-02-03".into(), created_unix: 1_700_000_000, ..Default::default() };
        let rows = vec![ItemRow {
            id: "x".into(),
            kind: "condition".into(),
            display: "Ωmega Съешь".into(),
            codes: vec![],
            status: Some("active".into()),
            category: None,
            date: Some("2020-01-01".into()),
            end_date: None,
            value: None,
            range: None,
            flag: None,
            detail: None,
            trend_code: None,
        }];
        let copy = record_copy(&facts, &[(Section::Problems, rows)], Some(&[]), true);
        let rendered = pdf::render(copy, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
        assert!(rendered.bytes.starts_with(b"%PDF-"));
        assert_eq!(rendered.pages, 4, "cover, contents, problems, documents");
        if let Ok(path) = std::env::var("PORTAL_PDF_DUMP") {
            std::fs::write(path, &rendered.bytes).ok();
        }
    }
}

/// What a denial letter states (45 CFR 164.524(d)(2)).
#[derive(Debug, Clone, Default)]
pub struct LetterFacts {
    pub letterhead: Letterhead,
    pub date: String,
    pub patient_name: String,
    pub birth_date: String,
    pub record_number: String,
    pub request_number: String,
    pub received: String,
    pub scope: String,
    pub grounds: Vec<crate::domain::release::DenialGround>,
    /// A denial in part: what is withheld (a description of each part, with its ground); the
    /// rest is released (164.524(d)(1)). Empty for a denial of the whole request.
    pub parts: Vec<(String, crate::domain::release::DenialGround)>,
    pub created_unix: i64,
}

/// The Office for Civil Rights, where a complaint to the Secretary goes (164.524(d)(2)(iii)).
pub const HHS_COMPLAINTS: &str = "U.S. Department of Health and Human Services, Office for Civil Rights, \
200 Independence Avenue SW, Washington, D.C. 20201; telephone 1-800-368-1019; online at www.hhs.gov/ocr/complaints.";

/// The denial letter: in plain language, the basis, the review rights and how to use them (when
/// reviewable), and how to complain to the organization and to HHS (45 CFR 164.524(d)(2)).
pub fn denial_letter(f: &LetterFacts) -> PdfCopy {
    let mut grounds = f.grounds.clone();
    for (_, g) in &f.parts {
        if !grounds.contains(g) {
            grounds.push(*g);
        }
    }
    let reviewable = crate::domain::release::denial_reviewable(&grounds);
    let mut cover = vec![
        Block::Title(if f.parts.is_empty() { "Decision on your request for your health record" } else { "Decision on your request: part of your record withheld" }.into()),
        Block::Paragraph(format!("{}. {}", f.letterhead.heading(), f.date)),
        Block::Facts(vec![
            ("Request".into(), f.request_number.clone()),
            ("Patient".into(), f.patient_name.clone()),
            ("Date of birth".into(), f.birth_date.clone()),
            ("Record number".into(), f.record_number.clone()),
            ("Received".into(), f.received.clone()),
            ("You asked for".into(), f.scope.clone()),
        ]),
        Block::Paragraph(format!("Dear {},", f.patient_name)),
    ];
    if f.parts.is_empty() {
        cover.push(Block::Paragraph(format!(
            "We have reviewed your request {} and we are not able to give you a copy of this information. This letter explains why, and what you can do.",
            f.request_number
        )));
        cover.push(Block::Heading("Why we denied your request".into()));
        for g in &grounds {
            cover.push(Block::Paragraph(format!("{} (the rule: {}.)", g.plain_language(), g.citation())));
        }
    } else {
        cover.push(Block::Paragraph(format!(
            "We have reviewed your request {}. We are giving you the rest of your record, but not the parts listed below. This letter explains why, and what you can do.",
            f.request_number
        )));
        cover.push(Block::Heading("What we withheld, and why".into()));
        cover.push(Block::Table {
            columns: vec![("What".into(), 2.0), ("Why".into(), 3.0)],
            rows: f.parts.iter().map(|(what, g)| vec![what.clone(), format!("{} (the rule: {}.)", g.plain_language(), g.citation())]).collect(),
        });
    }
    cover.push(Block::Heading("Your right to have this decision reviewed".into()));
    let reviewable_parts: Vec<&str> = f.parts.iter().filter(|(_, g)| g.reviewable()).map(|(what, _)| what.as_str()).collect();
    cover.push(Block::Paragraph(if !f.parts.is_empty() && !reviewable_parts.is_empty() {
        // A part withheld on a reviewable ground may be reviewed, whatever the other parts'.
        format!(
            "You may ask us to have the decision on these parts reviewed by a licensed health care professional who did not take part in it: {}. \
To ask, write to us or call us (below), naming request {}. We will do what the reviewer decides and tell you the result in writing.",
            reviewable_parts.join("; "),
            f.request_number
        )
    } else if f.parts.is_empty() && reviewable {
        format!(
            "You may ask us to have this denial reviewed by a licensed health care professional who did not take part in the original decision. \
To ask, sign in to the patient portal, open request {} and choose \"Ask for a review\", or write to us at the address below. \
We will do what the reviewer decides and tell you the result in writing.",
            f.request_number
        )
    } else {
        "The reason for this denial is one the law does not allow to be reviewed (45 CFR 164.524(a)(2)). You may still complain, as described below.".into()
    }));
    cover.push(Block::Heading("How to complain".into()));
    cover.push(Block::Paragraph(format!("You may complain to us: {}.", f.letterhead.contact_line())));
    cover.push(Block::Paragraph(format!("You may also complain to the Secretary of Health and Human Services: {HHS_COMPLAINTS}")));
    cover.push(Block::Paragraph("We will not hold it against you in any way if you ask for a review or complain.".into()));
    PdfCopy {
        title: format!("Denial letter {} for {}", f.request_number, f.patient_name),
        subject: format!("Decision on request {}", f.request_number),
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

/// What the signed authorization shows (45 CFR 164.508(c)).
#[derive(Debug, Clone, Default)]
pub struct AuthorizationFacts {
    pub site: String,
    pub request_number: String,
    pub patient_name: String,
    pub birth_date: String,
    pub record_number: String,
    pub description: String,
    pub recipient_name: String,
    pub recipient_address: String,
    pub purpose: String,
    pub expires: String,
    pub signer: String,
    pub signed_at: String,
    pub client_address: String,
    pub representative_authority: Option<String>,
    pub created_unix: i64,
}

/// The authorization as signed in the portal, kept as a PDF: every core element and required
/// statement of 164.508(c), and the electronic signature (typed name, time, client address).
pub fn authorization_form(f: &AuthorizationFacts) -> PdfCopy {
    let mut facts = vec![
        ("Patient".into(), f.patient_name.clone()),
        ("Date of birth".into(), f.birth_date.clone()),
        ("Record number".into(), f.record_number.clone()),
        ("Who may disclose".into(), f.site.clone()),
        ("Information to disclose".into(), f.description.clone()),
        ("Who may receive it".into(), format!("{}, {}", f.recipient_name, f.recipient_address)),
        ("Purpose".into(), f.purpose.clone()),
        ("This authorization ends".into(), f.expires.clone()),
    ];
    if let Some(authority) = &f.representative_authority {
        facts.push(("Signed by a representative, with authority".into(), authority.clone()));
    }
    let cover = vec![
        Block::Title("Authorization to release health information".into()),
        Block::Paragraph(format!("Request {}. 45 CFR 164.508.", f.request_number)),
        Block::Facts(facts),
        Block::Heading("Statements the signer acknowledged".into()),
        Block::Paragraph("I may revoke this authorization at any time by writing to the organization above (or in the patient portal), except to the extent that action has already been taken on it.".into()),
        Block::Paragraph("My treatment, payment, enrollment or eligibility for benefits does not depend on whether I sign this authorization.".into()),
        Block::Paragraph("Information disclosed under this authorization may be redisclosed by the recipient and may no longer be protected by federal privacy rules.".into()),
        Block::Heading("Electronic signature".into()),
        Block::Facts(vec![
            ("Signed (typed name)".into(), f.signer.clone()),
            ("Signed at".into(), f.signed_at.clone()),
            ("From network address".into(), f.client_address.clone()),
        ]),
    ];
    PdfCopy {
        title: format!("Authorization {} for {}", f.request_number, f.patient_name),
        subject: format!("Authorization to release health information, request {}", f.request_number),
        author: f.site.clone(),
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

/// The accounting of disclosures as a PDF for the patient (45 CFR 164.528(b)).
pub fn accounting_document(site: &str, patient: (&str, &str, &str), accounting: &crate::domain::release::Accounting, created_unix: i64) -> PdfCopy {
    let (name, birth, mrn) = patient;
    let mut cover = vec![
        Block::Title("Accounting of disclosures".into()),
        Block::Paragraph(format!("{site}. Disclosures of the health record of {name} from {} to {} (45 CFR 164.528).", accounting.from, accounting.to)),
        Block::Paragraph("Releases made under an authorization you signed are listed too, marked \"not required\": the law does not require them in an accounting, but you can see them.".into()),
    ];
    if accounting.entries.is_empty() {
        cover.push(Block::Paragraph("No disclosures in this period.".into()));
    } else {
        cover.push(Block::Table {
            columns: vec![("Date".into(), 1.0), ("Recipient and address".into(), 2.2), ("What".into(), 2.4), ("Purpose".into(), 1.6), ("Note".into(), 1.1)],
            rows: accounting
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.date.clone(),
                        [Some(e.recipient.clone()), e.address.clone()].into_iter().flatten().collect::<Vec<_>>().join(", "),
                        e.description.clone(),
                        e.purpose.clone(),
                        match (&e.corrects, e.accountable) {
                            (Some(_), _) => "Correction of an earlier entry".into(),
                            (None, true) => String::new(),
                            (None, false) => "Not required".into(),
                        },
                    ]
                })
                .collect(),
        });
    }
    PdfCopy {
        title: format!("Accounting of disclosures for {name}"),
        subject: "Accounting of disclosures".into(),
        author: site.to_string(),
        header: format!("{name} · born {birth} · record {mrn} · accounting of disclosures"),
        footer_notice: CONFIDENTIALITY_NOTICE.into(),
        redisclosure_notice: None,
        created_unix,
        cover,
        sections: Vec::new(),
        closing: Vec::new(),
        attachments: Vec::new(),
    }
}
