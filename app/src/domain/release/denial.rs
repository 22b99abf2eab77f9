//! Saying no, in whole or in part: the denial grounds of 45 CFR 164.524(a), which of them may be
//! reviewed, the bases on which a sensitive category is withheld, and the checked decision HIM
//! records in review.

use serde::{Deserialize, Serialize};

/// The grounds on which access may be denied (45 CFR 164.524(a)(2) without review, (a)(3) with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialGround {
    PsychotherapyNotes,
    LitigationPreparation,
    InmateSafety,
    ResearchSuspended,
    ConfidentialSource,
    DangerToLifeOrSafety,
    ReferencesAnotherPerson,
    RepresentativeHarm,
}

impl DenialGround {
    pub const ALL: [DenialGround; 8] = [
        DenialGround::PsychotherapyNotes,
        DenialGround::LitigationPreparation,
        DenialGround::InmateSafety,
        DenialGround::ResearchSuspended,
        DenialGround::ConfidentialSource,
        DenialGround::DangerToLifeOrSafety,
        DenialGround::ReferencesAnotherPerson,
        DenialGround::RepresentativeHarm,
    ];

    /// The code forms and storage use.
    pub fn code(self) -> &'static str {
        match self {
            DenialGround::PsychotherapyNotes => "psychotherapy_notes",
            DenialGround::LitigationPreparation => "litigation_preparation",
            DenialGround::InmateSafety => "inmate_safety",
            DenialGround::ResearchSuspended => "research_suspended",
            DenialGround::ConfidentialSource => "confidential_source",
            DenialGround::DangerToLifeOrSafety => "danger_to_life_or_safety",
            DenialGround::ReferencesAnotherPerson => "references_another_person",
            DenialGround::RepresentativeHarm => "representative_harm",
        }
    }

    pub fn parse(code: &str) -> Option<DenialGround> {
        DenialGround::ALL.into_iter().find(|g| g.code() == code)
    }

    /// Whether the patient may have the denial reviewed by a licensed professional who took no
    /// part in it (164.524(a)(3) grounds are reviewable; (a)(2) grounds are not).
    pub fn reviewable(self) -> bool {
        matches!(self, DenialGround::DangerToLifeOrSafety | DenialGround::ReferencesAnotherPerson | DenialGround::RepresentativeHarm)
    }

    pub fn citation(self) -> &'static str {
        match self {
            DenialGround::PsychotherapyNotes => "45 CFR 164.524(a)(1)(i)",
            DenialGround::LitigationPreparation => "45 CFR 164.524(a)(1)(ii)",
            DenialGround::InmateSafety => "45 CFR 164.524(a)(2)(ii)",
            DenialGround::ResearchSuspended => "45 CFR 164.524(a)(2)(iii)",
            DenialGround::ConfidentialSource => "45 CFR 164.524(a)(2)(v)",
            DenialGround::DangerToLifeOrSafety => "45 CFR 164.524(a)(3)(i)",
            DenialGround::ReferencesAnotherPerson => "45 CFR 164.524(a)(3)(ii)",
            DenialGround::RepresentativeHarm => "45 CFR 164.524(a)(3)(iii)",
        }
    }

    /// The basis in plain language, as the denial letter states it (164.524(d)(2)(i)).
    pub fn plain_language(self) -> &'static str {
        match self {
            DenialGround::PsychotherapyNotes => "The request includes psychotherapy notes, which the law lets us withhold.",
            DenialGround::LitigationPreparation => "The information was prepared for a lawsuit or legal proceeding.",
            DenialGround::InmateSafety => "You are in a correctional institution and a copy could endanger safety there.",
            DenialGround::ResearchSuspended => "The information is part of a research study you agreed not to see until it ends.",
            DenialGround::ConfidentialSource => "The information was given to us by someone else under a promise of confidentiality.",
            DenialGround::DangerToLifeOrSafety => "A licensed health professional judged that access is reasonably likely to endanger your life or physical safety, or someone else's.",
            DenialGround::ReferencesAnotherPerson => "The information refers to another person, and a licensed health professional judged that access is reasonably likely to cause them substantial harm.",
            DenialGround::RepresentativeHarm => "A licensed health professional judged that access by the representative is reasonably likely to cause substantial harm.",
        }
    }
}

/// Whether a denial on these grounds may be reviewed: only if every ground is reviewable (a
/// non-reviewable ground cannot be reopened by a review of the others).
pub fn denial_reviewable(grounds: &[DenialGround]) -> bool {
    !grounds.is_empty() && grounds.iter().all(|g| g.reviewable())
}

