//! The authorization a release to someone else needs (45 CFR 164.508(c)): the form as typed and
//! the complete, valid authorization only its check can make.

use crate::domain::IsoDate;
use serde::{Deserialize, Serialize};

/// The authorization form for a release to someone else, as typed (45 CFR 164.508(c)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationForm {
    /// A specific description of the information (164.508(c)(1)(i)).
    pub description: String,
    pub recipient_name: String,
    pub recipient_address: String,
    pub purpose: String,
    /// An expiration date (YYYY-MM-DD) ...
    pub expires_on: String,
    /// ... or an expiration event.
    pub expiry_event: String,
    /// The signature: the typed full name ...
    pub signature_name: String,
    /// ... and the box "I sign this authorization" ticked.
    pub consent: bool,
    /// The required statements, each acknowledged (164.508(c)(2)).
    pub ack_revocation: bool,
    pub ack_no_conditioning: bool,
    pub ack_redisclosure: bool,
    /// Set when a representative signs: their authority (164.508(c)(1)(vi)).
    pub representative_authority: Option<String>,
    /// The sensitive categories the authorization names explicitly (164.508(c)(1)(i); for
    /// Part 2 records, the explicit description of 42 CFR 2.31(a)(3)). Others are left out.
    #[serde(default)]
    pub sensitive: Vec<crate::domain::Category>,
}

/// A complete, valid authorization. Only `AuthorizationForm::check` makes one, so an invalid
/// form cannot be submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub form: AuthorizationForm,
    pub signed_on: IsoDate,
}

impl AuthorizationForm {
    /// Checks every element of 164.508(c); each missing one is named in plain language.
    /// `expected_signer` is the requester's name on the account (the signature must match it).
    pub fn check(self, today: IsoDate, expected_signer: &str) -> Result<Authorization, Vec<crate::domain::FieldError>> {
        let mut errors = Vec::new();
        let mut need = |field: &str, ok: bool, message: &str| {
            if !ok {
                errors.push(crate::domain::FieldError { field: field.into(), message: message.into() });
            }
        };
        let filled = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
        need("description", filled(&self.description, 2000), "Describe the information to be released (up to 2,000 characters).");
        need("recipient_name", filled(&self.recipient_name, 200), "Name the person or organization who will receive it.");
        need("recipient_address", filled(&self.recipient_address, 500), "Give the recipient's address or email.");
        // An address with an "@" is meant as an email: it must be one (the link goes there).
        let address = self.recipient_address.trim();
        need(
            "recipient_address",
            !address.contains('@') || crate::domain::EmailAddress::parse(address).is_ok() || address.is_empty(),
            "That email address is not valid. Check it, or give a postal address instead.",
        );
        need("purpose", filled(&self.purpose, 500), "Say why (\"at my request\" is enough).");
        let expiry_date = IsoDate::parse(&self.expires_on).ok();
        let has_event = filled(&self.expiry_event, 200);
        need(
            "expires_on",
            expiry_date.is_some_and(|d| d > today) || (self.expires_on.trim().is_empty() && has_event),
            "Give a future expiration date, or an event that ends this authorization.",
        );
        let typed = self.signature_name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let expected = expected_signer.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        need("signature_name", !typed.is_empty() && typed == expected, "Type your full name exactly as on your account to sign.");
        need("consent", self.consent, "Tick the box to sign this authorization.");
        need("ack_revocation", self.ack_revocation, "Confirm you understand you may revoke this authorization in writing.");
        need("ack_no_conditioning", self.ack_no_conditioning, "Confirm you understand your care does not depend on signing.");
        need("ack_redisclosure", self.ack_redisclosure, "Confirm you understand the recipient may share the information further.");
        if let Some(authority) = &self.representative_authority {
            need("representative_authority", filled(authority, 200), "Describe your authority to act for the patient.");
        }
        if errors.is_empty() { Ok(Authorization { form: self, signed_on: today }) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> IsoDate {
        IsoDate::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    fn complete_form() -> AuthorizationForm {
        AuthorizationForm {
            description: "All lab results from 2020".into(),
            recipient_name: "Dr. Ana Gomez".into(),
            recipient_address: "ana.gomez@clinic.example".into(),
            purpose: "At my request".into(),
            expires_on: "2027-01-01".into(),
            expiry_event: String::new(),
            signature_name: "lucas  León".into(),
            consent: true,
            ack_revocation: true,
            ack_no_conditioning: true,
            ack_redisclosure: true,
            representative_authority: None,
            sensitive: Vec::new(),
        }
    }

    #[test]
    fn rule_164_508_c_a_complete_authorization_is_valid() {
        let auth = complete_form().check(day("2026-11-24"), "Lucas León").expect("valid");
        assert_eq!(auth.signed_on, day("2026-11-24"));
        let mut by_event = complete_form();
        by_event.expires_on = String::new();
        by_event.expiry_event = "When my claim is settled".into();
        assert!(by_event.check(day("2026-11-24"), "Lucas León").is_ok());
    }

    #[test]
    fn rule_164_508_b_2_a_form_missing_any_element_is_refused_naming_it() {
        type Breaker = fn(&mut AuthorizationForm);
        let cases: [(&str, Breaker); 11] = [
            ("description", |f| f.description.clear()),
            ("recipient_name", |f| f.recipient_name = " ".into()),
            ("recipient_address", |f| f.recipient_address.clear()),
            ("purpose", |f| f.purpose.clear()),
            ("expires_on", |f| f.expires_on = "2020-01-01".into()),
            ("signature_name", |f| f.signature_name = "Someone Else".into()),
            ("consent", |f| f.consent = false),
            ("ack_revocation", |f| f.ack_revocation = false),
            ("ack_no_conditioning", |f| f.ack_no_conditioning = false),
            ("ack_redisclosure", |f| f.ack_redisclosure = false),
            ("representative_authority", |f| f.representative_authority = Some(String::new())),
        ];
        for (field, breaker) in cases {
            let mut form = complete_form();
            breaker(&mut form);
            let errors = form.check(day("2026-11-24"), "Lucas León").expect_err(field);
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec![field]);
        }
        let mut neither = complete_form();
        neither.expires_on.clear();
        assert!(neither.check(day("2026-11-24"), "Lucas León").is_err(), "an expiry date or event is required");
    }

    #[test]
    fn a_recipient_email_must_be_an_email_and_a_postal_address_is_fine() {
        for bad in ["ana@", "@clinic.example", "ana gomez@clinic.example", "ana@@clinic.example"] {
            let mut form = complete_form();
            form.recipient_address = bad.into();
            let errors = form.check(day("2026-11-24"), "Lucas León").expect_err(bad);
            assert_eq!(errors[0].field, "recipient_address", "{bad}");
            assert!(errors[0].message.contains("not valid"), "{bad}");
        }
        let mut postal = complete_form();
        postal.recipient_address = "12 Harbour Road, Springfield, IL 62701".into();
        assert!(postal.check(day("2026-11-24"), "Lucas León").is_ok());
    }
}
