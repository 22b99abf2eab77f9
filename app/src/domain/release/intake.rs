//! The HIM release desk's intake (issue 17): every request that reaches the department, by
//! whichever channel and from whichever requester, with what each requester type needs before
//! release, whether its disclosure is accountable (45 CFR 164.528) and how it is billed. Pure:
//! the service layer stores the request, its checklist and its scans.
//!
//! What a requester type needs is a list of alternatives, each a set of checklist items the
//! clerk ticks (a subpoena may be answered on the notice assurance, on the protective-order
//! assurance, or on an authorization: 164.512(e)(1)(ii)). The request may be approved and
//! released only when one alternative is complete; until then it waits, and the page names
//! what is missing.

use super::form::{MAX_FLAT_ELECTRONIC_FEE_CENTS, Scope};
use crate::domain::{FieldError, IsoDate};
use serde::{Deserialize, Serialize};

crate::domain::text_enum! {
    /// How a request reached the department. The clock starts on the day it was received
    /// (45 CFR 164.524(b)(2)), whichever way it came.
    pub enum Channel {
        Portal = "portal",
        Mail = "mail",
        Fax = "fax",
        InPerson = "in_person",
        Phone = "phone",
        Email = "email",
        /// Not a request at all: a copy the patient sent at once (Send now). Kept as a request
        /// row for its link and accounting; never desk work.
        SelfService = "self_service",
    }
}

impl Channel {
    pub fn label(self) -> &'static str {
        match self {
            Channel::Portal => "Portal",
            Channel::Mail => "Mail",
            Channel::Fax => "Fax",
            Channel::InPerson => "In person",
            Channel::Phone => "Phone",
            Channel::Email => "Email",
            Channel::SelfService => "Sent by the patient",
        }
    }

    /// Logged by HIM from paper, a call or an email (no requester account behind it).
    pub fn logged(self) -> bool {
        Self::LOGGED.contains(&self)
    }

    /// The channels a clerk logs by hand (the portal files its own).
    pub const LOGGED: [Channel; 5] = [Channel::Mail, Channel::Fax, Channel::InPerson, Channel::Phone, Channel::Email];
}

crate::domain::text_enum! {
    /// Who asks, which decides what the release needs (DOMAIN.md, release of information).
    pub enum RequesterType {
        /// The patient's right of access (164.524).
        Patient = "patient",
        /// A personal representative (164.502(g)): the authority document.
        Representative = "representative",
        /// Another provider, for treatment (164.506(c)(2)): no authorization.
        Provider = "provider",
        /// A health plan, for payment (164.506(c)(3)): no authorization.
        Payer = "payer",
        /// An attorney, insurer, employer or anyone else: a valid 164.508 authorization.
        ThirdParty = "third_party",
        /// An order signed by a judge (164.512(e)(1)(i)): release what the order covers.
        CourtOrder = "court_order",
        /// A subpoena without a court order (164.512(e)(1)(ii)): an assurance, or an authorization.
        Subpoena = "subpoena",
        /// A public health authority (164.512(b)).
        PublicHealth = "public_health",
        /// A health oversight agency (164.512(d)).
        HealthOversight = "health_oversight",
        /// Workers' compensation (164.512(l)).
        WorkersComp = "workers_comp",
        /// The Social Security Administration, for a disability claim, on its authorization form.
        SocialSecurity = "social_security",
    }
}

/// How a requester type is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeeRule {
    /// The patient and their representatives: cost-based only, never search or retrieval
    /// (164.524(c)(4)); the flat fee is at most $6.50.
    CostBased,
    /// Everyone else: the administrator's fee schedule, within the state's cap.
    Schedule,
}

