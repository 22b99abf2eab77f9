//! The sensitive categories of a record: what the import labels, what a release reviews, and
//! what a limited proxy never sees. One list for the backend, the API and the pages.

crate::domain::text_enum! {
    /// A category that needs review before release.
    pub enum Category {
        /// Never released under the right of access; separate authorization (45 CFR 164.524(a)(1)(i), 164.508(a)(2)).
        PsychotherapyNotes = "psychotherapy_notes",
        /// Records of a Part 2 program (an encounter whose service provider is on the site's list
        /// of Part 2 programs): released to others only with a Part 2 consent, with the
        /// redisclosure notice (42 CFR 2.31, 2.32).
        Part2 = "part2",
        /// Substance use coded anywhere (ICD-10 F10-F19 and the like), outside a Part 2 program.
        SubstanceUse = "substance_use",
        MentalHealth = "mental_health",
        HivSti = "hiv_sti",
        ReproductiveHealth = "reproductive_health",
        Genetic = "genetic",
        /// Labelled restricted by the source EHR (`meta.security`, v3 Confidentiality R or V), as a
        /// minor's confidential care is: never shown to a limited proxy (45 CFR 164.502(g)(3)(i)).
        Restricted = "restricted",
    }
}

impl Category {
    /// The categories a release review lists, in order (the ones present in the scope are
    /// shown). "Restricted" is a proxy rule, not a release one.
    pub const REVIEWED: [Category; 7] = [
        Category::PsychotherapyNotes,
        Category::Part2,
        Category::SubstanceUse,
        Category::MentalHealth,
        Category::HivSti,
        Category::ReproductiveHealth,
        Category::Genetic,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Category::PsychotherapyNotes => "Psychotherapy notes",
            Category::Part2 => "Substance use disorder records from a Part 2 program (42 CFR Part 2)",
            Category::SubstanceUse => "Substance use",
            Category::MentalHealth => "Mental health",
            Category::HivSti => "HIV and sexually transmitted infections",
            Category::ReproductiveHealth => "Reproductive health",
            Category::Genetic => "Genetic information",
            Category::Restricted => "Marked confidential by the clinic (e.g. an adolescent's own care)",
        }
    }
}