/// The legal bases on which HIM may withhold a sensitive category from a copy, with the text the
/// cover page and the patient read ("Every release records what was left out and why").
/// The first four are not denials (nothing the requester may have is refused: the law does not
/// let it go to them); the rest are the denial grounds of 164.524(a), whose codes they share, and
/// a part withheld on one has a denial letter (164.524(d)(2)).
pub const WITHHOLD_BASES: [(&str, &str); 12] = [
    ("not_authorized", "45 CFR 164.508(c)(1)(i): the authorization does not name this information"),
    ("part2_no_consent", "42 CFR 2.31: no Part 2 consent from the patient covers this release"),
    ("psychotherapy_separate", "45 CFR 164.508(a)(2), (b)(3)(ii): psychotherapy notes go only under an authorization for them alone"),
    ("limited_representative", "45 CFR 164.502(g)(3): outside a limited personal representative's access (a minor's own care, or the scope the patient granted)"),
    ("psychotherapy_notes", "45 CFR 164.524(a)(1)(i): psychotherapy notes are not part of the right of access"),
    ("danger_to_life_or_safety", "45 CFR 164.524(a)(3)(i): a licensed professional judged access likely to endanger life or safety"),
    ("references_another_person", "45 CFR 164.524(a)(3)(ii): it refers to another person who could be substantially harmed"),
    ("representative_harm", "45 CFR 164.524(a)(3)(iii): a licensed professional judged access by the representative likely to cause substantial harm"),
    ("confidential_source", "45 CFR 164.524(a)(2)(v): obtained from someone else under a promise of confidentiality"),
    ("litigation_preparation", "45 CFR 164.524(a)(1)(ii): compiled for a legal proceeding"),
    ("inmate_safety", "45 CFR 164.524(a)(2)(ii): an inmate's copy could endanger safety in the institution"),
    ("research_suspended", "45 CFR 164.524(a)(2)(iii): research in progress the patient agreed not to see until it ends"),
];

/// The text of a withholding basis, or `None` for an unknown code.
pub fn withhold_basis(code: &str) -> Option<&'static str> {
    WITHHOLD_BASES.iter().find(|(c, _)| *c == code).map(|(_, text)| *text)
}

/// A sensitive category left out of a release, and why (stored with the decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    /// A sensitive-category code (`mental_health`, `substance_use`, ...).
    pub category: String,
    /// A `WITHHOLD_BASES` code.
    pub basis: String,
}

crate::domain::text_enum! {
    /// What HIM decided in review.
    pub enum DecisionKind {
        Approve = "approve",
        ApprovePartially = "approve_partially",
        Deny = "deny",
    }
}

/// A checked decision, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    pub withheld: Vec<Withheld>,
    pub grounds: Vec<DenialGround>,
    pub note: Option<String>,
}