impl RequesterType {
    pub fn label(self) -> &'static str {
        match self {
            RequesterType::Patient => "Patient",
            RequesterType::Representative => "Personal representative",
            RequesterType::Provider => "Provider (treatment)",
            RequesterType::Payer => "Health plan (payment)",
            RequesterType::ThirdParty => "Attorney, insurer, employer or other (authorization)",
            RequesterType::CourtOrder => "Court order",
            RequesterType::Subpoena => "Subpoena (no court order)",
            RequesterType::PublicHealth => "Public health authority",
            RequesterType::HealthOversight => "Health oversight agency",
            RequesterType::WorkersComp => "Workers' compensation",
            RequesterType::SocialSecurity => "Social Security (disability)",
        }
    }

    /// The rule that permits the disclosure.
    pub fn citation(self) -> &'static str {
        match self {
            RequesterType::Patient => "45 CFR 164.524",
            RequesterType::Representative => "45 CFR 164.502(g)",
            RequesterType::Provider => "45 CFR 164.506(c)(2)",
            RequesterType::Payer => "45 CFR 164.506(c)(3)",
            RequesterType::ThirdParty => "45 CFR 164.508",
            RequesterType::CourtOrder => "45 CFR 164.512(e)(1)(i)",
            RequesterType::Subpoena => "45 CFR 164.512(e)(1)(ii)",
            RequesterType::PublicHealth => "45 CFR 164.512(b)",
            RequesterType::HealthOversight => "45 CFR 164.512(d)",
            RequesterType::WorkersComp => "45 CFR 164.512(l)",
            RequesterType::SocialSecurity => "45 CFR 164.508 (form SSA-827)",
        }
    }

    /// Whether the disclosure goes in the accounting of disclosures (164.528(a)(1)): not those
    /// to the patient or their representative, for treatment or payment, or under an
    /// authorization; the 164.512 disclosures (courts, subpoenas, agencies) do.
    pub fn accountable(self) -> bool {
        matches!(
            self,
            RequesterType::CourtOrder | RequesterType::Subpoena | RequesterType::PublicHealth | RequesterType::HealthOversight | RequesterType::WorkersComp
        )
    }

    pub fn fee_rule(self) -> FeeRule {
        match self {
            RequesterType::Patient | RequesterType::Representative => FeeRule::CostBased,
            _ => FeeRule::Schedule,
        }
    }

    /// The copy goes to the patient themselves (the right of access) rather than to someone else.
    pub fn is_access(self) -> bool {
        matches!(self, RequesterType::Patient | RequesterType::Representative)
    }

    /// What the release needs: any one of these sets of checklist items, complete.
    pub fn alternatives(self) -> Vec<Vec<Item>> {
        use Item::*;
        match self {
            RequesterType::Patient => vec![vec![Identity]],
            RequesterType::Representative => vec![vec![Identity, AuthorityDocument]],
            RequesterType::Provider => vec![vec![TreatingProvider]],
            RequesterType::Payer => vec![vec![PayingPlan]],
            RequesterType::ThirdParty => vec![AUTHORIZATION.to_vec()],
            RequesterType::CourtOrder => vec![vec![SignedByJudge]],
            RequesterType::Subpoena => vec![
                vec![NoticeAttempted, NoticeSufficient, NoObjection],
                vec![ProtectiveOrder],
                AUTHORIZATION.to_vec(),
            ],
            RequesterType::PublicHealth | RequesterType::HealthOversight => vec![vec![OfficialAuthority]],
            RequesterType::WorkersComp => vec![vec![WorkersCompLaw]],
            RequesterType::SocialSecurity => vec![vec![SsaForm]],
        }
    }

    /// Every item the clerk's checklist shows for this type, in order, each once.
    pub fn checklist(self) -> Vec<Item> {
        let mut items: Vec<Item> = Vec::new();
        for item in self.alternatives().into_iter().flatten() {
            if !items.contains(&item) {
                items.push(item);
            }
        }
        items
    }

    /// What still blocks the release: empty when one alternative is complete; otherwise the
    /// missing items of the alternative the clerk has started, or else the shortest (for a
    /// subpoena with nothing yet, the protective-order assurance: one paper rather than three).
    pub fn missing(self, ticked: &[Item]) -> Vec<Item> {
        // The alternative the clerk has started (most items ticked), then the shortest.
        let mut best: Option<(usize, Vec<Item>)> = None;
        for alternative in self.alternatives() {
            let done = alternative.iter().filter(|i| ticked.contains(i)).count();
            let missing: Vec<Item> = alternative.into_iter().filter(|i| !ticked.contains(i)).collect();
            if missing.is_empty() {
                return Vec::new();
            }
            if best.as_ref().is_none_or(|(d, b)| done > *d || (done == *d && missing.len() < b.len())) {
                best = Some((done, missing));
            }
        }
        best.map(|(_, m)| m).unwrap_or_default()
    }
}

