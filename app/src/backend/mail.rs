//! Outgoing mail (password-reset links). Through an SMTP server when one is configured; with none,
//! in development the message is written to the log so a developer can follow the link, and in
//! production nothing is sent and a warning says so. Message bodies are never logged in
//! production: they carry one-time links.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How mail leaves the portal.
#[derive(Clone)]
pub enum Mailer {
    Smtp { transport: Box<AsyncSmtpTransport<Tokio1Executor>>, from: Mailbox },
    /// Development without a mail server: messages go to the log.
    Log,
    /// Production without a mail server: nothing can be sent.
    Disabled,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Smtp { .. } => "Mailer::Smtp",
            Mailer::Log => "Mailer::Log",
            Mailer::Disabled => "Mailer::Disabled",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail address: {0}")]
    Address(String),
    #[error("building the message failed: {0}")]
    Build(String),
    #[error("sending failed: {0}")]
    Send(String),
    #[error("invalid SMTP URL: {0}")]
    Config(String),
}

/// Only the kind of failure and the server's reply code are kept: the full text can quote the
/// recipient's address.
fn send_failure(e: lettre::transport::smtp::Error) -> MailError {
    let kind = if e.is_permanent() { "permanent" } else if e.is_transient() { "transient" } else { "connection or protocol" };
    let code = e.status().map(|c| format!(" (reply {c})")).unwrap_or_default();
    MailError::Send(format!("{kind} failure{code}"))
}

impl Mailer {
    /// `smtp_url` like `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465`, as lettre reads it.
    pub fn new(smtp_url: Option<&str>, from: &str, development: bool) -> Result<Self, MailError> {
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Config(e.to_string()))?
                    .build();
                let from = from.parse().map_err(|_| MailError::Address(from.to_string()))?;
                Ok(Mailer::Smtp { transport: Box::new(transport), from })
            }
            None if development => Ok(Mailer::Log),
            None => Ok(Mailer::Disabled),
        }
    }

    /// A message with files attached (a copy sent through the Direct relay, which signs and
    /// encrypts it for the recipient's Direct address). Never logged with its files.
    pub async fn send_files(&self, to: &str, subject: &str, body: String, files: &[(String, &'static str, Vec<u8>)]) -> Result<(), MailError> {
        use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
        match self {
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = to.parse().map_err(|_| MailError::Address("recipient".into()))?;
                let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body));
                for (name, content_type, bytes) in files {
                    let kind = ContentType::parse(content_type).map_err(|e| MailError::Build(e.to_string()))?;
                    parts = parts.singlepart(Attachment::new(name.clone()).body(bytes.clone(), kind));
                }
                let message = Message::builder().from(from.clone()).to(to).subject(subject).multipart(parts).map_err(|e| MailError::Build(e.to_string()))?;
                transport.send(message).await.map(|_| ()).map_err(send_failure)
            }
            Mailer::Log => {
                tracing::info!(subject, files = files.len(), "no mail server configured (development): a message with files was not sent");
                Ok(())
            }
            Mailer::Disabled => Err(MailError::Send("no mail server is configured".into())),
        }
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        match self {
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = to.parse().map_err(|_| MailError::Address("recipient".into()))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .body(body)
                    .map_err(|e| MailError::Build(e.to_string()))?;
                transport.send(message).await.map(|_| ()).map_err(send_failure)
            }
            Mailer::Log => {
                // Development only (the settings never choose this in production).
                tracing::info!(subject, "no mail server configured (development): the message follows\n{body}");
                Ok(())
            }
            Mailer::Disabled => {
                tracing::warn!(subject, "no mail server configured: a message could not be sent (set smtp_url)");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_mail_server_only_development_logs_messages() {
        assert!(matches!(Mailer::new(None, "a@b.c", true), Ok(Mailer::Log)));
        assert!(matches!(Mailer::new(None, "a@b.c", false), Ok(Mailer::Disabled)), "production never logs links");
        assert!(matches!(Mailer::new(Some("smtp://127.0.0.1:2525"), "Portal <a@b.c>", false), Ok(Mailer::Smtp { .. })));
        assert!(matches!(Mailer::new(Some("smtp://127.0.0.1:2525"), "not an address", false), Err(MailError::Address(_))));
        assert!(matches!(Mailer::new(Some("ftp://x"), "a@b.c", false), Err(MailError::Config(_))));
    }
}
