//! The account forms as the pages post them (activation with a letter's code, registration
//! without one, a staff account made by an administrator), each read in one step: every field's
//! problem at once, or the checked values. Checks that need the database (a taken address, the
//! code itself) stay with the server.

use super::{EmailAddress, FieldError, IsoDate, MAX_PASSWORD_CHARS, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A display name of 1 to 100 characters with no control characters, trimmed; `None` when the
/// name breaks that rule. The one rule for every account (`backend::auth::users` applies it too).
pub fn check_display_name(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control)).then(|| name.to_string())
}

fn field(field: &str, message: &str) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// The password's length limit, the one check a form can make before hashing (the rest need
/// the account's other fields and live in `backend::auth::password`).
fn check_password_length(password: &str, errors: &mut Vec<FieldError>) {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        errors.push(field("password", "Use at most 128 characters."));
    }
}

/// The activation page: the code from the patient's letter, their date of birth, and the new
/// account (a password, or a sign-in provider chosen instead).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationForm {
    pub code: String,
    pub birth_date: String,
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub password: String,
    /// Set when the person chose "Continue with <provider>" instead of a password.
    #[serde(default)]
    pub oidc_provider: Option<String>,
}

/// An activation form whose fields are well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub code: String,
    /// As typed, trimmed: the code's own check compares it with the record.
    pub birth_date: String,
    pub name: String,
    pub email: EmailAddress,
    pub password: String,
    pub oidc_provider: Option<String>,
}

impl ActivationForm {
    pub fn check(self) -> Result<Activation, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.code.trim().is_empty() {
            errors.push(field("code", "Enter the activation code from your letter."));
        }
        if IsoDate::parse(&self.birth_date).is_err() {
            errors.push(field("birth_date", "Enter your date of birth as YYYY-MM-DD."));
        }
        let email = EmailAddress::parse(&self.email).map_err(|e| errors.push(field("email", &e.to_string()))).ok();
        check_password_length(&self.password, &mut errors);
        let oidc_provider = self.oidc_provider.filter(|p| !p.is_empty());
        // With a provider the account is made on the way back, so the name is checked now, with
        // the rest, and kept trimmed (with a password, making the account checks it).
        let mut name = self.name;
        if oidc_provider.is_some() {
            match check_display_name(&name) {
                Some(checked) => name = checked,
                None => errors.push(field("name", "Enter a name of up to 100 characters.")),
            }
        }
        match email {
            Some(email) if errors.is_empty() => Ok(Activation {
                code: self.code,
                birth_date: self.birth_date.trim().to_string(),
                name,
                email,
                password: self.password,
                oidc_provider,
            }),
            _ => Err(errors),
        }
    }
}

/// The registration page (no activation code): HIM staff verify the person before any record
/// is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationForm {
    pub name: String,
    pub email: String,
    pub birth_date: String,
    pub phone: String,
    pub password: String,
    /// Where to go once signed in (an invitation being accepted); a path on this site only.
    #[serde(default)]
    pub next: Option<String>,
}

/// A registration whose fields are well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub email: EmailAddress,
    pub birth_date: IsoDate,
    /// Trimmed; `None` when left empty.
    pub phone: Option<String>,
    pub password: String,
    /// Where to go once signed in: `/record`, or the safe path asked for.
    pub next: String,
}

impl RegistrationForm {
    pub fn check(self) -> Result<Registration, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&self.email).map_err(|e| errors.push(field("email", &e.to_string()))).ok();
        let birth = IsoDate::parse(&self.birth_date).map_err(|e| errors.push(field("birth_date", &e.to_string()))).ok();
        let phone = self.phone.trim().to_string();
        if phone.len() > 32 || !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            errors.push(field("phone", "Enter a phone number with digits, spaces, +, - or brackets."));
        }
        check_password_length(&self.password, &mut errors);
        match (email, birth) {
            (Some(email), Some(birth_date)) if errors.is_empty() => Ok(Registration {
                name: self.name,
                email,
                birth_date,
                phone: (!phone.is_empty()).then_some(phone),
                password: self.password,
                next: match self.next.as_deref().filter(|n| !n.is_empty()) {
                    Some(n) => super::safe_next(Some(n)),
                    None => "/record".to_string(),
                },
            }),
            _ => Err(errors),
        }
    }
}