/// The core elements and required statements of a valid authorization (164.508(c)(1)-(3)),
/// each checked on the paper by the clerk.
pub const AUTHORIZATION: [Item; 10] = [
    Item::AuthDescription,
    Item::AuthDisclosers,
    Item::AuthRecipients,
    Item::AuthPurpose,
    Item::AuthExpiration,
    Item::AuthSignature,
    Item::AuthRevocation,
    Item::AuthConditioning,
    Item::AuthRedisclosure,
    Item::AuthPlainLanguage,
];

crate::domain::text_enum! {
    /// One thing the clerk checks on the paper before a release.
    pub enum Item {
        Identity = "identity",
        AuthorityDocument = "authority_document",
        TreatingProvider = "treating_provider",
        PayingPlan = "paying_plan",
        AuthDescription = "auth_description",
        AuthDisclosers = "auth_disclosers",
        AuthRecipients = "auth_recipients",
        AuthPurpose = "auth_purpose",
        AuthExpiration = "auth_expiration",
        AuthSignature = "auth_signature",
        AuthRevocation = "auth_revocation",
        AuthConditioning = "auth_conditioning",
        AuthRedisclosure = "auth_redisclosure",
        AuthPlainLanguage = "auth_plain_language",
        SignedByJudge = "signed_by_judge",
        NoticeAttempted = "notice_attempted",
        NoticeSufficient = "notice_sufficient",
        NoObjection = "no_objection",
        ProtectiveOrder = "protective_order",
        OfficialAuthority = "official_authority",
        WorkersCompLaw = "workers_comp_law",
        SsaForm = "ssa_form",
    }
}

impl Item {
    /// What the checklist says, with the rule it comes from.
    pub fn label(self) -> &'static str {
        match self {
            Item::Identity => "The requester's identity is verified (photo ID, or a signature matching the record) — 164.514(h)",
            Item::AuthorityDocument => "The authority document is seen: guardianship order, power of attorney, or birth certificate for a minor — 164.502(g)",
            Item::TreatingProvider => "The requester is a provider treating the patient — 164.506(c)(2)",
            Item::PayingPlan => "The requester is a health plan paying for the patient's care — 164.506(c)(3)",
            Item::AuthDescription => "Authorization: a specific description of the information — 164.508(c)(1)(i)",
            Item::AuthDisclosers => "Authorization: who may disclose it (this organization) — 164.508(c)(1)(ii)",
            Item::AuthRecipients => "Authorization: who may receive it — 164.508(c)(1)(iii)",
            Item::AuthPurpose => "Authorization: the purpose (\"at the request of the individual\" is enough) — 164.508(c)(1)(iv)",
            Item::AuthExpiration => "Authorization: an expiration date or event, not passed — 164.508(c)(1)(v)",
            Item::AuthSignature => "Authorization: signed and dated (a representative's signature with their authority) — 164.508(c)(1)(vi)",
            Item::AuthRevocation => "Authorization states the right to revoke in writing — 164.508(c)(2)(i)",
            Item::AuthConditioning => "Authorization states that treatment is not conditioned on signing — 164.508(c)(2)(ii)",
            Item::AuthRedisclosure => "Authorization states the information may be redisclosed — 164.508(c)(2)(iii)",
            Item::AuthPlainLanguage => "Authorization is in plain language — 164.508(c)(3)",
            Item::SignedByJudge => "The order is signed by a judge or administrative tribunal — 164.512(e)(1)(i)",
            Item::NoticeAttempted => "Written assurance: a good-faith attempt was made to notify the patient in writing — 164.512(e)(1)(iii)(A)",
            Item::NoticeSufficient => "Written assurance: the notice told enough about the case to allow an objection — 164.512(e)(1)(iii)(B)",
            Item::NoObjection => "Written assurance: the time to object has passed with no objection, or objections were resolved — 164.512(e)(1)(iii)(C)",
            Item::ProtectiveOrder => "Written assurance of a qualified protective order (agreed and presented to the court, or asked for) — 164.512(e)(1)(iv)",
            Item::OfficialAuthority => "The official's identity and legal authority are verified (badge, letterhead, the law cited) — 164.514(h)(2)",
            Item::WorkersCompLaw => "The request cites the workers' compensation claim and the law that requires it — 164.512(l)",
            Item::SsaForm => "Form SSA-827 (authorization to disclose to the Social Security Administration) signed by the patient",
        }
    }

    /// The short name a refusal uses ("the expiration date or event").
    pub fn short(self) -> &'static str {
        match self {
            Item::Identity => "the requester's identity",
            Item::AuthorityDocument => "the authority document",
            Item::TreatingProvider => "that the requester treats the patient",
            Item::PayingPlan => "that the requester pays for the patient's care",
            Item::AuthDescription => "the description of the information",
            Item::AuthDisclosers => "who may disclose",
            Item::AuthRecipients => "who may receive",
            Item::AuthPurpose => "the purpose",
            Item::AuthExpiration => "the expiration date or event",
            Item::AuthSignature => "the signature and date",
            Item::AuthRevocation => "the statement of the right to revoke",
            Item::AuthConditioning => "the statement on conditioning",
            Item::AuthRedisclosure => "the statement on redisclosure",
            Item::AuthPlainLanguage => "plain language",
            Item::SignedByJudge => "a judge's signature on the order",
            Item::NoticeAttempted => "the assurance that the patient was notified",
            Item::NoticeSufficient => "the assurance that the notice allowed an objection",
            Item::NoObjection => "the assurance that no objection is pending",
            Item::ProtectiveOrder => "the protective-order assurance",
            Item::OfficialAuthority => "the official's authority",
            Item::WorkersCompLaw => "the workers' compensation claim and law",
            Item::SsaForm => "the signed SSA-827",
        }
    }
}