impl Decision {
    /// Checks a decision as the review form sends it: a partial approval withholds something,
    /// each withheld category has a known basis, a denial names its ground (164.524(d)(2)(i)).
    /// Psychotherapy notes are withheld from every release without asking (164.524(a)(1)(i)).
    pub fn check(kind: DecisionKind, withheld: Vec<(String, String)>, ground: Option<&str>, note: Option<String>) -> Result<Decision, Vec<crate::domain::FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| errors.push(crate::domain::FieldError { field: field.into(), message });
        let mut out = Vec::new();
        for (category, basis) in withheld {
            if basis.is_empty() {
                continue;
            }
            if withhold_basis(&basis).is_none() {
                fail(&category, "Choose a legal basis from the list.".into());
            } else if !out.iter().any(|w: &Withheld| w.category == category) {
                out.push(Withheld { category, basis });
            }
        }
        let grounds = match (kind, ground.map(str::trim).filter(|g| !g.is_empty())) {
            (DecisionKind::Deny, None) => {
                fail("ground", "A denial must state its ground (45 CFR 164.524(d)(2)(i)).".into());
                Vec::new()
            }
            (DecisionKind::Deny, Some(g)) => match DenialGround::parse(g) {
                Some(g) => vec![g],
                None => {
                    fail("ground", "Choose a ground from the list.".into());
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        // Leaving out what the requester may not have (no authorization or consent names it) is
        // not a denial; withholding on a 164.524 ground is, in part (164.524(d)(2)).
        if kind == DecisionKind::ApprovePartially && !out.iter().any(|w| DenialGround::parse(&w.basis).is_some()) {
            fail("withheld", "A partial approval withholds at least one category on a denial ground; otherwise approve.".into());
        }
        if kind == DecisionKind::Approve && out.iter().any(|w| DenialGround::parse(&w.basis).is_some()) {
            fail("withheld", "Withholding part of the record on a denial ground is a partial approval.".into());
        }
        let note = note.map(|n| n.trim().chars().take(2000).collect::<String>()).filter(|n| !n.is_empty());
        if errors.is_empty() { Ok(Decision { kind, withheld: out, grounds, note }) } else { Err(errors) }
    }
}

/// HIM's decision as the review form posts it: `approve`, `approve_partially` or `deny`, the
/// ground of a denial, a note, and for each reviewed category either nothing (include) or the
/// basis on which it is left out. Field names are the categories' stored names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionForm {
    pub decision: String,
    pub ground: Option<String>,
    pub note: Option<String>,
    pub psychotherapy_notes: Option<String>,
    pub part2: Option<String>,
    pub substance_use: Option<String>,
    pub mental_health: Option<String>,
    pub hiv_sti: Option<String>,
    pub reproductive_health: Option<String>,
    pub genetic: Option<String>,
}

impl DecisionForm {
    /// The decision checked in one step ([`Decision::check`]); `None` when `decision` is none of
    /// the form's three choices (a malformed post, not a person's mistake).
    pub fn check(self) -> Option<Result<Decision, Vec<crate::domain::FieldError>>> {
        let kind = DecisionKind::parse(&self.decision)?;
        let bases = [self.psychotherapy_notes, self.part2, self.substance_use, self.mental_health, self.hiv_sti, self.reproductive_health, self.genetic];
        // The fields follow Category::REVIEWED, in its order.
        let withheld = crate::domain::Category::REVIEWED.iter().zip(bases).map(|(c, b)| (c.as_str().to_string(), b.unwrap_or_default())).collect();
        Some(Decision::check(kind, withheld, self.ground.as_deref(), self.note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(category: &str, basis: &str) -> (String, String) {
        (category.into(), basis.into())
    }

    #[test]
    fn an_approval_withholds_nothing_and_a_partial_one_withholds_something() {
        let ok = Decision::check(DecisionKind::Approve, vec![w("mental_health", "")], None, Some("  fine ".into())).expect("approve");
        assert!(ok.withheld.is_empty());
        assert_eq!(ok.note.as_deref(), Some("fine"));
        let refused = Decision::check(DecisionKind::Approve, vec![w("mental_health", "danger_to_life_or_safety")], None, None).expect_err("withholding on a ground is partial");
        assert_eq!(refused[0].field, "withheld");
        let not_named = Decision::check(DecisionKind::Approve, vec![w("part2", "part2_no_consent")], None, None).expect("no consent is not a denial");
        assert_eq!(not_named.withheld.len(), 1);
        let refused = Decision::check(DecisionKind::ApprovePartially, vec![w("genetic", ""), w("hiv_sti", "not_authorized")], None, None).expect_err("nothing denied");
        assert_eq!(refused[0].field, "withheld");
        let partial = Decision::check(DecisionKind::ApprovePartially, vec![w("mental_health", "references_another_person"), w("genetic", "")], None, None).expect("partial");
        assert_eq!(partial.withheld, vec![Withheld { category: "mental_health".into(), basis: "references_another_person".into() }]);
    }

    #[test]
    fn every_withheld_category_needs_a_known_basis() {
        let refused = Decision::check(DecisionKind::ApprovePartially, vec![w("hiv_sti", "because")], None, None).expect_err("unknown basis");
        assert_eq!(refused[0].field, "hiv_sti");
        for (code, text) in WITHHOLD_BASES {
            assert_eq!(withhold_basis(code), Some(text));
            assert!(text.contains("CFR"), "each basis cites its rule: {text}");
        }
    }

    #[test]
    fn a_denial_states_one_known_ground() {
        // 45 CFR 164.524(d)(2)(i): the letter states the basis.
        let refused = Decision::check(DecisionKind::Deny, vec![], None, None).expect_err("no ground");
        assert_eq!(refused[0].field, "ground");
        assert_eq!(Decision::check(DecisionKind::Deny, vec![], Some("whim"), None).expect_err("unknown")[0].field, "ground");
        for g in DenialGround::ALL {
            let d = Decision::check(DecisionKind::Deny, vec![], Some(g.code()), None).expect("denial");
            assert_eq!(d.grounds, vec![g]);
            assert_eq!(DenialGround::parse(g.code()), Some(g));
        }
    }

    #[test]
    fn the_posted_review_form_is_checked_in_one_step() {
        assert_eq!(DecisionForm { decision: "maybe".into(), ..DecisionForm::default() }.check(), None, "not a choice the form offers");
        let partial = DecisionForm { decision: "approve_partially".into(), genetic: Some("references_another_person".into()), ..DecisionForm::default() };
        let decision = partial.check().expect("a known decision").expect("valid");
        assert_eq!(decision.kind, DecisionKind::ApprovePartially);
        assert!(decision.withheld.iter().any(|w| w.category == "genetic" && w.basis == "references_another_person"), "{decision:?}");
        let deny = DecisionForm { decision: "deny".into(), ..DecisionForm::default() }.check().expect("a known decision");
        assert!(deny.is_err_and(|fields| fields.iter().any(|f| f.field == "ground")), "a denial names its ground");
    }
}