/// An administrator's new staff account: address, name and the ticked roles (checkboxes arrive
/// as `on` or not at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUserForm {
    pub email: String,
    pub name: String,
    pub him_staff: Option<String>,
    pub him_reviewer: Option<String>,
    pub administrator: Option<String>,
}

impl StaffUserForm {
    /// The address and the roles, or every problem.
    pub fn check(self) -> Result<(EmailAddress, String, BTreeSet<Role>), Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&self.email).map_err(|e| errors.push(field("email", &e.to_string()))).ok();
        let roles: BTreeSet<Role> = [(Role::HimStaff, self.him_staff), (Role::HimReviewer, self.him_reviewer), (Role::Administrator, self.administrator)]
            .into_iter()
            .filter_map(|(role, ticked)| ticked.filter(|v| !v.is_empty()).map(|_| role))
            .collect();
        if roles.is_empty() {
            errors.push(field("roles", "Tick at least one role."));
        }
        match email {
            Some(email) if errors.is_empty() => Ok((email, self.name, roles)),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    fn good_form() -> ActivationForm {
        ActivationForm {
            code: "ABCD-EFGH".into(),
            birth_date: " 1984-03-07 ".into(),
            name: "Ana".into(),
            email: "ana@example.org".into(),
            password: String::new(),
            oidc_provider: Some(String::new()),
        }
    }

    #[test]
    fn an_activation_form_reports_every_bad_field_at_once() {
        let form = ActivationForm { code: " ".into(), birth_date: "7 March".into(), email: "nope".into(), password: "x".repeat(129), ..Default::default() };
        assert_eq!(fields(form.check().expect_err("bad")), ["code", "birth_date", "email", "password"]);
        let checked = good_form().check().expect("good");
        assert_eq!(checked.birth_date, "1984-03-07");
        assert_eq!(checked.oidc_provider, None, "an empty provider means a password");
        let with_provider = ActivationForm { oidc_provider: Some("hospital".into()), ..ActivationForm::default() };
        assert!(fields(with_provider.check().expect_err("bad")).contains(&"name".to_string()), "the provider path checks the name too");
        let named = ActivationForm { oidc_provider: Some("hospital".into()), name: "  Ana León ".into(), ..good_form() };
        assert_eq!(named.check().expect("good").name, "Ana León", "kept trimmed for the trip to the provider");
    }

    #[test]
    fn a_registration_keeps_only_a_safe_next_page_and_an_empty_phone_is_none() {
        let form = RegistrationForm {
            name: "Ana".into(),
            email: "ana@example.org".into(),
            birth_date: "1984-03-07".into(),
            phone: "  ".into(),
            password: "correct horse battery".into(),
            next: Some("https://evil.example/".into()),
        };
        let checked = form.check().expect("good");
        assert_eq!(checked.phone, None);
        assert!(checked.next.starts_with('/') && !checked.next.starts_with("//"), "{}", checked.next);
        let bad = RegistrationForm { phone: "call me".into(), email: "x".into(), ..Default::default() };
        assert_eq!(fields(bad.check().expect_err("bad")), ["email", "birth_date", "phone"]);
    }

    #[test]
    fn a_staff_account_needs_an_address_and_a_role() {
        let none = StaffUserForm { email: "sam@example.org".into(), ..Default::default() };
        assert_eq!(fields(none.check().expect_err("no role")), ["roles"]);
        let form = StaffUserForm { email: "sam@example.org".into(), him_reviewer: Some("on".into()), administrator: Some(String::new()), ..Default::default() };
        let (_, _, roles) = form.check().expect("good");
        assert_eq!(roles.into_iter().collect::<Vec<_>>(), [Role::HimReviewer]);
    }
}