/// The sentence that says why a request waits: "Waiting for: the purpose, the signature and date
/// (45 CFR 164.508)."
pub fn waiting_for(kind: RequesterType, missing: &[Item]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let names: Vec<&str> = missing.iter().map(|i| i.short()).collect();
    Some(format!("Waiting for: {} ({}).", names.join(", "), kind.citation()))
}

/// One item of the clerk's checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistRow {
    pub code: String,
    pub label: String,
    pub ticked: bool,
}

/// The checklist as a request's page shows it: every item the type needs, ticked or not.
pub fn checklist_rows(kind: RequesterType, ticked: &[Item]) -> Vec<ChecklistRow> {
    kind.checklist().into_iter().map(|item| ChecklistRow { code: item.as_str().into(), label: item.label().into(), ticked: ticked.contains(&item) }).collect()
}

/// Parses ticked items as a form posts them (codes separated by commas); unknown codes are an
/// error naming the field, and an item that is not on this type's checklist is dropped.
pub fn parse_ticked(kind: RequesterType, text: &str) -> Result<Vec<Item>, FieldError> {
    let allowed = kind.checklist();
    let mut items = Vec::new();
    for code in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let item = Item::parse(code).ok_or_else(|| FieldError::new("checklist", "One of the ticked items is not on the checklist."))?;
        if allowed.contains(&item) && !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

/// One row of the administrator's fee schedule (cents): a flat amount plus so much a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeeRow {
    pub flat_cents: u32,
    pub per_page_cents: u32,
}

/// One row of the fee schedule as the administrator's page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeScheduleRow {
    pub requester_type: RequesterType,
    pub label: String,
    pub flat: String,
    pub per_page: String,
    pub flat_cents: u32,
    pub per_page_cents: u32,
    /// Cost-based by law (the patient and representatives): not on the schedule.
    pub cost_based: bool,
}

/// The fee estimate for `pages` pages: cost-based for the patient and representatives
/// (164.524(c)(4): at most the flat $6.50 unless actual costs are calculated), the schedule for
/// everyone else, never above the state's cap (`cap_cents`, 0 for none).
pub fn estimate_fee(kind: RequesterType, row: FeeRow, self_fee_cents: u32, pages: u32, cap_cents: u32) -> u32 {
    let fee = match kind.fee_rule() {
        FeeRule::CostBased => self_fee_cents.min(MAX_FLAT_ELECTRONIC_FEE_CENTS),
        FeeRule::Schedule => row.flat_cents.saturating_add(row.per_page_cents.saturating_mul(pages)),
    };
    if cap_cents > 0 { fee.min(cap_cents) } else { fee }
}

/// A fee the clerk types instead of the estimate: refused above what the law allows, naming
/// the field. The patient's own copy may cost more than $6.50 only as actual labour and
/// supplies, which the clerk states (`actual_costs`).
pub fn check_fee(kind: RequesterType, cents: u32, cap_cents: u32, actual_costs: bool) -> Result<u32, FieldError> {
    if kind.fee_rule() == FeeRule::CostBased && cents > MAX_FLAT_ELECTRONIC_FEE_CENTS && !actual_costs {
        return Err(FieldError::new(
            "fee",
            "A patient's own copy costs at most $6.50 as a flat fee; more only as actual labour and supplies, never search or retrieval (45 CFR 164.524(c)(4)).",
        ));
    }
    if cap_cents > 0 && cents > cap_cents {
        return Err(FieldError::new("fee", format!("The state caps this fee at {} (setting copy_fee_cap_cents).", super::form::fee_text(cap_cents))));
    }
    Ok(cents)
}

/// A request HIM logs by hand, as the intake form posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeForm {
    pub channel: String,
    /// The day the paper arrived (YYYY-MM-DD): the clock starts here.
    pub received_on: String,
    pub requester_type: String,
    pub requester_name: String,
    /// Where the copy goes: a postal address, an email, a fax number.
    pub requester_address: Option<String>,
    /// The patient as found by the search, confirmed by the clerk after the side-by-side match.
    pub patient_id: String,
    /// `all`, or section slugs separated by commas (for a court order: what the order covers).
    pub scope: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub pdf: Option<String>,
    pub fhir: Option<String>,
    pub purpose: Option<String>,
    /// Ticked checklist items, comma-separated.
    pub checklist: Option<String>,
    /// Estimated pages, for the fee estimate.
    pub pages: Option<String>,
    /// A fee typed instead of the estimate (dollars, `12.50`).
    pub fee: Option<String>,
    /// `on`: the typed fee above $6.50 is actual labour and supplies.
    pub actual_costs: Option<String>,
    /// A client-chosen key, so a retried post does not log the request twice.
    pub idempotency_key: Option<String>,
}

/// A checked intake, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub channel: Channel,
    pub received: IsoDate,
    pub requester_type: RequesterType,
    pub requester_name: String,
    pub requester_address: Option<String>,
    pub patient_id: String,
    pub request: super::form::NewRequest,
    pub purpose: Option<String>,
    pub checklist: Vec<Item>,
    pub pages: u32,
    /// A fee typed by the clerk (cents), checked against the caps by the service.
    pub fee_cents: Option<u32>,
    pub actual_costs: bool,
}

/// Dollars as typed (`12`, `12.5`, `$12.50`) to cents.
pub fn parse_dollars(text: &str) -> Option<u32> {
    let t = text.trim().trim_start_matches('$').replace(',', "");
    let (whole, cents) = match t.split_once('.') {
        Some((w, c)) if !c.is_empty() && c.len() <= 2 && c.chars().all(|ch| ch.is_ascii_digit()) => (w, if c.len() == 1 { format!("{c}0") } else { c.to_string() }),
        Some(_) => return None,
        None => (t.as_str(), "00".to_string()),
    };
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || whole.len() > 6 {
        return None;
    }
    whole.parse::<u32>().ok()?.checked_mul(100)?.checked_add(cents.parse::<u32>().ok()?)
}

impl IntakeForm {
    /// Checks every field in one step, each error on its field: a channel the clerk logs, a
    /// received date that is real and not in the future, a requester type and name, the
    /// confirmed patient, a scope and formats as the patient's own form checks them, known
    /// checklist items, a page count and a fee that are numbers.
    pub fn check(&self, today: IsoDate) -> Result<Intake, Vec<FieldError>> {
        let mut errors = Vec::new();
        let channel = Channel::parse(self.channel.trim()).filter(|c| Channel::LOGGED.contains(c));
        if channel.is_none() {
            errors.push(FieldError::new("channel", "Choose how the request arrived: mail, fax, in person, phone or email."));
        }
        let received = match IsoDate::parse(self.received_on.trim()) {
            Ok(d) if d > today => {
                errors.push(FieldError::new("received_on", "The received date cannot be in the future."));
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new("received_on", "Enter the day the request arrived as YYYY-MM-DD (the clock starts then)."));
                None
            }
        };
        let requester_type = RequesterType::parse(self.requester_type.trim());
        if requester_type.is_none() {
            errors.push(FieldError::new("requester_type", "Choose who is asking."));
        }
        let name = self.requester_name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("requester_name", "Name the requester (up to 200 characters)."));
        }
        let address = self.requester_address.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        if address.as_ref().is_some_and(|a| a.chars().count() > 500) {
            errors.push(FieldError::new("requester_address", "Keep the address under 500 characters."));
        }
        if self.patient_id.trim().is_empty() {
            errors.push(FieldError::new("patient_id", "Find the patient and confirm the match."));
        }
        let request = super::form::RequestForm { scope: self.scope.clone(), from: self.from.clone(), to: self.to.clone(), pdf: self.pdf.clone(), fhir: self.fhir.clone() }.check(today);
        let request = match request {
            Ok(r) => Some(r),
            Err(fields) => {
                errors.extend(fields);
                None
            }
        };
        let purpose = self.purpose.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_string);
        if purpose.as_ref().is_some_and(|p| p.chars().count() > 500) {
            errors.push(FieldError::new("purpose", "Keep the purpose under 500 characters."));
        }
        let checklist = match requester_type.map(|k| parse_ticked(k, self.checklist.as_deref().unwrap_or(""))) {
            Some(Ok(items)) => items,
            Some(Err(e)) => {
                errors.push(e);
                Vec::new()
            }
            None => Vec::new(),
        };
        let pages = match self.pages.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => 0,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if n <= 100_000 => n,
                _ => {
                    errors.push(FieldError::new("pages", "Enter the estimated number of pages (a whole number)."));
                    0
                }
            },
        };
        let fee_cents = match self.fee.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => match parse_dollars(f) {
                Some(c) => Some(c),
                None => {
                    errors.push(FieldError::new("fee", "Enter the fee in dollars, like 12.50."));
                    None
                }
            },
        };
        match (channel, received, requester_type, request, errors.is_empty()) {
            (Some(channel), Some(received), Some(requester_type), Some(request), true) => Ok(Intake {
                channel,
                received,
                requester_type,
                requester_name: name,
                requester_address: address,
                patient_id: self.patient_id.trim().to_string(),
                request,
                purpose,
                checklist,
                pages,
                fee_cents,
                actual_costs: self.actual_costs.is_some(),
            }),
            _ => Err(errors),
        }
    }
}

/// The patient search on the intake form: what the paper says about the patient.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSearch {
    pub name: Option<String>,
    pub birth_date: Option<String>,
    pub mrn: Option<String>,
}

/// One record the intake search found, shown beside what the paper says before the clerk
/// confirms it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientMatch {
    pub patient_id: String,
    pub name: String,
    pub birth_date: String,
    pub record_number: String,
    /// Which of the typed facts agree with the record: `name`, `birth_date`, `mrn`.
    pub agrees: Vec<String>,
    pub disagrees: Vec<String>,
}

/// What a court order, a subpoena or an agency asked for is what goes: the scope typed at
/// intake is the scope released (164.512(e)(1)(i): "only the protected health information
/// expressly authorized by such order").
pub fn scope_is_bounded(kind: RequesterType, scope: &Scope) -> bool {
    kind != RequesterType::CourtOrder || !scope.sections.is_empty() || scope.from.is_some() || scope.to.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> IsoDate {
        IsoDate::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn rule_164_512_e_1_ii_a_subpoena_needs_an_assurance_or_an_authorization() {
        let kind = RequesterType::Subpoena;
        assert_eq!(kind.missing(&[]), vec![Item::ProtectiveOrder], "the nearest alternative");
        assert_eq!(kind.missing(&[Item::NoticeAttempted]), vec![Item::NoticeSufficient, Item::NoObjection]);
        assert!(kind.missing(&[Item::ProtectiveOrder]).is_empty(), "the protective-order assurance is enough");
        assert!(kind.missing(&[Item::NoticeAttempted, Item::NoticeSufficient, Item::NoObjection]).is_empty());
        assert!(kind.missing(&AUTHORIZATION).is_empty(), "or the patient's authorization");
        assert!(waiting_for(kind, &kind.missing(&[])).is_some_and(|w| w.contains("164.512(e)(1)(ii)")));
    }

    #[test]
    fn rule_164_508_c_every_element_of_a_paper_authorization_is_on_the_checklist() {
        let kind = RequesterType::ThirdParty;
        assert_eq!(kind.checklist(), AUTHORIZATION.to_vec());
        for item in AUTHORIZATION {
            let ticked: Vec<Item> = AUTHORIZATION.into_iter().filter(|i| *i != item).collect();
            assert_eq!(kind.missing(&ticked), vec![item], "{item:?} alone missing is named");
            assert!(item.label().contains("164.508(c)"));
        }
    }

    #[test]
    fn rule_164_528_a_1_only_164_512_disclosures_are_accountable() {
        let accountable: Vec<RequesterType> = RequesterType::ALL.into_iter().filter(|k| k.accountable()).collect();
        assert_eq!(
            accountable,
            vec![RequesterType::CourtOrder, RequesterType::Subpoena, RequesterType::PublicHealth, RequesterType::HealthOversight, RequesterType::WorkersComp]
        );
        for k in RequesterType::ALL {
            assert!(!k.label().is_empty() && k.citation().starts_with("45 CFR"));
            assert!(!k.alternatives().is_empty(), "{k:?} needs something before release");
        }
    }

    #[test]
    fn rule_164_524_c_4_patient_fee_is_cost_based_and_others_follow_the_schedule_within_the_cap() {
        let row = FeeRow { flat_cents: 1500, per_page_cents: 25 };
        assert_eq!(estimate_fee(RequesterType::Patient, row, 2000, 400, 0), 650, "the flat fee is at most $6.50");
        assert_eq!(estimate_fee(RequesterType::Representative, row, 0, 400, 0), 0);
        assert_eq!(estimate_fee(RequesterType::ThirdParty, row, 0, 100, 0), 4000);
        assert_eq!(estimate_fee(RequesterType::ThirdParty, row, 0, 1000, 5000), 5000, "the state's cap");
        assert!(check_fee(RequesterType::Patient, 2000, 0, false).is_err_and(|e| e.field == "fee"));
        assert_eq!(check_fee(RequesterType::Patient, 2000, 0, true), Ok(2000), "actual labour and supplies, stated");
        assert!(check_fee(RequesterType::ThirdParty, 6000, 5000, false).is_err_and(|e| e.message.contains("$50.00")));
        assert_eq!(parse_dollars("$12.5"), Some(1250));
        assert_eq!(parse_dollars("7"), Some(700));
        assert_eq!(parse_dollars("1.234"), None);
        assert_eq!(parse_dollars("-3"), None);
    }

    #[test]
    fn an_intake_form_names_each_bad_field() {
        let today = day("2026-12-01");
        let bad = IntakeForm { channel: "portal".into(), received_on: "2026-12-02".into(), scope: "all".into(), pdf: Some("on".into()), ..IntakeForm::default() };
        let fields: Vec<String> = bad.check(today).expect_err("bad").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["channel", "received_on", "requester_type", "requester_name", "patient_id"]);
        let good = IntakeForm {
            channel: "fax".into(),
            received_on: "2026-11-20".into(),
            requester_type: "subpoena".into(),
            requester_name: " Smith  & Lee LLP ".into(),
            patient_id: "p1".into(),
            scope: "labs".into(),
            pdf: Some("on".into()),
            checklist: Some("protective_order,identity".into()),
            pages: Some("40".into()),
            ..IntakeForm::default()
        }
        .check(today)
        .expect("valid");
        assert_eq!((good.channel, good.requester_name.as_str(), good.checklist.clone(), good.pages), (Channel::Fax, "Smith & Lee LLP", vec![Item::ProtectiveOrder], 40));
        let unknown = IntakeForm { checklist: Some("bribe".into()), ..IntakeForm { requester_type: "subpoena".into(), ..IntakeForm::default() } };
        assert!(unknown.check(today).expect_err("bad").iter().any(|e| e.field == "checklist"));
    }
}
